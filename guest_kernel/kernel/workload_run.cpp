#include "kernel/workload_run.h"

#include "abi/asi_emu_abi.h"
#include "arch/x86/cpu.h"
#include "kernel/asi_warmup.h"
#include "kernel/cost_model.h"
#include "kernel/workload_hooks.h"
#include "lib/printf.h"
#include "mm/asi/asi.h"
#include "mm/kernel_page_allocator.h"
#include "mm/set_memory.h"
#include "mm/tlb.h"
#include "workload/workload.h"

namespace kernel_workload {
namespace {

constexpr uint32_t kLiveBlocks = 4096;
constinit workload::LiveTable<kLiveBlocks> g_live{};
constinit GuestHooks g_hooks{};

// A latency histogram's median and p99 (TSC units: guest instructions on asi-emu, whose TSC
// is the instruction count).
void print_latency(const char* what, const page_alloc::Histogram& h) {
    kprintf("asi-guest:   %s cost: median %lu, p99 %lu, max %lu TSC ticks (= guest instructions on asi-emu; "
            "%lu samples)\n",
            what, h.median(), h.p99(), h.max(), h.count());
}

cost_model::Events cost_events() {
    const mm::tlb::Counters& t = mm::tlb::counters();
    const asi::Counters& a = asi::counters();
    const page_alloc::Metrics& m = mm::page_allocator().metrics();
    cost_model::Events e;
    e.single_address_flushes = t.invlpg + t.invpcid_address;
    e.context_flushes = t.invpcid_context + t.cr3_flushing;
    e.shootdown_ipis = 0;  // one CPU: every flush is local
    e.zeroed_pages = m.asi_zeroed_pages;  // __GFP_ZERO costs the same with or without ASI
    e.asi_transitions = a.entries + a.exits_total();
    e.l1d_flushes = a.l1d_flushes;
    e.branch_predictor_barriers = a.branch_predictor_barriers;
    e.asi_page_faults = a.exits[static_cast<uint32_t>(asi::ExitReason::kPageFault)];
    return e;
}

void print_summary(const config::BootConfig& cfg, const workload::WorkloadSummary& s, const WarmupStats& w,
                   uint64_t tsc) {
    const page_alloc::Metrics& m = mm::page_allocator().metrics();
    const mm::tlb::Counters& t = mm::tlb::counters();
    const asi::Counters& a = asi::counters();
    kprintf("asi-guest: workload %s done: %lu ops, digest %#lx, %lu TSC\n", workload::workload_name(cfg.workload),
            s.ops, s.digest, tsc);
    kprintf("asi-guest:   workload: %lu allocations (%lu sensitive), %lu frees, %lu failed, peak %lu live pages\n",
            s.allocs, s.sensitive_allocs, s.frees, s.failures, s.peak_live_pages);
    kprintf("asi-guest:   warm-up: %lu allocations, %lu pageblocks made nonsensitive\n", w.allocations,
            w.pageblocks_made_nonsensitive);
    kprintf("asi-guest:   allocator: %lu allocations (%lu pages, %lu sensitive), %lu frees (%lu pages), %lu failed\n",
            m.allocs, m.allocated_pages, m.sensitive_allocs, m.frees, m.freed_pages, m.failures);
    kprintf("asi-guest:   pageblock flips: %lu to sensitive, %lu to nonsensitive (%lu changes, %lu refused for "
            "ALLOC_NOBLOCK)\n",
            m.flips_to_sensitive, m.flips_to_nonsensitive, m.sensitivity_changes, m.noblock_refusals);
    kprintf("asi-guest:   pages zeroed: %lu for ASI (held secrets), %lu for __GFP_ZERO\n", m.asi_zeroed_pages,
            m.gfp_zeroed_pages);
    kprintf("asi-guest:   restricted map: %lu pages mapped, %lu unmapped; rfc worker: %lu queued, %lu batches\n",
            m.restricted_mapped_pages, m.restricted_unmapped_pages, m.deferred_queued_pages, m.deferred_batches);
    kprintf("asi-guest:   TLB flushes (local): %lu allocator requests; INVLPG %lu, INVPCID single-address %lu, "
            "single-context %lu, flushing CR3 loads %lu, deferred %lu; no-flush CR3 loads %lu; IPIs 0\n",
            m.tlb_flushes, t.invlpg, t.invpcid_address, t.invpcid_context, t.cr3_flushing, t.deferred, t.cr3_noflush);
    kprintf("asi-guest:   ASI: %lu entries; exits: page fault %lu, return to user %lu, context switch %lu, "
            "TLB flush %lu, other %lu; mitigations: %lu predictor barriers, %lu L1D flushes\n",
            a.entries, a.exits[0], a.exits[1], a.exits[2], a.exits[3], a.exits[4], a.branch_predictor_barriers,
            a.l1d_flushes);
    const mm::SetMemoryStats& sm = mm::set_memory_stats();
    kprintf("asi-guest:   set_memory_ro: %lu pages sealed, %lu 2 MiB splits, %lu collapses\n", sm.sealed,
            sm.splits, sm.collapses);
    print_latency("alloc", m.alloc_cost);
    print_latency("free", m.free_cost);
    const cost_model::Estimate e = cost_model::estimate(cost_events());
    const uint64_t per_alloc = m.allocs ? e.total() / m.allocs : 0;
    kprintf("asi-guest:   estimated ASI cost (kernel/cost_model.h): %lu cycles = flushes %lu + IPIs %lu + "
            "zeroing %lu + transitions %lu; %lu cycles per allocation\n",
            e.total(), e.flushes, e.ipis, e.zeroing, e.transitions, per_alloc);
    kprintf("asi-guest:   self-checks: %lu bad pages (page_asi_mapping_bad), zone invariants verified\n",
            mm::page_allocator_arch().bad_pages());
}

}  // namespace

uint32_t run(const config::BootConfig& cfg) {
    mm::KernelPageAllocator& alloc = mm::page_allocator();
    kprintf("asi-guest: running workload=%s ops=%lu seed=%#lx asi=%s policy=%s%s%s\n",
            workload::workload_name(cfg.workload), cfg.ops, cfg.seed, asi::enabled() ? "on" : "off",
            alloc.policy_name(), cfg.bug != asi::Bug::kNone ? " asi.bug=" : "",
            cfg.bug != asi::Bug::kNone ? asi::bug_name(cfg.bug) : "");
    const uint64_t t0 = x86::rdtsc();
    const bool changes = asi::enabled() && cfg.policy == config::Policy::kFreetype;
    const WarmupStats warmup = asi_warmup(g_hooks, changes);

    workload::WorkloadParams params;
    params.ops = cfg.ops;
    params.seed = cfg.seed;
    const workload::WorkloadSummary s = workload::run_workload(alloc, cfg.workload, params, g_live, g_hooks);
    asi::exit(asi::ExitReason::kOther);
    const uint64_t tsc = x86::rdtsc() - t0;

    alloc.verify();  // panics on a broken invariant
    print_summary(cfg, s, warmup, tsc);
    return mm::page_allocator_arch().bad_pages() == 0 ? asi_abi::kGuestExitSuccess : asi_abi::kGuestExitFailure;
}

}  // namespace kernel_workload
