#include "mmu/physical_memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace mmu {
namespace {

TEST(PhysicalMemory, ContainsIsOverflowSafe) {
    std::vector<uint8_t> buf(4096);
    PhysicalMemory m{buf.data(), buf.size()};
    EXPECT_TRUE(m.contains(0, 4096));
    EXPECT_TRUE(m.contains(4096, 0));
    EXPECT_FALSE(m.contains(4089, 8));
    EXPECT_TRUE(m.contains(4088, 8));
    EXPECT_FALSE(m.contains(8, UINT64_MAX));
    EXPECT_FALSE(m.contains(UINT64_MAX, 2));
    EXPECT_FALSE(m.contains(4097, 0));
}

TEST(PhysicalMemory, ReadWriteU64InsideAndOutside) {
    std::vector<uint8_t> buf(64);
    PhysicalMemory m{buf.data(), buf.size()};
    EXPECT_TRUE(m.write_u64(8, 0x1122334455667788ull));
    EXPECT_EQ(m.read_u64(8), 0x1122334455667788ull);
    EXPECT_EQ(buf[8], 0x88);  // little-endian, as the guest sees it
    EXPECT_TRUE(m.write_u64(3, 0xabcdull));  // misaligned is fine
    EXPECT_EQ(m.read_u64(3), 0xabcdull);
    EXPECT_FALSE(m.read_u64(57).has_value());
    EXPECT_FALSE(m.write_u64(57, 1));
    EXPECT_FALSE(m.read_u64(UINT64_MAX - 3).has_value());
}

}  // namespace
}  // namespace mmu
