#include "emu/trace/crc32.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace {

using emu::trace::crc32c;

// Bit-at-a-time CRC-32C: the definition the tables must agree with.
uint32_t reference_crc32c(const uint8_t* p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; ++i) {
        c ^= p[i];
        for (int b = 0; b < 8; ++b) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return ~c;
}

TEST(Crc32c, CheckValue) {
    EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
    EXPECT_EQ(crc32c("", 0), 0u);
}

// RFC 3720 appendix B.4.
TEST(Crc32c, Rfc3720Vectors) {
    uint8_t buf[32];
    std::memset(buf, 0, sizeof buf);
    EXPECT_EQ(crc32c(buf, 32), 0x8A9136AAu);
    std::memset(buf, 0xFF, sizeof buf);
    EXPECT_EQ(crc32c(buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; ++i) buf[i] = static_cast<uint8_t>(i);
    EXPECT_EQ(crc32c(buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; ++i) buf[i] = static_cast<uint8_t>(31 - i);
    EXPECT_EQ(crc32c(buf, 32), 0x113FDB5Cu);
}

TEST(Crc32c, SlicingMatchesBitwiseAtEveryLengthAndAlignment) {
    std::mt19937 rng(1);
    std::vector<uint8_t> data(300 + 8);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    for (size_t align = 0; align < 8; ++align)
        for (size_t len = 0; len <= 300; ++len)
            ASSERT_EQ(crc32c(data.data() + align, len), reference_crc32c(data.data() + align, len))
                << "align " << align << " len " << len;
}

TEST(Crc32c, Incremental) {
    std::mt19937 rng(2);
    std::vector<uint8_t> data(1000);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    const uint32_t whole = crc32c(data.data(), data.size());
    for (size_t split = 0; split <= data.size(); split += 37)
        EXPECT_EQ(crc32c(data.data() + split, data.size() - split, crc32c(data.data(), split)), whole);
}

}  // namespace
