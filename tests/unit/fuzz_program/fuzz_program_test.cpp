// guest_kernel/fuzz/fuzz_program.h: every byte string decodes, deterministically, into the
// operations its table says; describe() renders them.
#include "guest_kernel/fuzz/fuzz_program.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace fuzz_program;

std::vector<FuzzOp> decode_all(const std::vector<uint8_t>& bytes, size_t max = kFuzzMaxOps) {
    std::vector<FuzzOp> ops(max + 1);
    const size_t n = decode(bytes.data(), bytes.size(), ops.data(), max);
    EXPECT_LE(n, max);
    ops.resize(n);
    return ops;
}

std::string text(const FuzzOp& op, uint32_t cpus = 2) {
    char buf[128];
    const int n = describe(op, buf, sizeof buf, cpus);
    EXPECT_EQ(static_cast<size_t>(n), std::strlen(buf));
    return buf;
}

// An independent reading of the table in fuzz_program.h.
struct RefOp {
    OpKind kind;
    uint8_t sel;
    uint8_t arg;
};
std::vector<RefOp> reference_decode(const std::vector<uint8_t>& b) {
    static constexpr int kArgBytes[16] = {1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0};
    static constexpr OpKind kKind[16] = {OpKind::kAlloc,        OpKind::kAlloc,      OpKind::kAlloc,
                                         OpKind::kFree,         OpKind::kFree,       OpKind::kTouch,
                                         OpKind::kAsiEnter,     OpKind::kAsiRelax,   OpKind::kAsiExit,
                                         OpKind::kDeferredWork, OpKind::kDrain,      OpKind::kInterrupt,
                                         OpKind::kAllocBurst,   OpKind::kFreeBurst,  OpKind::kCheck,
                                         OpKind::kNop};
    std::vector<RefOp> out;
    size_t i = 0;
    while (i < b.size() && out.size() < 256) {
        const uint8_t o = b[i];
        if (i + 1 + kArgBytes[o & 15] > b.size()) break;
        out.push_back({kKind[o & 15], static_cast<uint8_t>(o >> 4), kArgBytes[o & 15] ? b[i + 1] : uint8_t{0}});
        i += 1 + kArgBytes[o & 15];
    }
    return out;
}

TEST(FuzzProgram, EveryKindDecodes) {
    struct Case {
        uint8_t low;
        OpKind kind;
        bool arg;
    };
    const Case cases[] = {
        {0, OpKind::kAlloc, true},         {1, OpKind::kAlloc, true},      {2, OpKind::kAlloc, true},
        {3, OpKind::kFree, true},          {4, OpKind::kFree, true},       {5, OpKind::kTouch, true},
        {6, OpKind::kAsiEnter, false},     {7, OpKind::kAsiRelax, false},  {8, OpKind::kAsiExit, false},
        {9, OpKind::kDeferredWork, false}, {10, OpKind::kDrain, false},    {11, OpKind::kInterrupt, false},
        {12, OpKind::kAllocBurst, true},   {13, OpKind::kFreeBurst, true}, {14, OpKind::kCheck, false},
        {15, OpKind::kNop, false},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(int{c.low});
        const uint8_t o = static_cast<uint8_t>(0x70 | c.low);
        // The byte after the opcode is its argument, or the next operation (a nop).
        const auto ops = decode_all({o, 0xaf});
        ASSERT_EQ(ops.size(), c.arg ? 1u : 2u);
        EXPECT_EQ(ops[0].kind, c.kind);
        EXPECT_EQ(ops[0].cpu_sel, 7);
        EXPECT_EQ(ops[0].arg, c.arg ? 0xaf : 0);
        EXPECT_EQ(takes_arg(c.kind), c.arg);
        if (!c.arg) {
            EXPECT_EQ(ops[1].kind, OpKind::kNop);
            EXPECT_EQ(ops[1].cpu_sel, 0xa);
        }
    }
}

TEST(FuzzProgram, MissingArgumentDropsTheLastOperation) {
    EXPECT_TRUE(decode_all({0x00}).empty());
    EXPECT_TRUE(decode_all({}).empty());
    auto ops = decode_all({0x06, 0x15, 0x02, 0x0c});  // asi_enter, touch live[2], alloc (no arg)
    ASSERT_EQ(ops.size(), 2u);
    EXPECT_EQ(ops[0].kind, OpKind::kAsiEnter);
    EXPECT_EQ(ops[1].kind, OpKind::kTouch);
    EXPECT_EQ(ops[1].cpu_sel, 1);
    EXPECT_EQ(ops[1].arg, 2);
    ops = decode_all({0x0e, 0x0d});  // check, free_burst without its argument
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_EQ(ops[0].kind, OpKind::kCheck);
}

TEST(FuzzProgram, AtMost256Operations) {
    std::vector<uint8_t> bytes(1000, 0x0f);  // nops
    EXPECT_EQ(decode_all(bytes).size(), kFuzzMaxOps);
    // A capacity above the cap is capped; one below it is honoured.
    std::vector<FuzzOp> big(400);
    EXPECT_EQ(decode(bytes.data(), bytes.size(), big.data(), big.size()), kFuzzMaxOps);
    EXPECT_EQ(decode_all(bytes, 10).size(), 10u);
    EXPECT_EQ(decode(bytes.data(), bytes.size(), nullptr, 0), 0u);
    // 256 operations with arguments (512 bytes), then more that are ignored.
    std::vector<uint8_t> allocs;
    for (int i = 0; i < 300; ++i) allocs.insert(allocs.end(), {0x00, static_cast<uint8_t>(i)});
    const auto ops = decode_all(allocs);
    ASSERT_EQ(ops.size(), kFuzzMaxOps);
    EXPECT_EQ(ops.back().arg, 255);
}

TEST(FuzzProgram, CpuSelection) {
    const FuzzOp op{OpKind::kAsiEnter, 5, 0};
    EXPECT_EQ(cpu_index(op, 1), 0u);
    EXPECT_EQ(cpu_index(op, 2), 1u);
    EXPECT_EQ(cpu_index(op, 4), 1u);
    EXPECT_EQ(cpu_index(op, 8), 5u);
    EXPECT_EQ(cpu_index(op, 0), 0u);
    EXPECT_EQ(opcode(kOpTouch, 3), 0x35);
    EXPECT_EQ(opcode(kOpNop, 15), 0xff);
    EXPECT_EQ(opcode(kOpAlloc, 17), 0x10);  // the selector is 4 bits
    for (uint32_t sel = 0; sel < 16; ++sel) {
        const auto ops = decode_all({opcode(kOpDrain, sel)});
        ASSERT_EQ(ops.size(), 1u);
        EXPECT_EQ(ops[0].cpu_sel, sel);
        EXPECT_EQ(ops[0].kind, OpKind::kDrain);
    }
}

TEST(FuzzProgram, AllocArgument) {
    EXPECT_EQ(alloc_order(0x00), 0u);
    EXPECT_EQ(alloc_order(0x03), 3u);
    EXPECT_EQ(alloc_order(0x42), 9u);
    EXPECT_EQ(alloc_gfp(0x00), 0u);
    EXPECT_EQ(alloc_gfp(0x04), asi_abi::kGfpSensitive);
    EXPECT_EQ(alloc_gfp(0x08), asi_abi::kGfpDirectReclaim);
    EXPECT_EQ(alloc_gfp(0x10), asi_abi::kGfpZero);
    EXPECT_EQ(alloc_gfp(0x20), asi_abi::kGfpMovable);
    EXPECT_EQ(alloc_gfp(0xff), asi_abi::kGfpSensitive | asi_abi::kGfpDirectReclaim | asi_abi::kGfpZero |
                                   asi_abi::kGfpMovable);
    for (uint32_t a = 0; a < 0x80; ++a) {
        const uint8_t arg = static_cast<uint8_t>(a);
        // Orders 0-2 with the pageblock bit all mean 9; alloc_arg gives the canonical byte.
        const uint8_t canonical = (arg & 0x40) ? static_cast<uint8_t>(arg & ~3u) : arg;
        EXPECT_EQ(alloc_arg(alloc_order(arg), alloc_gfp(arg)), canonical);
    }
    EXPECT_EQ(burst_count(0x00), 1u);
    EXPECT_EQ(burst_count(0x1f), 16u);
    EXPECT_EQ(burst_gfp(0x0f), asi_abi::kGfpDirectReclaim);
    EXPECT_EQ(burst_gfp(0x10), asi_abi::kGfpDirectReclaim | asi_abi::kGfpSensitive);
}

TEST(FuzzProgram, Describe) {
    EXPECT_EQ(text({OpKind::kAlloc, 1, 0x1e}), "cpu 1: alloc order 2 gfp sensitive|direct-reclaim|zero");
    EXPECT_EQ(text({OpKind::kAlloc, 2, 0x60}), "cpu 0: alloc order 9 gfp noblock|movable");
    EXPECT_EQ(text({OpKind::kFree, 0, 3}), "cpu 0: free live[3]");
    EXPECT_EQ(text({OpKind::kTouch, 3, 200}), "cpu 1: touch live[200]");
    EXPECT_EQ(text({OpKind::kAsiEnter, 0, 0}), "cpu 0: asi_enter");
    EXPECT_EQ(text({OpKind::kAsiRelax, 0, 0}), "cpu 0: asi_relax");
    EXPECT_EQ(text({OpKind::kAsiExit, 0, 0}), "cpu 0: asi_exit");
    EXPECT_EQ(text({OpKind::kDeferredWork, 0, 0}), "cpu 0: deferred_work");
    EXPECT_EQ(text({OpKind::kDrain, 0, 0}), "cpu 0: drain");
    EXPECT_EQ(text({OpKind::kInterrupt, 0, 0}), "cpu 0: interrupt");
    EXPECT_EQ(text({OpKind::kAllocBurst, 0, 0x1f}),
              "cpu 0: alloc_burst 16 x order 0 gfp sensitive|direct-reclaim");
    EXPECT_EQ(text({OpKind::kFreeBurst, 0, 0x02}), "cpu 0: free_burst last 3");
    EXPECT_EQ(text({OpKind::kCheck, 0, 0}), "cpu 0: check");
    EXPECT_EQ(text({OpKind::kNop, 13, 0}, 4), "cpu 1: nop");
    EXPECT_EQ(text({OpKind::kNop, 13, 0}, 0), "sel 13: nop");
}

TEST(FuzzProgram, DescribeTruncatesLikeSnprintf) {
    const FuzzOp op{OpKind::kAsiEnter, 0, 0};  // "cpu 0: asi_enter": 16 characters
    std::array<char, 12> buf;
    buf.fill('#');
    EXPECT_EQ(describe(op, buf.data(), 8, 1), 16);
    EXPECT_STREQ(buf.data(), "cpu 0: ");
    EXPECT_EQ(buf[8], '#');
    EXPECT_EQ(describe(op, nullptr, 0, 1), 16);
    EXPECT_EQ(describe(op, buf.data(), 1, 1), 16);
    EXPECT_EQ(buf[0], '\0');
}

constexpr size_t constexpr_decode() {
    constexpr uint8_t bytes[] = {0x00, 0x4c, 0x05, 0x00, 0x16, 0x0e};
    FuzzOp ops[8];
    return decode(bytes, sizeof bytes, ops, 8);
}
static_assert(constexpr_decode() == 4);

// Random byte strings: the decoder agrees with the reference, reads nothing past the end
// (each string is its own exactly-sized allocation: ASan sees an overrun), writes nothing
// past the capacity, and gives the same result twice. describe() fits a small buffer.
TEST(FuzzProgram, RandomStringsDecodeWithinBounds) {
    std::mt19937_64 rng(0x5eed);
    constexpr size_t kCap = 300;
    for (int iter = 0; iter < 10000; ++iter) {
        const size_t len = rng() % 700;
        std::vector<uint8_t> bytes(len);
        for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
        const size_t max = (iter % 5 == 0) ? rng() % 20 : kCap;
        std::vector<FuzzOp> a(kCap + 1, FuzzOp{OpKind::kCheck, 0xee, 0xee});
        std::vector<FuzzOp> b(kCap + 1);
        const size_t n = decode(bytes.data(), bytes.size(), a.data(), max);
        ASSERT_EQ(decode(bytes.data(), bytes.size(), b.data(), max), n);
        ASSERT_LE(n, std::min(max, kFuzzMaxOps));
        for (size_t i = n; i < a.size(); ++i) ASSERT_EQ(a[i].cpu_sel, 0xee) << "wrote past the operations";
        std::vector<RefOp> ref = reference_decode(bytes);
        if (ref.size() > max) ref.resize(max);
        ASSERT_EQ(n, ref.size());
        for (size_t i = 0; i < n; ++i) {
            ASSERT_EQ(a[i].kind, ref[i].kind);
            ASSERT_EQ(a[i].cpu_sel, ref[i].sel);
            ASSERT_EQ(a[i].arg, ref[i].arg);
            ASSERT_EQ(b[i].kind, a[i].kind);
            ASSERT_EQ(b[i].arg, a[i].arg);
            char buf[80];
            ASSERT_LT(describe(a[i], buf, sizeof buf, 1 + iter % 8), 80);
        }
    }
}

}  // namespace
