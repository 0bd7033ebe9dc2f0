#include "cpu_model/stale_entry_set.h"

#include <gtest/gtest.h>

namespace cpu_model {
namespace {

TEST(StaleEntrySet, ByPageAndByFrame) {
    StaleEntrySet s;
    EXPECT_TRUE(s.add({0x1000, 4096, 0x5000, 0x5001, 1}));
    EXPECT_FALSE(s.add({0x1000, 4096, 0x5000, 0x5001, 1}));  // duplicate
    EXPECT_TRUE(s.add({0x200000, 2u << 20, 0x400000, 0x400081, 1}));
    EXPECT_EQ(s.size(), 2u);
    int n = 0;
    s.for_each_frame(0x400000 + 0x3000, [&](const StaleEntry& e) {
        EXPECT_EQ(e.va_page, 0x200000u);
        ++n;
    });
    EXPECT_EQ(n, 1);
    n = 0;
    s.for_each_at(0x2ff000, [&](const StaleEntry&) { ++n; });
    EXPECT_EQ(n, 1);
    EXPECT_EQ(s.erase_page(0x234567), 1u);  // any address inside the 2 MiB page
    EXPECT_EQ(s.size(), 1u);
    n = 0;
    s.for_each_frame(0x400000, [&](const StaleEntry&) { ++n; });
    EXPECT_EQ(n, 0);
    EXPECT_EQ(s.clear(), 1u);
    EXPECT_EQ(s.size(), 0u);
}

}  // namespace
}  // namespace cpu_model
