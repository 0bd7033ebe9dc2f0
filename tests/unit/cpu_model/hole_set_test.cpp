#include "cpu_model/hole_set.h"

#include <gtest/gtest.h>

namespace cpu_model {
namespace {

TEST(HoleSet, KindsAndLargePages) {
    HoleSet h;
    h.add(0xffff888000201234ull, HoleSet::kNonGlobal);
    EXPECT_TRUE(h.covers(0xffff888000201000ull, 4096, false));
    EXPECT_FALSE(h.covers(0xffff888000201000ull, 4096, true));
    EXPECT_TRUE(h.covers(0xffff888000200000ull, 2u << 20, false));  // inside the 2 MiB page
    EXPECT_FALSE(h.covers(0xffff888000400000ull, 2u << 20, false));
    h.add(0xfffffffffffff000ull, HoleSet::kGlobal);  // the top page: no overflow
    EXPECT_TRUE(h.covers(0xffffffffc0000000ull, 1u << 30, true));
}

TEST(HoleSet, IntersectRestrictKeepGlobal) {
    HoleSet a, b;
    a.add(0x1000, HoleSet::kNonGlobal | HoleSet::kGlobal);
    a.add(0x2000, HoleSet::kNonGlobal);
    b.add(0x1000, HoleSet::kGlobal);
    b.add(0x3000, HoleSet::kGlobal);
    HoleSet c = a;
    c.intersect(b);
    EXPECT_EQ(c.size(), 1u);
    EXPECT_TRUE(c.covers(0x1000, 4096, true));
    EXPECT_FALSE(c.covers(0x1000, 4096, false));
    EXPECT_EQ(a.restricted(0x2000, 0x1000).size(), 1u);
    a.keep_global_only();
    EXPECT_EQ(a.size(), 1u);
    EXPECT_TRUE(a.covers(0x1000, 4096, true));
}

}  // namespace
}  // namespace cpu_model
