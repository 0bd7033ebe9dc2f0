// The buddy allocator underneath every policy: usable ranges, splitting and merging,
// migratetype fallback, per-CPU lists, invariant checks.
#include <gtest/gtest.h>

#include <iterator>
#include <random>
#include <set>

#include "harness.h"

namespace page_alloc_test {
namespace {

HarnessConfig off_config() {
    HarnessConfig c;
    c.policy = "off";
    return c;
}

TEST(Buddy, InitFreesExactlyTheUsableFrames) {
    HarnessConfig c = off_config();
    // Holes, unaligned edges and a partial pageblock.
    c.ranges = {{16 * kMiB + 100, 3 * kMiB}, {24 * kMiB, 4 * kMiB + 12 * 1024}, {40 * kMiB, 8 * kMiB}};
    auto h = std::make_unique<Harness>(c);
    EXPECT_EQ(h->alloc.usable_pages(), h->usable_pages());
    EXPECT_EQ(h->alloc.nr_free_pages(), h->usable_pages());
    h->alloc.verify();
    // Take every frame: all inside the ranges (checked by the harness), none twice.
    uint64_t n = 0;
    while (h->get(0, GFP_KERNEL, static_cast<uint32_t>(n % 4)) != Alloc::kAllocFailed) ++n;
    EXPECT_EQ(n, h->usable_pages());
    EXPECT_EQ(h->alloc.nr_free_pages(), 0u);
    h->expect_all_free();
    h->expect_clean();
}

TEST(Buddy, SplitThenMergeRestoresMaxOrderBlocks) {
    auto h = std::make_unique<Harness>(off_config());
    const uint64_t max_blocks = h->usable_pages() >> kMaxOrder;
    std::mt19937_64 rng(5);
    for (int i = 0; i < 2000; ++i) {
        if (h->live.empty() || rng() % 3 != 0) h->get(rng() % 4, GFP_KERNEL, rng() % 4);
        else h->put(std::next(h->live.begin(), rng() % h->live.size())->first, rng() % 4);
    }
    h->expect_all_free();
    for (uint64_t i = 0; i < max_blocks; ++i)
        ASSERT_NE(h->get(kMaxOrder, GFP_KERNEL), Alloc::kAllocFailed) << i;
    EXPECT_EQ(h->get(kMaxOrder, GFP_KERNEL), Alloc::kAllocFailed);
    h->expect_all_free();
}

TEST(Buddy, InvalidRequestsFailWithoutSideEffects) {
    auto h = std::make_unique<Harness>(off_config());
    const size_t calls = h->arch->calls.size();
    EXPECT_EQ(h->alloc.alloc_pages(0, kMaxOrder + 1, GFP_KERNEL, 0), Alloc::kAllocFailed);
    EXPECT_EQ(h->alloc.alloc_pages(0, 0, kGfpMovable | kGfpReclaimable, 0), Alloc::kAllocFailed);
    EXPECT_EQ(h->alloc.alloc_pages(0, 0, 1ull << 40, 0), Alloc::kAllocFailed);
    EXPECT_EQ(h->alloc.alloc_pages(99, 0, GFP_KERNEL, 0), Alloc::kAllocFailed);
    EXPECT_EQ(h->alloc.metrics().invalid_requests, 4u);
    EXPECT_EQ(h->alloc.metrics().failures, 4u);
    EXPECT_EQ(h->arch->calls.size(), calls);
}

TEST(Buddy, DoubleFreeAndWrongOrderPanic) {
    auto h = std::make_unique<Harness>(off_config());
    uint64_t pa = h->alloc.alloc_pages(0, 2, GFP_KERNEL, 0);
    EXPECT_THROW(h->alloc.free_pages(0, pa, 1), FakePanic);
    EXPECT_THROW(h->alloc.free_pages(0, pa + 4096, 0), FakePanic);
    h->alloc.free_pages(0, pa, 2);
    EXPECT_THROW(h->alloc.free_pages(0, pa, 2), FakePanic);
    EXPECT_THROW(h->alloc.free_pages(0, 0x1000, 0), FakePanic);  // outside the zone
}

TEST(Buddy, AllocationAndFreeTracepointsCarryGfpAndOwner) {
    auto h = std::make_unique<Harness>(off_config());
    const size_t mark = h->arch->calls.size();
    uint64_t pa = h->alloc.alloc_pages(1, 3, GFP_USER | kGfpMovable, 42);
    h->alloc.free_pages(2, pa, 3);
    auto calls = h->arch->since(mark);
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[0], (Call{Op::kTrace, asi_abi::kTracePageAlloc, pa, 3, GFP_USER | kGfpMovable, 42}));
    EXPECT_EQ(calls[1], (Call{Op::kTrace, asi_abi::kTracePageFree, pa, 3, GFP_USER | kGfpMovable, 42}));
}

TEST(Buddy, GfpZeroZeroesTheBlock) {
    auto h = std::make_unique<Harness>(off_config());
    const size_t mark = h->arch->calls.size();
    uint64_t pa = h->get(2, GFP_KERNEL | kGfpZero);
    auto calls = h->arch->since(mark, false);
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0], (Call{Op::kZero, pa, 4}));
    EXPECT_EQ(h->alloc.metrics().gfp_zeroed_pages, 4u);
}

TEST(Buddy, FallbackClaimsPageblockForUnmovable) {
    auto h = std::make_unique<Harness>(off_config());
    // Every pageblock starts movable (Linux's memmap_init); an unmovable request falls
    // back and, being unmovable, claims the whole pageblock.
    uint64_t pa = h->get(0, GFP_KERNEL);
    EXPECT_EQ(h->alloc.pageblock_migratetype(pa), Migratetype::kUnmovable);
    EXPECT_GE(h->alloc.metrics().pageblocks_claimed, 1u);
    EXPECT_GE(h->alloc.metrics().fallback_allocs, 1u);
    // A movable request is served from the movable lists, not this pageblock.
    uint64_t mv = h->get(0, GFP_HIGHUSER_MOVABLE & ~kGfpSensitive);
    EXPECT_EQ(h->alloc.pageblock_migratetype(mv), Migratetype::kMovable);
    EXPECT_NE(mv / kPageblockBytes, pa / kPageblockBytes);
    h->alloc.verify();
    h->expect_all_free();
}

TEST(Buddy, PerCpuListsBatchAndDrainAboveHigh) {
    auto h = std::make_unique<Harness>(off_config());
    std::vector<uint64_t> pas;
    for (int i = 0; i < 40; ++i) pas.push_back(h->get(0, GFP_KERNEL, 1));
    EXPECT_EQ(h->alloc.metrics().pcp_refills, 5u);  // 40 pages in batches of 8
    for (uint64_t pa : pas) h->put(pa, 1);
    // pcp_high is 32: the 33rd free drains a batch of 8.
    EXPECT_EQ(h->alloc.metrics().pcp_drained_pages, 8u);
    EXPECT_EQ(h->alloc.nr_free_pages(), h->usable_pages());
    h->alloc.verify();
}

TEST(Buddy, VerifyCatchesCorruptedMetadata) {
    auto h = std::make_unique<Harness>(off_config());
    uint64_t pa = h->get(3, GFP_KERNEL);
    h->put(pa);
    h->alloc.verify();
    // Make a free tail page look allocated.
    h->pages[(pa >> 12) + 1 - h->alloc.base_pfn()].set_state(PageState::kAllocTail);
    EXPECT_THROW(h->alloc.verify(), FakePanic);
}

// The free blocks of the maximal order, as indices into the harness's page array, in address
// order (init frees a fresh zone in max-order blocks, all on one list).
std::vector<size_t> max_order_free_blocks(Harness& h) {
    std::vector<size_t> found;
    for (size_t i = 0; i < h.pages.size(); ++i)
        if (h.pages[i].state() == PageState::kBuddy && h.pages[i].order == kMaxOrder) found.push_back(i);
    return found;
}

TEST(Buddy, VerifyCatchesABrokenBackLink) {
    auto h = std::make_unique<Harness>(off_config());
    std::vector<size_t> blocks = max_order_free_blocks(*h);
    ASSERT_GE(blocks.size(), 3u);
    h->alloc.verify();
    for (size_t i : blocks) {
        if (h->pages[i].prev == kNilIndex) continue;  // the list's head
        h->pages[i].prev = h->pages[h->pages[i].prev].prev;
        break;
    }
    EXPECT_THROW(h->alloc.verify(), FakePanic);
}

TEST(Buddy, VerifyCatchesAListCutShort) {
    auto h = std::make_unique<Harness>(off_config());
    std::vector<size_t> blocks = max_order_free_blocks(*h);
    ASSERT_GE(blocks.size(), 3u);
    for (size_t i : blocks) {
        if (h->pages[i].prev == kNilIndex || h->pages[i].next == kNilIndex) continue;  // an inner member
        h->pages[i].next = kNilIndex;  // the walk ends here: neither the tail nor the count agree
        break;
    }
    EXPECT_THROW(h->alloc.verify(), FakePanic);
}

// The fuzzer's scoped check: outside the scope a block's tails are not walked, but its list
// links still are.
TEST(Buddy, ScopedVerifyWalksTailsInScopeAndLinksEverywhere) {
    auto h = std::make_unique<Harness>(off_config());
    std::vector<size_t> blocks = max_order_free_blocks(*h);
    ASSERT_GE(blocks.size(), 3u);
    const uint64_t corrupt_pfn = h->alloc.base_pfn() + blocks[1];
    h->pages[blocks[1] + 7].set_state(PageState::kAllocTail);
    const auto all_but_corrupt = [&](uint64_t pfn, uint32_t) { return pfn != corrupt_pfn; };
    EXPECT_NO_THROW(h->alloc.verify(all_but_corrupt));
    EXPECT_THROW(h->alloc.verify([](uint64_t, uint32_t) { return true; }), FakePanic);
    h->pages[blocks[1] + 7].set_state(PageState::kFreeTail);
    EXPECT_NO_THROW(h->alloc.verify());

    std::swap(h->pages[blocks[1]].prev, h->pages[blocks[1]].next);
    EXPECT_THROW(h->alloc.verify(all_but_corrupt), FakePanic);
    EXPECT_THROW(h->alloc.verify([](uint64_t, uint32_t) { return false; }), FakePanic);
}

TEST(Buddy, ZoneSpanIsMaxOrderAligned) {
    const PhysRange r[] = {{5 * kMiB + 3, 1 * kMiB}, {100 * kMiB, 4096}, {200 * kMiB, 0}};
    ZoneSpan s = zone_span_for(r, 3);
    EXPECT_EQ(s.base_pfn, 4 * kMiB >> 12);
    EXPECT_EQ((s.base_pfn + s.pages) << 12, 104 * kMiB);
}

}  // namespace
}  // namespace page_alloc_test
