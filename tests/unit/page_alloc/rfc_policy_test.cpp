// asi.policy=rfc: the January 2025 RFC. Free pages are unmapped, nonsensitive allocations
// are mapped at the end, freed nonsensitive pages wait for the worker, which batches the
// flush.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "harness.h"

namespace page_alloc_test {
namespace {

HarnessConfig rfc() {
    HarnessConfig c;
    c.policy = "rfc";
    return c;
}

size_t count(const std::vector<Call>& calls, Op op) {
    return std::count_if(calls.begin(), calls.end(), [op](const Call& c) { return c.op == op; });
}

TEST(Rfc, EveryFreePageStartsUnmapped) {
    auto h = std::make_unique<Harness>(rfc());
    for (uint64_t p = 0; p < h->arch->mapped.size(); ++p) ASSERT_FALSE(h->arch->mapped[p]);
    EXPECT_FALSE(h->alloc.policy().splits_by_sensitivity());
}

TEST(Rfc, NonsensitiveAllocationMappedAtTheEndAt4KiB) {
    auto h = std::make_unique<Harness>(rfc());
    const size_t mark = h->arch->calls.size();
    uint64_t pa = h->get(2, GFP_KERNEL);
    auto calls = h->arch->since(mark);
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[0], (Call{Op::kMapPages, pa, 4}));
    EXPECT_EQ(calls[1].op, Op::kTrace);
    EXPECT_EQ(calls[1].a, asi_abi::kTracePageAlloc);
    // A sensitive allocation maps nothing and flushes nothing.
    const size_t mark2 = h->arch->calls.size();
    uint64_t s = h->get(1, GFP_USER);
    EXPECT_EQ(h->arch->since(mark2, false).size(), 0u);
    EXPECT_FALSE(h->arch->mapped[s >> 12]);
    h->expect_clean();
}

TEST(Rfc, FreedNonsensitivePagesWaitForTheWorkerWhichFlushesOncePerBatch) {
    auto h = std::make_unique<Harness>(rfc());
    std::vector<uint64_t> pas;
    for (int i = 0; i < 30; ++i) pas.push_back(h->get(i % 4, GFP_KERNEL, i % 4));
    uint64_t pages = 0;
    for (uint64_t pa : pas) pages += 1ull << h->live[pa].order;
    const uint64_t free_before = h->alloc.nr_free_pages();
    const size_t mark = h->arch->calls.size();
    for (uint64_t pa : pas) h->put(pa, 3);
    // Nothing unmapped, nothing flushed, nothing allocatable yet: the pages are still
    // mapped and possibly cached.
    EXPECT_EQ(h->arch->since(mark, false).size(), 0u);
    EXPECT_EQ(h->alloc.deferred_pages(), pages);
    EXPECT_EQ(h->alloc.nr_free_pages(), free_before);
    for (uint64_t pa : pas) EXPECT_TRUE(h->arch->mapped[pa >> 12]);
    const size_t mark2 = h->arch->calls.size();
    EXPECT_EQ(h->alloc.run_deferred_work(), pages);
    auto calls = h->arch->since(mark2, false);
    EXPECT_EQ(count(calls, Op::kUnmapPages), pas.size());
    ASSERT_EQ(count(calls, Op::kFlush), 1u);
    EXPECT_EQ(calls.back().op, Op::kFlush);  // after every unmap
    for (uint64_t pa : pas) {
        EXPECT_FALSE(h->arch->mapped[pa >> 12]);
        EXPECT_EQ(h->arch->may_cache[pa >> 12], 0u);
    }
    EXPECT_EQ(h->alloc.nr_free_pages(), free_before + pages);
    EXPECT_EQ(h->alloc.metrics().deferred_batches, 1u);
    // An empty queue does nothing.
    const size_t mark3 = h->arch->calls.size();
    EXPECT_EQ(h->alloc.run_deferred_work(), 0u);
    EXPECT_EQ(h->arch->calls.size(), mark3);
    h->expect_clean();
    h->expect_all_free();
}

TEST(Rfc, SensitiveFreesNeedNoWorkerAndAreZeroedBeforeNonsensitiveReuse) {
    HarnessConfig c = rfc();
    c.ranges = {{16 * kMiB, 4 * kMiB}};
    auto h = std::make_unique<Harness>(c);
    std::vector<uint64_t> pas;
    for (int i = 0; i < 16; ++i) pas.push_back(h->get(0, GFP_USER));
    const size_t mark = h->arch->calls.size();
    for (uint64_t pa : pas) h->put(pa);
    EXPECT_EQ(h->arch->since(mark, false).size(), 0u);
    EXPECT_EQ(h->alloc.deferred_pages(), 0u);
    h->alloc.drain_all_pcp();
    // Take the whole zone nonsensitive: exactly the 16 secret frames get zeroed, each
    // before it is mapped (the fake flags any secret frame that gets mapped).
    uint64_t n = 0;
    while (h->get(0, GFP_KERNEL) != Alloc::kAllocFailed) ++n;
    EXPECT_EQ(n, h->usable_pages());
    EXPECT_EQ(h->alloc.metrics().asi_zeroed_pages, 16u);
    h->expect_clean();
    h->expect_all_free();
}

TEST(Rfc, BlockingAllocationRunsTheWorkerWhenMemoryIsQueued) {
    HarnessConfig c = rfc();
    c.ranges = {{16 * kMiB, 4 * kMiB}};
    auto h = std::make_unique<Harness>(c);
    std::vector<uint64_t> pas;
    uint64_t pa;
    while ((pa = h->get(3, GFP_KERNEL)) != Alloc::kAllocFailed) pas.push_back(pa);
    for (uint64_t p : pas) h->put(p);
    EXPECT_EQ(h->alloc.deferred_pages(), h->usable_pages());
    // An atomic caller may not wait for the worker; a blocking one runs it.
    EXPECT_EQ(h->get(0, GFP_ATOMIC), Alloc::kAllocFailed);
    EXPECT_NE(h->get(0, GFP_KERNEL), Alloc::kAllocFailed);
    EXPECT_EQ(h->alloc.metrics().deferred_batches, 1u);
    EXPECT_EQ(h->arch->count(Op::kFlush), 1u);
    h->expect_clean();
    h->expect_all_free();
}

TEST(Rfc, NoStaleMappingIsEverHandedOutAsSensitive) {
    auto h = std::make_unique<Harness>(rfc());
    std::mt19937_64 rng(3);
    for (int i = 0; i < 6000; ++i) {
        if (i % 97 == 0) h->alloc.run_deferred_work();
        if (h->live.empty() || rng() % 5 < 3) {
            gfp_t gfp = rng() % 2 ? GFP_USER : GFP_KERNEL;
            h->get(rng() % 4, gfp, rng() % 4);  // the fake checks R1/R2 at each handout
        } else {
            h->put(std::next(h->live.begin(), rng() % h->live.size())->first, rng() % 4);
        }
    }
    EXPECT_GT(h->alloc.metrics().deferred_batches, 10u);
    EXPECT_EQ(h->alloc.metrics().tlb_flushes, h->alloc.metrics().deferred_batches);
    h->expect_clean();
    h->expect_all_free();
}

}  // namespace
}  // namespace page_alloc_test
