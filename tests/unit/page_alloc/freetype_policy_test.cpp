// asi.policy=freetype: the September 2025 series. Each test asserts the TLB and mapping
// consequence of an operation (DESIGN 9), not the path the code took.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "harness.h"

namespace page_alloc_test {
namespace {

HarnessConfig freetype(Sensitivity initial) {
    HarnessConfig c;
    c.initial = initial;
    return c;
}

// Index of the first call matching op (and trace kind), or -1.
long find(const std::vector<Call>& calls, Op op, uint64_t kind = 0, size_t from = 0) {
    for (size_t i = from; i < calls.size(); ++i)
        if (calls[i].op == op && (op != Op::kTrace || calls[i].a == kind)) return static_cast<long>(i);
    return -1;
}

size_t count(const std::vector<Call>& calls, Op op) {
    return std::count_if(calls.begin(), calls.end(), [op](const Call& c) { return c.op == op; });
}

// Port of the series' KUnit smoke test (arch/x86/mm/asi_test.c): a __GFP_SENSITIVE page is
// absent from the restricted tables and a plain one present.
TEST(Freetype, SensitivePageAbsentPlainPagePresent) {
    for (Sensitivity initial : {Sensitivity::kSensitive, Sensitivity::kNonsensitive}) {
        auto h = std::make_unique<Harness>(freetype(initial));
        uint64_t s = h->get(0, GFP_KERNEL | kGfpSensitive);
        uint64_t n = h->get(0, GFP_KERNEL);
        EXPECT_FALSE(h->arch->is_mapped_restricted(s));
        EXPECT_TRUE(h->arch->is_mapped_restricted(n));
        EXPECT_EQ(h->alloc.pageblock_sensitivity(s), Sensitivity::kSensitive);
        EXPECT_EQ(h->alloc.pageblock_sensitivity(n), Sensitivity::kNonsensitive);
        h->expect_clean();
        h->expect_all_free();
    }
}

TEST(Freetype, ChangeToSensitiveUnmapsThenFlushesOnceBeforeHandout) {
    auto h = std::make_unique<Harness>(freetype(Sensitivity::kNonsensitive));
    const size_t mark = h->arch->calls.size();
    uint64_t pa = h->get(0, GFP_USER);
    auto calls = h->arch->since(mark);
    const uint64_t pb = pa & ~(kPageblockBytes - 1);
    // Exactly: unmap the pageblock, one flush of it, the flip and the allocation.
    ASSERT_EQ(count(calls, Op::kUnmapBlock), 1u);
    ASSERT_EQ(count(calls, Op::kFlush), 1u);
    EXPECT_EQ(count(calls, Op::kZero), 0u);
    EXPECT_EQ(count(calls, Op::kMapBlock), 0u);
    long unmap = find(calls, Op::kUnmapBlock), flush = find(calls, Op::kFlush);
    long alloc = find(calls, Op::kTrace, asi_abi::kTracePageAlloc);
    EXPECT_LT(unmap, flush);
    EXPECT_LT(flush, alloc);
    EXPECT_EQ(calls[unmap].a, pb);
    EXPECT_EQ(calls[flush].a, pb);
    EXPECT_EQ(calls[flush].b, kPageblockPages);
    // Every CPU may have cached the mapping, and the one flush reached all of them.
    EXPECT_EQ(calls[flush].c, h->arch->all_cpus());
    for (uint64_t p = pb >> 12; p < (pb >> 12) + kPageblockPages; ++p) {
        EXPECT_EQ(h->arch->may_cache[p], 0u);
        EXPECT_FALSE(h->arch->mapped[p]);
    }
    long flip = find(calls, Op::kTrace, asi_abi::kTracePageblockFlip);
    ASSERT_GE(flip, 0);
    EXPECT_EQ(calls[flip].b, pb);
    EXPECT_EQ(calls[flip].c, 1u);
    long ftrace = find(calls, Op::kTrace, asi_abi::kTraceTlbFlush);
    ASSERT_GE(ftrace, 0);
    EXPECT_EQ(calls[ftrace].b & 0xff, kTlbFlushRestrictedRange);
    EXPECT_EQ(calls[ftrace].b >> 8, kPageblockPages);
    EXPECT_EQ(calls[ftrace].c, 1u);  // the restricted PCID
    EXPECT_EQ(calls[ftrace].d, asi_abi::kDirectMapBase + pb);
    EXPECT_EQ(calls[ftrace].e, h->arch->all_cpus());
    EXPECT_EQ(h->alloc.metrics().flips_to_sensitive, 1u);
    EXPECT_EQ(h->alloc.metrics().tlb_flushes, 1u);
    // The rest of the pageblock went to the sensitive lists: the next sensitive pages need
    // no change at all.
    const size_t mark2 = h->arch->calls.size();
    for (int i = 0; i < 100; ++i) h->get(0, GFP_USER, i % 4);
    EXPECT_EQ(h->arch->since(mark2, false).size(), 0u);
    h->expect_clean();
    h->expect_all_free();
}

TEST(Freetype, ChangeOfMaxOrderBlockFlipsEveryPageblockWithOneFlush) {
    auto h = std::make_unique<Harness>(freetype(Sensitivity::kNonsensitive));
    const size_t mark = h->arch->calls.size();
    uint64_t pa = h->get(kMaxOrder, GFP_USER);
    auto calls = h->arch->since(mark);
    EXPECT_EQ(count(calls, Op::kUnmapBlock), 2u);
    ASSERT_EQ(count(calls, Op::kFlush), 1u);
    EXPECT_EQ(calls[find(calls, Op::kFlush)].a, pa);
    EXPECT_EQ(calls[find(calls, Op::kFlush)].b, kMaxOrderPages);
    EXPECT_EQ(h->alloc.metrics().flips_to_sensitive, 2u);
    EXPECT_EQ(h->alloc.metrics().sensitivity_changes, 1u);
    h->expect_clean();
    h->expect_all_free();
}

TEST(Freetype, ChangeToNonsensitiveZeroesExactlyTheSecretsAndNeverFlushes) {
    HarnessConfig c = freetype(Sensitivity::kSensitive);
    c.ranges = {{16 * kMiB, 4 * kMiB}};  // two pageblocks, both sensitive
    auto h = std::make_unique<Harness>(c);
    // Hand out some sensitive pages (secrets written into them), then free them.
    std::vector<uint64_t> pas;
    for (int i = 0; i < 20; ++i) pas.push_back(h->get(i % 3, GFP_USER, i % 4));
    uint64_t secret_pages = 0;
    for (uint64_t pa : pas) secret_pages += 1ull << h->live[pa].order;
    for (uint64_t pa : pas) h->put(pa, 1);
    h->alloc.drain_all_pcp();
    // Take everything nonsensitive: both pageblocks must change.
    const size_t mark = h->arch->calls.size();
    uint64_t got = 0;
    while (h->get(0, GFP_KERNEL, 2) != Alloc::kAllocFailed) ++got;
    EXPECT_EQ(got, h->usable_pages());
    auto calls = h->arch->since(mark, false);
    EXPECT_EQ(count(calls, Op::kFlush), 0u);
    EXPECT_EQ(count(calls, Op::kUnmapBlock), 0u);
    EXPECT_EQ(count(calls, Op::kMapBlock), 2u);
    uint64_t zeroed = 0;
    for (const Call& call : calls) {
        if (call.op != Op::kZero) continue;
        zeroed += call.b;
        for (uint64_t i = 0; i < call.b; ++i) EXPECT_FALSE(h->arch->secret[(call.a >> 12) + i]);
    }
    EXPECT_EQ(zeroed, secret_pages);
    EXPECT_EQ(h->alloc.metrics().asi_zeroed_pages, secret_pages);
    // Each zero precedes the map of its pageblock (the fake's R4 rule checks content).
    EXPECT_LT(find(calls, Op::kZero), find(calls, Op::kMapBlock));
    EXPECT_EQ(h->alloc.metrics().flips_to_nonsensitive, 2u);
    h->expect_clean();
    h->expect_all_free();
}

TEST(Freetype, NoBlockNeverChangesToSensitive) {
    auto h = std::make_unique<Harness>(freetype(Sensitivity::kNonsensitive));
    const size_t mark = h->arch->calls.size();
    EXPECT_EQ(h->get(0, GFP_ATOMIC | kGfpSensitive), Alloc::kAllocFailed);
    EXPECT_EQ(h->get(3, GFP_ATOMIC | kGfpSensitive | kGfpMovable), Alloc::kAllocFailed);
    EXPECT_EQ(h->arch->since(mark).size(), 0u);
    EXPECT_EQ(h->alloc.metrics().noblock_refusals, 2u);
    // Once a blocking caller has made a sensitive pageblock, atomic callers use it.
    ASSERT_NE(h->get(0, GFP_USER), Alloc::kAllocFailed);
    EXPECT_NE(h->get(0, GFP_ATOMIC | kGfpSensitive), Alloc::kAllocFailed);
    h->expect_clean();
    h->expect_all_free();
}

TEST(Freetype, NoBlockMayChangeToNonsensitive) {
    auto h = std::make_unique<Harness>(freetype(Sensitivity::kSensitive));
    const size_t mark = h->arch->calls.size();
    ASSERT_NE(h->get(0, GFP_ATOMIC), Alloc::kAllocFailed);
    auto calls = h->arch->since(mark, false);
    EXPECT_EQ(count(calls, Op::kMapBlock), 1u);
    EXPECT_EQ(count(calls, Op::kFlush), 0u);
    EXPECT_EQ(h->alloc.metrics().flips_to_nonsensitive, 1u);
    h->expect_clean();
}

// Port of the series' KUnit test: allocate more than half of memory nonsensitive, then the
// same amount sensitive; every page has the sensitivity it was asked for.
TEST(Freetype, HalfMemoryNonsensitiveThenSensitive) {
    for (Sensitivity initial : {Sensitivity::kSensitive, Sensitivity::kNonsensitive}) {
        auto h = std::make_unique<Harness>(freetype(initial));
        const uint64_t want = h->usable_pages() / 2 + kPageblockPages;
        std::vector<uint64_t> ns, s;
        for (uint64_t got = 0; got < want; got += 8) {
            uint64_t pa = h->get(3, GFP_KERNEL);
            ASSERT_NE(pa, Alloc::kAllocFailed);
            ns.push_back(pa);
        }
        for (uint64_t pa : ns) h->put(pa);
        for (uint64_t got = 0; got < want; got += 8) {
            uint64_t pa = h->get(3, GFP_USER);
            ASSERT_NE(pa, Alloc::kAllocFailed) << got;
            s.push_back(pa);
        }
        for (uint64_t pa : s) {
            EXPECT_EQ(h->alloc.pageblock_sensitivity(pa), Sensitivity::kSensitive);
            for (uint64_t i = 0; i < 8; ++i) EXPECT_FALSE(h->arch->mapped[(pa >> 12) + i]);
        }
        h->expect_clean();
        h->expect_all_free();
    }
}

TEST(Freetype, FreeBlocksNeverMergeAcrossSensitivity) {
    HarnessConfig c = freetype(Sensitivity::kNonsensitive);
    c.ranges = {{16 * kMiB, 4 * kMiB}};  // one max-order block = two pageblocks
    auto h = std::make_unique<Harness>(c);
    uint64_t s = h->get(0, GFP_USER);  // flips one pageblock
    h->put(s);
    h->alloc.drain_all_pcp();
    h->alloc.verify();
    // Two order-9 blocks of different sensitivity; no order-10 block.
    EXPECT_EQ(h->get(kMaxOrder, GFP_KERNEL), Alloc::kAllocFailed);
    EXPECT_NE(h->get(kPageblockOrder, GFP_KERNEL), Alloc::kAllocFailed);
    EXPECT_NE(h->get(kPageblockOrder, GFP_USER), Alloc::kAllocFailed);
    h->expect_clean();
}

TEST(Freetype, PartialPageblocksArePinned) {
    HarnessConfig c = freetype(Sensitivity::kSensitive);
    c.ranges = {{16 * kMiB + 64 * 1024, 2 * kMiB - 64 * 1024}};  // one partial pageblock
    auto h = std::make_unique<Harness>(c);
    const uint64_t pb = 16 * kMiB;
    EXPECT_TRUE(h->alloc.pageblock_pinned(pb));
    EXPECT_EQ(h->alloc.pageblock_sensitivity(pb), Sensitivity::kNonsensitive);
    // It serves nonsensitive allocations and can never become sensitive.
    EXPECT_NE(h->get(0, GFP_KERNEL), Alloc::kAllocFailed);
    EXPECT_EQ(h->get(0, GFP_USER), Alloc::kAllocFailed);
    EXPECT_EQ(h->arch->count(Op::kUnmapBlock) + h->arch->count(Op::kFlush), 0u);
    h->expect_clean();
}

TEST(Freetype, MappingMismatchIsABadPage) {
    auto h = std::make_unique<Harness>(freetype(Sensitivity::kSensitive));
    uint64_t pa = h->get(0, GFP_USER);
    ASSERT_NE(pa, Alloc::kAllocFailed);
    // Someone maps the sensitive page behind the allocator's back.
    h->arch->mapped[pa >> 12] = 1;
    h->put(pa);
    EXPECT_EQ(h->alloc.metrics().bad_pages, 1u);
    ASSERT_EQ(h->arch->bad_page_reasons.size(), 1u);
    EXPECT_STREQ(h->arch->bad_page_reasons[0].c_str(), "asi: sensitive page mapped at free");
    // And at allocation.
    h->alloc.drain_all_pcp();
    uint64_t again = h->get(0, GFP_USER);
    EXPECT_EQ(again, pa);  // the hottest page comes back first
    EXPECT_EQ(h->alloc.metrics().bad_pages, 2u);
}

TEST(Freetype, PageblockFlagAgreesWithEveryAllocation) {
    auto h = std::make_unique<Harness>(freetype(Sensitivity::kSensitive));
    std::mt19937_64 rng(11);
    for (int i = 0; i < 3000; ++i) {
        if (h->live.empty() || rng() % 5 < 3) {
            gfp_t gfp = (rng() % 2 ? GFP_USER : GFP_KERNEL) | (rng() % 3 == 0 ? kGfpMovable : 0);
            uint64_t pa = h->get(rng() % 4, gfp, rng() % 4);
            if (pa == Alloc::kAllocFailed) continue;
            EXPECT_EQ(h->alloc.pageblock_sensitivity(pa), gfp_sensitivity(gfp));
        } else {
            h->put(std::next(h->live.begin(), rng() % h->live.size())->first, rng() % 4);
        }
    }
    h->alloc.verify();
    h->expect_clean();
    h->expect_all_free();
}

}  // namespace
}  // namespace page_alloc_test
