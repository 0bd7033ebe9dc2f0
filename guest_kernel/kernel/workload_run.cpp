#include "kernel/workload_run.h"

#include "abi/asi_emu_abi.h"
#include "arch/x86/cpu.h"
#include "kernel/asi_warmup.h"
#include "kernel/cost_model.h"
#include "kernel/panic.h"
#include "kernel/smp.h"
#include "kernel/tick.h"
#include "kernel/workload_hooks.h"
#include "lib/placement_new.h"
#include "lib/printf.h"
#include "mm/asi/asi.h"
#include "mm/kernel_page_allocator.h"
#include "mm/phys.h"
#include "mm/pte.h"
#include "mm/set_memory.h"
#include "mm/tlb.h"
#include "workload/workload.h"

namespace kernel_workload {
namespace {

constexpr uint32_t kLiveBlocks = 4096;
using LiveTable = workload::LiveTable<kLiveBlocks>;
// CPU 0's table is static; the other CPUs' come from the page allocator (one order-5 block
// each), so that a one-CPU kernel does not carry 64 of them.
constexpr uint32_t kLiveTableOrder = 5;
static_assert(sizeof(LiveTable) <= (mm::pte::k4K << kLiveTableOrder));
constinit LiveTable g_boot_live{};

// The allocator as one CPU's workload sees it: one CPU (so workload::Runner's random choice
// of a CPU is always 0 and draws the same random numbers as on a one-CPU kernel), mapped to
// the calling CPU's per-CPU lists.
class ThisCpuAllocator {
public:
    static constexpr uint64_t kAllocFailed = mm::KernelPageAllocator::kAllocFailed;
    ThisCpuAllocator(mm::KernelPageAllocator& a, uint32_t cpu) : a_(a), cpu_(cpu) {}
    uint64_t alloc_pages(uint32_t, uint32_t order, page_alloc::gfp_t gfp, uint64_t owner) {
        return a_.alloc_pages(cpu_, order, gfp, owner);
    }
    void free_pages(uint32_t, uint64_t pa, uint32_t order) { a_.free_pages(cpu_, pa, order); }
    uint64_t run_deferred_work() { return a_.run_deferred_work(); }
    uint64_t nr_free_pages() const { return a_.nr_free_pages(); }
    uint32_t cpus() const { return 1; }

private:
    mm::KernelPageAllocator& a_;
    uint32_t cpu_;
};

// One CPU's share of the workload.
struct Share {
    LiveTable* live;
    uint64_t live_pa;  // the table's block (0: static)
    GuestHooks hooks;
    workload::WorkloadParams params;
    workload::WorkloadSummary summary;
    uint64_t tsc;
};
constinit Share g_shares[smp::kMaxCpus]{};
constinit const config::BootConfig* g_config = nullptr;
constinit smp::Barrier g_start{};

// On every online CPU: CPU 0 directly, the others in their idle loop (smp::post).
void run_share(void*) {
    const uint32_t cpu = smp::this_cpu();
    Share& s = g_shares[cpu];
    ThisCpuAllocator alloc(mm::page_allocator(), cpu);
    g_start.wait();  // start together, so that the CPUs' operations interleave
    const uint64_t t0 = x86::rdtsc();
    s.summary = workload::run_workload(alloc, g_config->workload, s.params, *s.live, s.hooks);
    asi::exit(asi::ExitReason::kOther);
    s.tsc = x86::rdtsc() - t0;
}

// The CPUs' summaries as one (a one-CPU run's own values).
workload::WorkloadSummary combine(uint64_t online) {
    workload::WorkloadSummary t;
    bool first = true;
    for (uint32_t cpu = 0; cpu < smp::kMaxCpus; ++cpu) {
        if (!(online & smp::cpu_bit(cpu))) continue;
        const workload::WorkloadSummary& s = g_shares[cpu].summary;
        t.ops += s.ops;
        t.allocs += s.allocs;
        t.frees += s.frees;
        t.failures += s.failures;
        t.sensitive_allocs += s.sensitive_allocs;
        t.allocated_pages += s.allocated_pages;
        t.peak_live_pages += s.peak_live_pages;
        t.phases += s.phases;
        t.deferred_runs += s.deferred_runs;
        t.digest = first ? s.digest : workload::detail::mix(t.digest, s.digest);
        first = false;
    }
    return t;
}

struct Totals {
    mm::tlb::Counters tlb;
    asi::Counters asi;
};

Totals totals(uint64_t online) {
    Totals t;
    for (uint32_t cpu = 0; cpu < smp::kMaxCpus; ++cpu) {
        if (!(online & smp::cpu_bit(cpu))) continue;
        t.tlb.add(mm::tlb::counters_of(cpu));
        t.asi.add(asi::counters_of(cpu));
    }
    return t;
}

// A latency histogram's median and p99 (TSC units: guest instructions on asi-emu, whose TSC
// is the instruction count).
void print_latency(const char* what, const page_alloc::Histogram& h) {
    kprintf("asi-guest:   %s cost: median %lu, p99 %lu, max %lu TSC ticks (= guest instructions on asi-emu; "
            "%lu samples)\n",
            what, h.median(), h.p99(), h.max(), h.count());
}

cost_model::Events cost_events(const Totals& tot) {
    const mm::tlb::Counters& t = tot.tlb;
    const asi::Counters& a = tot.asi;
    const page_alloc::Metrics& m = mm::page_allocator().metrics();
    cost_model::Events e;
    e.single_address_flushes = t.invlpg + t.invpcid_address;
    e.context_flushes = t.invpcid_context + t.cr3_flushing;
    e.shootdown_ipis = t.ipis_sent;
    e.zeroed_pages = m.asi_zeroed_pages;  // __GFP_ZERO costs the same with or without ASI
    e.asi_transitions = a.entries + a.exits_total();
    e.l1d_flushes = a.l1d_flushes;
    e.branch_predictor_barriers = a.branch_predictor_barriers;
    e.asi_page_faults = a.exits[static_cast<uint32_t>(asi::ExitReason::kPageFault)];
    return e;
}

void print_cpu_lines(uint64_t online) {
    for (uint32_t cpu = 0; cpu < smp::kMaxCpus; ++cpu) {
        if (!(online & smp::cpu_bit(cpu))) continue;
        const Share& s = g_shares[cpu];
        const mm::tlb::Counters& t = mm::tlb::counters_of(cpu);
        const asi::Counters& a = asi::counters_of(cpu);
        kprintf("asi-guest:   cpu%u: %lu ops (seed %#lx, digest %#lx, %lu TSC); shootdown IPIs %lu sent, %lu "
                "received (%lu flushed), %lu avoided (target outside ASI), %lu flushes at ASI entry; ASI %lu "
                "entries, %lu exits; %lu ticks\n",
                cpu, s.summary.ops, s.params.seed, s.summary.digest, s.tsc, t.ipis_sent, t.ipis_received,
                t.remote_flushes, t.ipis_avoided, t.generation_flushes, a.entries, a.exits_total(), tick::ticks(cpu));
    }
}

void print_summary(const config::BootConfig& cfg, uint64_t online, const WarmupStats& w, uint64_t tsc) {
    const workload::WorkloadSummary s = combine(online);
    const page_alloc::Metrics& m = mm::page_allocator().metrics();
    const Totals tot = totals(online);
    const mm::tlb::Counters& t = tot.tlb;
    const asi::Counters& a = tot.asi;
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
    kprintf("asi-guest:   TLB flushes (all CPUs): %lu allocator requests; INVLPG %lu, INVPCID single-address %lu, "
            "single-context %lu, flushing CR3 loads %lu, deferred %lu; no-flush CR3 loads %lu; IPIs %lu\n",
            m.tlb_flushes, t.invlpg, t.invpcid_address, t.invpcid_context, t.cr3_flushing, t.deferred, t.cr3_noflush,
            t.ipis_sent);
    kprintf("asi-guest:   TLB shootdown on %u CPU(s): %lu IPIs sent, %lu handled (%lu flushed something); %lu "
            "avoided because the target was outside ASI, %lu flushes done at ASI entry instead\n",
            static_cast<uint32_t>(__builtin_popcountll(online)), t.ipis_sent, t.ipis_received, t.remote_flushes,
            t.ipis_avoided, t.generation_flushes);
    kprintf("asi-guest:   ASI: %lu entries; exits: page fault %lu, return to user %lu, context switch %lu, "
            "TLB flush %lu, other %lu; mitigations: %lu predictor barriers, %lu L1D flushes\n",
            a.entries, a.exits[0], a.exits[1], a.exits[2], a.exits[3], a.exits[4], a.branch_predictor_barriers,
            a.l1d_flushes);
    const mm::SetMemoryStats& sm = mm::set_memory_stats();
    kprintf("asi-guest:   set_memory_ro: %lu pages sealed, %lu 2 MiB splits, %lu collapses\n", sm.sealed,
            sm.splits, sm.collapses);
    print_latency("alloc", m.alloc_cost);
    print_latency("free", m.free_cost);
    print_cpu_lines(online);
    const cost_model::Estimate e = cost_model::estimate(cost_events(tot));
    const uint64_t per_alloc = m.allocs ? e.total() / m.allocs : 0;
    kprintf("asi-guest:   estimated ASI cost (kernel/cost_model.h): %lu cycles = flushes %lu + IPIs %lu + "
            "zeroing %lu + transitions %lu; %lu cycles per allocation\n",
            e.total(), e.flushes, e.ipis, e.zeroing, e.transitions, per_alloc);
    kprintf("asi-guest:   self-checks: %lu bad pages (page_asi_mapping_bad), zone invariants verified\n",
            mm::page_allocator_arch().bad_pages());
}

// Each online CPU's table, parameters and hooks.
void prepare_shares(const config::BootConfig& cfg, uint64_t online) {
    const uint32_t n = static_cast<uint32_t>(__builtin_popcountll(online));
    uint32_t rank = 0;
    for (uint32_t cpu = 0; cpu < smp::kMaxCpus; ++cpu) {
        if (!(online & smp::cpu_bit(cpu))) continue;
        Share& s = g_shares[cpu];
        if (cpu == 0) {
            s.live = &g_boot_live;
        } else {
            s.live_pa = mm::alloc_pages(kLiveTableOrder, page_alloc::GFP_KERNEL);
            if (s.live_pa == 0) panic("workload: no memory for CPU %u's live table", cpu);
            s.live = new (mm::phys_to_virt(s.live_pa)) LiveTable();
        }
        s.params.ops = cfg.ops / n + (rank < cfg.ops % n ? 1 : 0);
        s.params.seed = cfg.seed + cpu;
        ++rank;
    }
}

}  // namespace

uint32_t run(const config::BootConfig& cfg) {
    mm::KernelPageAllocator& alloc = mm::page_allocator();
    const uint64_t online = smp::online_mask();
    const uint32_t n = static_cast<uint32_t>(__builtin_popcountll(online));
    kprintf("asi-guest: running workload=%s ops=%lu seed=%#lx asi=%s policy=%s%s%s on %u CPU(s)\n",
            workload::workload_name(cfg.workload), cfg.ops, cfg.seed, asi::enabled() ? "on" : "off",
            alloc.policy_name(), cfg.bug != asi::Bug::kNone ? " asi.bug=" : "",
            cfg.bug != asi::Bug::kNone ? asi::bug_name(cfg.bug) : "", n);
    const uint64_t t0 = x86::rdtsc();
    const bool changes = asi::enabled() && cfg.policy == config::Policy::kFreetype;
    const WarmupStats warmup = asi_warmup(g_shares[0].hooks, changes);

    g_config = &cfg;
    prepare_shares(cfg, online);
    for (uint32_t cpu = 1; cpu < smp::kMaxCpus; ++cpu)
        if (online & smp::cpu_bit(cpu)) smp::post(cpu, run_share, nullptr);
    run_share(nullptr);
    for (uint32_t cpu = 1; cpu < smp::kMaxCpus; ++cpu)
        if (online & smp::cpu_bit(cpu)) smp::wait_done(cpu);
    const uint64_t tsc = x86::rdtsc() - t0;

    for (uint32_t cpu = 1; cpu < smp::kMaxCpus; ++cpu)
        if (g_shares[cpu].live_pa != 0) mm::free_pages(g_shares[cpu].live_pa, kLiveTableOrder);
    alloc.verify();  // panics on a broken invariant
    print_summary(cfg, online, warmup, tsc);
    return mm::page_allocator_arch().bad_pages() == 0 ? asi_abi::kGuestExitSuccess : asi_abi::kGuestExitFailure;
}

}  // namespace kernel_workload
