// Random alloc/free stress of orders 0-3 with random sensitivity and gfp, on every policy
// (port of the series' KUnit stress idea). After every operation, the effects it had are
// checked against the rule of its policy (DESIGN 9: the TLB consequence of each change);
// the harness checks that no frame is handed out twice, and the fake checks the
// restricted-space rules at every handout.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <tuple>

#include "harness.h"

namespace page_alloc_test {
namespace {

struct Deltas {
    uint64_t to_sensitive, to_nonsensitive, changes;
};

Deltas deltas(const Metrics& before, const Metrics& after) {
    return {after.flips_to_sensitive - before.flips_to_sensitive,
            after.flips_to_nonsensitive - before.flips_to_nonsensitive,
            after.sensitivity_changes - before.sensitivity_changes};
}

// freetype: an allocation either changes nothing, or changes pageblocks to sensitive
// (unmap each, then exactly one flush covering exactly them, before the handout), or to
// nonsensitive (zero, then map, never a flush). A free has no effect at all.
void check_freetype_op(const std::vector<Call>& calls, const Deltas& d, bool is_free) {
    size_t unmaps = 0, maps = 0, flushes = 0, flushed_pages = 0;
    long handout = -1;
    std::set<uint64_t> unmapped;
    for (size_t i = 0; i < calls.size(); ++i) {
        const Call& c = calls[i];
        switch (c.op) {
            case Op::kUnmapBlock: ++unmaps; unmapped.insert(c.a); break;
            case Op::kMapBlock: ++maps; break;
            case Op::kFlush:
                ++flushes;
                flushed_pages += c.b;
                for (uint64_t pb = c.a; pb < c.a + c.b * 4096; pb += kPageblockBytes)
                    EXPECT_TRUE(unmapped.count(pb)) << "flush of a pageblock not unmapped first";
                EXPECT_EQ(handout, -1) << "flush after the handout";
                break;
            case Op::kZero: break;  // content order is the fake's R4 rule
            case Op::kMapPages:
            case Op::kUnmapPages:
            case Op::kBadPage: ADD_FAILURE() << "unexpected effect " << int(c.op); break;
            case Op::kTrace:
                if (c.a == asi_abi::kTracePageAlloc) handout = static_cast<long>(i);
                break;
        }
    }
    if (is_free) {
        EXPECT_EQ(unmaps + maps + flushes, 0u);
        return;
    }
    EXPECT_EQ(unmaps, d.to_sensitive);
    EXPECT_EQ(maps, d.to_nonsensitive);
    EXPECT_EQ(flushed_pages, d.to_sensitive * kPageblockPages);
    EXPECT_EQ(flushes, d.to_sensitive ? 1u : 0u);  // one change per allocation at most
    EXPECT_LE(d.changes, 1u);
    EXPECT_TRUE(d.to_sensitive == 0 || d.to_nonsensitive == 0);
}

// rfc: a free queues (no effect); a nonsensitive allocation maps exactly its block at the
// end; a sensitive one maps nothing; flushes only come from the worker.
void check_rfc_op(const std::vector<Call>& calls, bool is_free, bool sensitive, uint64_t pa,
                  uint32_t order, bool worker_ran) {
    size_t maps = 0;
    for (const Call& c : calls) {
        if (c.op == Op::kMapPages) {
            ++maps;
            EXPECT_EQ(c.a, pa);
            EXPECT_EQ(c.b, 1ull << order);
        }
        if (!worker_ran) {
            EXPECT_TRUE(c.op != Op::kFlush && c.op != Op::kUnmapPages) << "flush outside the worker";
        }
        EXPECT_TRUE(c.op != Op::kMapBlock && c.op != Op::kUnmapBlock && c.op != Op::kBadPage);
    }
    EXPECT_EQ(maps, (is_free || sensitive || pa == Alloc::kAllocFailed) ? 0u : 1u);
}

class Stress : public ::testing::TestWithParam<std::tuple<const char*, int>> {};

TEST_P(Stress, RandomOrdersAndSensitivity) {
    HarnessConfig c;
    c.policy = std::get<0>(GetParam());
    // Two ranges, the second with partial pageblocks at both ends.
    c.ranges = {{16 * kMiB, 20 * kMiB}, {40 * kMiB + 8192, 6 * kMiB}};
    c.initial = std::get<1>(GetParam()) % 2 ? Sensitivity::kSensitive : Sensitivity::kNonsensitive;
    const bool ft = c.policy == "freetype", rfc = c.policy == "rfc";
    auto h = std::make_unique<Harness>(c);
    std::mt19937_64 rng(std::get<1>(GetParam()));
    for (int i = 0; i < 9000; ++i) {
        const size_t mark = h->arch->calls.size();
        const Metrics before = h->alloc.metrics();
        const uint32_t cpu = rng() % c.cpus;
        // Demand drifts: epochs of 3000 operations alternate between mostly sensitive and
        // mostly nonsensitive requests, and each epoch starts by freeing every live block
        // (the zone has no compaction, so scattered survivors would pin every pageblock).
        // An epoch's net demand (~70% of memory) exceeds what is free of its majority
        // sensitivity, so sensitivity changes both ways are needed.
        // The first epoch wants the sensitivity memory does not start with.
        const bool mostly_sensitive =
            ((i / 3000) % 2 == 0) == (c.initial == Sensitivity::kNonsensitive);
        if (i % 3000 == 0) {
            while (!h->live.empty())
                h->put(std::next(h->live.begin(), rng() % h->live.size())->first, rng() % c.cpus);
            continue;
        }
        if (h->live.empty() || rng() % 100 < 70) {
            const uint32_t order = rng() % 4;
            const bool sensitive = rng() % 100 < (mostly_sensitive ? 85 : 15);
            gfp_t gfp = sensitive ? GFP_USER : GFP_KERNEL;
            if (rng() % 10 == 0) gfp &= ~kGfpDirectReclaim;
            if (rng() % 3 == 0) gfp |= kGfpMovable;
            if (rng() % 8 == 0) gfp |= kGfpZero;
            const uint64_t pa = h->get(order, gfp, cpu);
            const Metrics& after = h->alloc.metrics();
            auto calls = h->arch->since(mark);
            if (ft) check_freetype_op(calls, deltas(before, after), false);
            if (rfc) {
                check_rfc_op(calls, false, sensitive, pa, order,
                             after.deferred_batches != before.deferred_batches);
            }
            if (pa != Alloc::kAllocFailed && ft) {
                ASSERT_EQ(h->alloc.pageblock_sensitivity(pa), gfp_sensitivity(gfp));
            }
            if (ft && !(gfp & kGfpDirectReclaim) && sensitive) {
                ASSERT_EQ(after.flips_to_sensitive, before.flips_to_sensitive) << "ALLOC_NOBLOCK flush";
            }
        } else {
            h->put(std::next(h->live.begin(), rng() % h->live.size())->first, cpu);
            auto calls = h->arch->since(mark);
            if (ft) check_freetype_op(calls, deltas(before, h->alloc.metrics()), true);
            if (rfc) check_rfc_op(calls, true, false, 0, 0, false);
        }
        if (rfc && i % 50 == 0) h->alloc.run_deferred_work();
        if (::testing::Test::HasFailure()) break;
    }
    if (ft) {
        EXPECT_GT(h->alloc.metrics().flips_to_sensitive, 0u);
        EXPECT_GT(h->alloc.metrics().flips_to_nonsensitive, 0u);
    }
    h->alloc.verify();
    h->expect_clean();
    h->expect_all_free();
}

INSTANTIATE_TEST_SUITE_P(Policies, Stress,
                         ::testing::Combine(::testing::Values("freetype", "rfc", "off"),
                                            ::testing::Values(1, 2, 3)),
                         [](const auto& info) {
                             return std::string(std::get<0>(info.param)) + "_seed" +
                                    std::to_string(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace page_alloc_test
