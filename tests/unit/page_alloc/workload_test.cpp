// The workloads run to completion on every policy, free everything, and are deterministic:
// the same seed gives the same sequence of machine effects and tracepoints.
#include <gtest/gtest.h>

#include <tuple>

#include "guest_kernel/workload/workload.h"
#include "harness.h"

namespace page_alloc_test {
namespace {

using workload::WorkloadKind;

// Writes a secret into every sensitive block, as the guest's hooks do.
struct SecretHooks {
    FakeArch* arch;
    void on_alloc(uint64_t pa, uint32_t order, gfp_t gfp, uint64_t) {
        if (gfp & kGfpSensitive) arch->write_secret(pa, 1ull << order);
    }
    void on_free(uint64_t, uint32_t, gfp_t) {}
};

struct RunResult {
    workload::WorkloadSummary summary;
    std::vector<Call> calls;
    Metrics metrics;
};

RunResult run_one(const char* policy, WorkloadKind kind, uint64_t seed, uint64_t ops) {
    HarnessConfig c;
    c.policy = policy;
    c.ranges = {{16 * kMiB, 24 * kMiB}};
    auto h = std::make_unique<Harness>(c);
    auto live = std::make_unique<workload::LiveTable<2048>>();
    SecretHooks hooks{h->arch.get()};
    workload::WorkloadParams p;
    p.ops = ops;
    p.seed = seed;
    RunResult r;
    r.summary = workload::run_workload(h->alloc, kind, p, *live, hooks);
    EXPECT_EQ(r.summary.allocs, r.summary.frees);
    EXPECT_GE(r.summary.ops, ops);
    EXPECT_EQ(h->alloc.deferred_pages(), 0u);
    h->alloc.drain_all_pcp();
    h->alloc.verify();
    EXPECT_EQ(h->alloc.nr_free_pages(), h->alloc.usable_pages());
    h->expect_clean();
    r.calls = h->arch->calls;
    r.metrics = h->alloc.metrics();
    return r;
}

class Workloads : public ::testing::TestWithParam<std::tuple<const char*, WorkloadKind>> {};

TEST_P(Workloads, CompleteFreeEverythingAndAreDeterministic) {
    const auto [policy, kind] = GetParam();
    RunResult a = run_one(policy, kind, 7, 4000);
    RunResult b = run_one(policy, kind, 7, 4000);
    EXPECT_EQ(a.summary.digest, b.summary.digest);
    EXPECT_TRUE(a.calls == b.calls) << "same seed, different trace of calls";
    RunResult c = run_one(policy, kind, 8, 4000);
    EXPECT_NE(a.summary.digest, c.summary.digest);
    EXPECT_GT(a.summary.allocs, 1000u);
    EXPECT_EQ(a.metrics.allocs, a.summary.allocs);
    if (kind == WorkloadKind::kFlipStorm && std::string(policy) == "freetype") {
        // Every phase after the first takes pageblocks from the other sensitivity.
        EXPECT_GE(a.summary.phases, 3u);
        EXPECT_GT(a.metrics.flips_to_sensitive, 0u);
        EXPECT_GT(a.metrics.flips_to_nonsensitive, 0u);
        EXPECT_GE(a.metrics.sensitivity_changes, a.summary.phases - 1);
    }
    if (kind == WorkloadKind::kUserHeavy) {
        EXPECT_GT(a.summary.sensitive_allocs * 10, a.summary.allocs * 8);
    }
    if (kind == WorkloadKind::kKernelHeavy) {
        EXPECT_LT(a.summary.sensitive_allocs * 10, a.summary.allocs);
    }
}

INSTANTIATE_TEST_SUITE_P(
    All, Workloads,
    ::testing::Combine(::testing::Values("freetype", "rfc", "off"),
                       ::testing::Values(WorkloadKind::kMixed, WorkloadKind::kFlipStorm,
                                         WorkloadKind::kKernelHeavy, WorkloadKind::kUserHeavy)),
    [](const auto& info) {
        std::string name = std::string(std::get<0>(info.param)) + "_" +
                           workload::workload_name(std::get<1>(info.param));
        for (char& ch : name)
            if (ch == '-') ch = '_';
        return name;
    });

TEST(Workload, NamesParse) {
    WorkloadKind k{};
    for (uint32_t i = 0; i < workload::kNrWorkloads; ++i) {
        ASSERT_TRUE(workload::parse_workload(workload::kWorkloadNames[i], &k));
        EXPECT_EQ(static_cast<uint32_t>(k), i);
    }
    EXPECT_FALSE(workload::parse_workload("mixedx", &k));
    EXPECT_FALSE(workload::parse_workload("mix", &k));
    EXPECT_FALSE(workload::parse_workload("", &k));
}

TEST(Workload, PrngIsTheReferenceSplitmix64) {
    // splitmix64 reference values for seed 0 (Vigna's splitmix64.c).
    uint64_t s = 0;
    EXPECT_EQ(workload::splitmix64(s), 0xe220a8397b1dcdafull);
    EXPECT_EQ(workload::splitmix64(s), 0x6e789e6aa1b965f4ull);
    workload::Prng a(1), b(1), c(2);
    for (int i = 0; i < 100; ++i) {
        uint64_t x = a.next();
        EXPECT_EQ(x, b.next());
        EXPECT_NE(x, c.next());
    }
    for (int i = 0; i < 1000; ++i) EXPECT_LT(a.below(7), 7u);
}

}  // namespace
}  // namespace page_alloc_test
