#include "cpu_model/hole_set.h"

#include <gtest/gtest.h>

namespace cpu_model {
namespace {

constexpr uint64_t kForever = ~0ull;  // a record that can still gain translations

TEST(HoleSet, KindsAndLargePages) {
    HoleSet h;
    h.add(0xffff888000201234ull, true, false, HoleSet::kSticky);
    EXPECT_TRUE(h.covers(0xffff888000201000ull, 4096, false, kForever));
    EXPECT_FALSE(h.covers(0xffff888000201000ull, 4096, true, kForever));
    EXPECT_TRUE(h.covers(0xffff888000200000ull, 2u << 20, false, kForever));  // in the 2 MiB page
    EXPECT_FALSE(h.covers(0xffff888000400000ull, 2u << 20, false, kForever));
    h.add(0xfffffffffffff000ull, false, true, HoleSet::kSticky);  // the top page: no overflow
    EXPECT_TRUE(h.covers(0xffffffffc0000000ull, 1u << 30, true, kForever));
}

TEST(HoleSet, AHoleCountsOnlyIfTheRecordCouldNotRecacheAfterIt) {
    HoleSet h;
    h.add(0x1000, false, true, 10);
    EXPECT_TRUE(h.covers(0x1000, 4096, true, 10));   // could gain translations until 10
    EXPECT_TRUE(h.covers(0x1000, 4096, true, 5));
    EXPECT_FALSE(h.covers(0x1000, 4096, true, 11));  // ran under its PCID after the hole
    EXPECT_FALSE(h.covers(0x1000, 4096, true, kForever));
}

TEST(HoleSet, IntersectRestrictKeepGlobal) {
    HoleSet a, b;
    a.add(0x1000, true, true, HoleSet::kSticky);
    a.add(0x2000, true, false, HoleSet::kSticky);
    b.add(0x1000, false, true, 7);
    b.add(0x3000, false, true, 7);
    HoleSet c = a;
    c.intersect(b);
    EXPECT_EQ(c.size(), 1u);
    EXPECT_TRUE(c.covers(0x1000, 4096, true, 7));
    EXPECT_FALSE(c.covers(0x1000, 4096, true, 8));  // the weaker (earlier) time is kept
    EXPECT_FALSE(c.covers(0x1000, 4096, false, 0));
    EXPECT_EQ(a.restricted(0x2000, 0x1000).size(), 1u);
    a.keep_global_only();
    EXPECT_EQ(a.size(), 1u);
    EXPECT_TRUE(a.covers(0x1000, 4096, true, kForever));
}

}  // namespace
}  // namespace cpu_model
