// The kernel's page allocator against the real restricted page tables. The first two are
// ports of the series' KUnit tests (arch/x86/mm/asi_test.c, "mm: asi_test: smoke test for
// [non]sensitive page allocs"): a __GFP_SENSITIVE page is absent from the restricted direct
// map and a plain one present; after allocating more than half of memory nonsensitive,
// allocating the same amount sensitive still gives every page the right mapping (which
// forces pageblocks to change sensitivity both ways). The third is a random stress of
// orders 0-3 with random sensitivity that checks no frame is ever handed out twice. The last
// checks asi::rmap::all_mapped_as() (the allocator's fast page_asi_mapping_bad()) against
// is_mapped() frame by frame.
#include "mm/asi/asi.h"
#include "mm/asi/restricted_map.h"
#include "mm/kernel_mappings.h"
#include "mm/kernel_page_allocator.h"
#include "mm/phys.h"
#include "mm/pte.h"
#include "test/tests.h"
#include "workload/prng.h"

namespace tests {
namespace {

using page_alloc::GFP_KERNEL;
using page_alloc::GFP_USER;

bool mapped(uint64_t pa) { return asi::rmap::built() && asi::rmap::is_mapped(pa); }

bool all_mapped_as_by_frame(uint64_t pa, uint64_t count, bool want) {
    for (uint64_t i = 0; i < count; ++i)
        if (asi::rmap::is_mapped(pa + i * mm::pte::k4K) != want) return false;
    return true;
}

// Allocated pages chained through their first word (the test runs unrestricted, so it may
// write into sensitive pages too); returns the count.
struct PageChain {
    uint64_t head = 0;
    uint64_t count = 0;
    void push(uint64_t pa) {
        *static_cast<uint64_t*>(mm::phys_to_virt(pa)) = head;
        head = pa;
        ++count;
    }
    uint64_t pop() {
        const uint64_t pa = head;
        head = *static_cast<uint64_t*>(mm::phys_to_virt(pa));
        --count;
        return pa;
    }
};

// Allocates `n` order-0 pages with gfp, checking each one's restricted mapping; frees them
// all. Returns the number of mismatches, or ~0 when memory ran out.
uint64_t alloc_check_free(ktap::Test& t, uint64_t n, page_alloc::gfp_t gfp, bool want_mapped) {
    PageChain chain;
    uint64_t wrong = 0;
    bool exhausted = false;
    while (chain.count < n) {
        const uint64_t pa = mm::alloc_pages(0, gfp);
        if (pa == 0) {
            exhausted = true;
            break;
        }
        if (asi::enabled() && mapped(pa) != want_mapped && wrong++ < 3)
            t.fail("pfn %#lx (gfp %#lx): restricted mapping %d", pa >> 12, gfp, mapped(pa));
        chain.push(pa);
    }
    while (chain.count > 0) mm::free_pages(chain.pop(), 0);
    return exhausted ? ~0ull : wrong;
}

}  // namespace

void asi_sensitive_unmapped(ktap::Test& t) {
    if (!asi::enabled()) return t.skip("ASI is off (asi=off)");
    const uint64_t sensitive = mm::alloc_pages(0, GFP_USER, 1);
    const uint64_t plain = mm::alloc_pages(0, GFP_KERNEL);
    if (!KT_EXPECT(t, sensitive != 0 && plain != 0)) return;
    KT_EXPECT(t, !mapped(sensitive));
    KT_EXPECT(t, mapped(plain));
    // The unrestricted direct map maps both.
    KT_EXPECT(t, mm::kernel_page_table().translate(mm::direct_map_va(sensitive)).present);
    KT_EXPECT(t, mm::kernel_page_table().translate(mm::direct_map_va(plain)).present);
    const mm::KernelPageAllocator& a = mm::page_allocator();
    if (a.policy().splits_by_sensitivity()) {
        KT_EXPECT(t, a.pageblock_sensitivity(sensitive) == page_alloc::Sensitivity::kSensitive);
        KT_EXPECT(t, a.pageblock_sensitivity(plain) == page_alloc::Sensitivity::kNonsensitive);
        // Not present, PS kept, frame number inverted (L1TF) unless asi.l1tf_invert=off.
        const uint64_t block = sensitive & ~(mm::pte::k2M - 1);
        const uint64_t pde = *asi::rmap::pde_slot(block);
        t.diag("sensitive pfn %#lx: restricted PDE %#lx", sensitive >> 12, pde);
        KT_EXPECT(t, !(pde & mm::pte::kPresent));
        KT_EXPECT(t, pde & mm::pte::kHuge);
        const uint64_t named = pde & mm::pte::kAddrMask2M;
        if (asi::rmap::options().l1tf_invert) KT_EXPECT_EQ(t, named, ~block & mm::pte::kAddrMask2M);
        else KT_EXPECT_EQ(t, named, block);
    }
    mm::free_pages(sensitive, 0);
    mm::free_pages(plain, 0);
}

void asi_half_memory(ktap::Test& t) {
    if (!asi::enabled()) return t.skip("ASI is off (asi=off)");
    mm::KernelPageAllocator& a = mm::page_allocator();
    const uint64_t n = a.nr_free_pages() / 2 + 1;
    const page_alloc::Metrics& m = a.metrics();
    const uint64_t to_s = m.flips_to_sensitive, to_ns = m.flips_to_nonsensitive;
    const uint64_t wrong_ns = alloc_check_free(t, n, GFP_KERNEL, true);
    const uint64_t wrong_s = alloc_check_free(t, n, GFP_USER, false);
    KT_EXPECT_EQ(t, wrong_ns, 0u);
    KT_EXPECT_EQ(t, wrong_s, 0u);
    a.verify();
    t.diag("%lu pages each way; pageblock flips: %lu to sensitive, %lu to nonsensitive", n,
           m.flips_to_sensitive - to_s, m.flips_to_nonsensitive - to_ns);
    if (a.policy().splits_by_sensitivity()) KT_EXPECT(t, m.flips_to_sensitive > to_s);
}

void page_alloc_stress(ktap::Test& t) {
    mm::KernelPageAllocator& a = mm::page_allocator();
    // One bit per frame of the zone's span, in pages of the allocator itself.
    const uint64_t bytes = (a.span_pages() + 7) / 8;
    uint32_t bitmap_order = 0;
    while ((mm::pte::k4K << bitmap_order) < bytes) ++bitmap_order;
    const uint64_t bitmap_pa = mm::alloc_pages(bitmap_order, GFP_KERNEL | page_alloc::kGfpZero);
    if (!KT_EXPECT(t, bitmap_pa != 0)) return;
    uint8_t* owned = static_cast<uint8_t*>(mm::phys_to_virt(bitmap_pa));

    struct Block {
        uint64_t pa;
        uint32_t order;
    };
    static Block live[512];
    uint32_t n = 0;
    workload::Prng rng(0x57e55);
    uint64_t allocs = 0, twice = 0, wrong_map = 0;
    auto bit = [&](uint64_t pa) { return (pa >> 12) - a.base_pfn(); };
    for (uint32_t op = 0; op < 4000; ++op) {
        if (n > 0 && (n == 512 || rng.chance(45))) {
            const uint32_t i = rng.below(n);
            const Block b = live[i];
            live[i] = live[--n];
            for (uint64_t p = 0; p < (1ull << b.order); ++p) {
                const uint64_t f = bit(b.pa + p * mm::pte::k4K);
                owned[f / 8] &= static_cast<uint8_t>(~(1u << (f % 8)));
            }
            mm::free_pages(b.pa, b.order);
            continue;
        }
        const uint32_t order = rng.below(4);
        const bool sensitive = rng.chance(50);
        const uint64_t pa = mm::alloc_pages(order, sensitive ? GFP_USER : GFP_KERNEL, sensitive ? 2 : 0);
        if (pa == 0) continue;
        ++allocs;
        for (uint64_t p = 0; p < (1ull << order); ++p) {
            const uint64_t f = bit(pa + p * mm::pte::k4K);
            if (owned[f / 8] & (1u << (f % 8))) ++twice;
            owned[f / 8] |= static_cast<uint8_t>(1u << (f % 8));
            if (asi::enabled() && mapped(pa + p * mm::pte::k4K) == sensitive) ++wrong_map;
        }
        live[n++] = Block{pa, order};
    }
    while (n > 0) {
        --n;
        mm::free_pages(live[n].pa, live[n].order);
    }
    mm::free_pages(bitmap_pa, bitmap_order);
    a.verify();
    KT_EXPECT_EQ(t, twice, 0u);
    KT_EXPECT_EQ(t, wrong_map, 0u);
    KT_EXPECT_EQ(t, mm::page_allocator_arch().bad_pages(), 0u);
    t.diag("%lu allocations of orders 0-3, %lu frames handed out twice", allocs, twice);
}

void rmap_all_mapped_as(ktap::Test& t) {
    if (!asi::enabled() || !asi::rmap::built()) return t.skip("ASI is off (asi=off)");
    const mm::KernelPageAllocator& a = mm::page_allocator();
    const uint64_t base = a.base_pfn() << page_alloc::kPageShift;
    const uint64_t end = base + (a.span_pages() << page_alloc::kPageShift);
    constexpr uint64_t kBlock = mm::pte::k2M / mm::pte::k4K;
    // Whole pageblocks, pairs of them, and ranges that start or end inside one.
    const struct { uint64_t offset, count; } ranges[] = {
        {0, kBlock}, {0, 2 * kBlock}, {1, kBlock - 1}, {0, kBlock + 3}, {kBlock - 2, 4}, {5, 1}};
    uint64_t compared = 0, with_a_table = 0, disagreements = 0;
    for (uint64_t block = base; block < end; block += mm::pte::k2M) {
        const uint64_t pde = *asi::rmap::pde_slot(block);
        if ((pde & mm::pte::kPresent) && !(pde & mm::pte::kHuge)) ++with_a_table;
        for (const auto& r : ranges) {
            const uint64_t pa = block + r.offset * mm::pte::k4K;
            if (pa + r.count * mm::pte::k4K > end) continue;
            for (int w = 0; w < 2; ++w) {
                const bool want = w == 1;
                ++compared;
                if (asi::rmap::all_mapped_as(pa, r.count, want) != all_mapped_as_by_frame(pa, r.count, want)) {
                    if (++disagreements <= 3)
                        t.diag("disagree: [%#lx, +%lu pages) mapped=%d", pa, r.count, want ? 1 : 0);
                }
            }
        }
    }
    t.diag("%lu ranges compared, %lu pageblocks mapped through a page table", compared, with_a_table);
    KT_EXPECT_EQ(t, disagreements, 0u);
    KT_EXPECT(t, with_a_table > 0);  // the 2 MiB around the kernel image at least
}

}  // namespace tests
