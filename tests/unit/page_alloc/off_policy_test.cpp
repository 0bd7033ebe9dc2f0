// asi=off: no restricted address space, so no mapping changes, no flushes and no ASI
// zeroing; the fake records any such effect as a violation.
#include <gtest/gtest.h>

#include <random>

#include "harness.h"

namespace page_alloc_test {
namespace {

TEST(Off, NeverMapsUnmapsOrFlushes) {
    HarnessConfig c;
    c.policy = "off";
    auto h = std::make_unique<Harness>(c);
    std::mt19937_64 rng(9);
    for (int i = 0; i < 5000; ++i) {
        if (h->live.empty() || rng() % 5 < 3) {
            gfp_t gfp = (rng() % 2 ? GFP_USER : GFP_ATOMIC) | (rng() % 4 == 0 ? kGfpZero : 0);
            h->get(rng() % 4, gfp, rng() % 4);
        } else {
            h->put(std::next(h->live.begin(), rng() % h->live.size())->first, rng() % 4);
        }
    }
    h->expect_all_free();
    for (Op op : {Op::kMapBlock, Op::kUnmapBlock, Op::kMapPages, Op::kUnmapPages, Op::kFlush,
                  Op::kBadPage})
        EXPECT_EQ(h->arch->count(op), 0u);
    const Metrics& m = h->alloc.metrics();
    EXPECT_EQ(m.asi_zeroed_pages + m.tlb_flushes + m.flips_to_sensitive + m.flips_to_nonsensitive +
                  m.restricted_mapped_pages + m.restricted_unmapped_pages + m.deferred_batches,
              0u);
    EXPECT_EQ(h->arch->count(Op::kZero), h->arch->count(Op::kTrace, asi_abi::kTracePagesZeroed));
    EXPECT_TRUE(h->arch->violations.empty());
}

}  // namespace
}  // namespace page_alloc_test
