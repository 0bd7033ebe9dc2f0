// The rfc policy's deferred unmap (January 2025 RFC, policy_rfc.h) on real restricted page
// tables, whatever policy the kernel booted with: a second allocator with the rfc policy
// runs over one 2 MiB block taken from the kernel's allocator, whose restricted mapping is
// given a 4 KiB page table of its own. Checked: a nonsensitive allocation is mapped at its
// end; a sensitive one is not; a freed nonsensitive page stays mapped and queued until the
// worker runs, which unmaps it and flushes once for the batch; a freed sensitive page goes
// straight back; a formerly sensitive page is zeroed before it is mapped again.
#include "mm/asi/asi.h"
#include "mm/asi/restricted_map.h"
#include "mm/guest_arch.h"
#include "mm/kernel_page_allocator.h"
#include "mm/page_alloc/policy_rfc.h"
#include "mm/phys.h"
#include "mm/pte.h"
#include "mm/tlb.h"
#include "mm/tlb_shootdown.h"
#include "lib/string.h"
#include "test/tests.h"

namespace tests {
namespace {

using page_alloc::GFP_KERNEL;
using page_alloc::GFP_USER;
using SubAllocator = page_alloc::PageAllocator<mm::GuestArch>;

constexpr uint64_t kBlockPages = mm::pte::k2M / mm::pte::k4K;

constinit mm::GuestArch g_arch{};
constinit page_alloc::RfcPolicy<mm::GuestArch> g_rfc{};
constinit SubAllocator g_sub{};
// A 2 MiB block lies inside one max-order-aligned 4 MiB span.
constinit page_alloc::Page g_pages[page_alloc::kMaxOrderPages]{};

bool mapped(uint64_t pa) { return asi::rmap::is_mapped(pa); }
uint64_t word(uint64_t pa) { return *static_cast<volatile uint64_t*>(mm::phys_to_virt(pa)); }

void run(ktap::Test& t, uint64_t block) {
    page_alloc::PhysRange range{block, mm::pte::k2M};
    page_alloc::AllocatorConfig<mm::GuestArch> cfg;
    cfg.pages = g_pages;
    cfg.span = page_alloc::zone_span_for(&range, 1);
    cfg.ranges = &range;
    cfg.range_count = 1;
    cfg.policy = &g_rfc;
    if (!KT_EXPECT_EQ(t, cfg.span.pages, page_alloc::kMaxOrderPages)) return;
    g_sub.init(g_arch, cfg);
    g_arch.attach(&g_sub);
    const page_alloc::Metrics& m = g_sub.metrics();

    const uint64_t p = g_sub.alloc_pages(0, 0, GFP_KERNEL, 0);
    const uint64_t s = g_sub.alloc_pages(0, 0, GFP_USER, 1);
    if (!KT_EXPECT(t, p != SubAllocator::kAllocFailed && s != SubAllocator::kAllocFailed)) return;
    KT_EXPECT(t, mapped(p));
    KT_EXPECT(t, !mapped(s));
    *static_cast<volatile uint64_t*>(mm::phys_to_virt(s)) = 0x5ec2e7;  // a secret: residue once freed

    const uint64_t flushes = m.tlb_flushes;
    g_sub.free_pages(0, p, 0);
    KT_EXPECT_EQ(t, g_sub.deferred_pages(), 1u);
    KT_EXPECT(t, g_sub.page_state(p) == page_alloc::PageState::kDeferred);
    KT_EXPECT(t, mapped(p));  // still mapped, still possibly cached: not allocatable yet
    KT_EXPECT_EQ(t, m.tlb_flushes, flushes);

    KT_EXPECT_EQ(t, g_sub.run_deferred_work(), 1u);
    KT_EXPECT(t, !mapped(p));
    KT_EXPECT_EQ(t, g_sub.deferred_pages(), 0u);
    KT_EXPECT_EQ(t, m.tlb_flushes, flushes + 1);
    KT_EXPECT_EQ(t, m.deferred_batches, 1u);

    g_sub.free_pages(0, s, 0);  // sensitive: already unmapped, back at once
    KT_EXPECT_EQ(t, g_sub.deferred_pages(), 0u);

    // The per-CPU list hands s out again (LIFO): the RFC zeroes it before mapping it.
    const uint64_t zeroed = m.asi_zeroed_pages;
    const uint64_t q = g_sub.alloc_pages(0, 0, GFP_KERNEL, 0);
    KT_EXPECT_EQ(t, q, s);
    KT_EXPECT(t, mapped(q));
    KT_EXPECT_EQ(t, word(q), 0u);
    KT_EXPECT_EQ(t, m.asi_zeroed_pages, zeroed + 1);
    g_sub.free_pages(0, q, 0);
    g_sub.drain_all_pcp();
    g_sub.run_deferred_work();
    g_sub.verify();
    KT_EXPECT_EQ(t, g_sub.nr_free_pages(), kBlockPages);
    KT_EXPECT_EQ(t, g_arch.bad_pages(), 0u);
    t.diag("block %#lx: %lu flushes, %lu batches, %lu pages zeroed", block, m.tlb_flushes, m.deferred_batches,
           m.asi_zeroed_pages);
}

}  // namespace

void rfc_deferred_unmap(ktap::Test& t) {
    if (!asi::enabled()) return t.skip("ASI is off (asi=off)");
    const uint64_t block = mm::alloc_pages(page_alloc::kPageblockOrder, GFP_KERNEL);
    if (!KT_EXPECT(t, block != 0)) return;
    const uint64_t va = mm::direct_map_va(block);
    // A 4 KiB table of its own (the kernel's rfc policy has one already).
    uint64_t pt = 0;
    if (*asi::rmap::pde_slot(block) & mm::pte::kHuge) {
        pt = mm::alloc_pages(0, GFP_KERNEL);
        if (!KT_EXPECT(t, pt != 0 && asi::rmap::split_pageblock(block, pt))) return;
        mm::tlb::flush_restricted_all_cpus(va, kBlockPages);
    }
    // The rfc policy starts with every free page unmapped.
    asi::rmap::unmap_pages(block, kBlockPages);
    mm::tlb::flush_restricted_all_cpus(va, kBlockPages);

    run(t, block);

    // Back to the kernel: no residue may become mapped, so zero first, then map
    // (not present -> present needs no flush), then collapse, flush, free the table.
    memset(mm::phys_to_virt(block), 0, mm::pte::k2M);
    asi::rmap::map_pages(block, kBlockPages);
    if (pt != 0) {
        KT_EXPECT_EQ(t, asi::rmap::collapse_pageblock(block), pt);
        mm::tlb::flush_all_now_all_cpus();  // no CPU may keep a PDE-cache entry naming pt
        mm::free_pages(pt, 0);
    }
    mm::free_pages(block, page_alloc::kPageblockOrder);
}

}  // namespace tests
