// The cost histogram: bucket boundaries, percentiles within the documented 25% error.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "guest_kernel/mm/page_alloc/histogram.h"

namespace page_alloc_test {
namespace {

using page_alloc::Histogram;

TEST(Histogram, BucketsTileTheRange) {
    for (uint32_t b = 0; b + 1 < Histogram::kBuckets; ++b) {
        EXPECT_EQ(Histogram::bucket_high(b) + 1, Histogram::bucket_low(b + 1));
        EXPECT_EQ(Histogram::bucket_of(Histogram::bucket_low(b)), b);
        EXPECT_EQ(Histogram::bucket_of(Histogram::bucket_high(b)), b);
    }
}

TEST(Histogram, PercentilesWithinAQuarter) {
    Histogram h;
    EXPECT_EQ(h.median(), 0u);
    std::mt19937_64 rng(1);
    std::vector<uint64_t> v;
    for (int i = 0; i < 10000; ++i) {
        uint64_t x = 100 + rng() % 5000 + (i % 100 == 0 ? 1000000 : 0);
        v.push_back(x);
        h.record(x);
    }
    std::sort(v.begin(), v.end());
    auto exact = [&](double q) { return v[static_cast<size_t>(q * v.size()) - 1]; };
    EXPECT_GE(h.median(), exact(0.5));
    EXPECT_LE(h.median(), exact(0.5) * 5 / 4);
    EXPECT_GE(h.p99(), exact(0.99));
    EXPECT_LE(h.p99(), exact(0.99) * 5 / 4);
    EXPECT_EQ(h.max(), v.back());
    EXPECT_EQ(h.count(), 10000u);
    EXPECT_LE(h.percentile(1000), h.max());
}

}  // namespace
}  // namespace page_alloc_test
