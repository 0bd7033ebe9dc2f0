// Behaviour of the statistics TLB with the default (Skylake) geometry, case by case.
#include "cpu_model/tlb_cache.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace cpu_model {
namespace {

using Kind = TlbCache::AccessKind;
using Result = TlbCache::AccessResult;

constexpr uint64_t k4K = 1ull << 12;
constexpr uint64_t k2M = 1ull << 21;
constexpr uint64_t k1G = 1ull << 30;
constexpr uint64_t kKernel = 0xffff888000000000ull;  // a direct-map address (canonical high)

Result read(TlbCache& t, uint16_t pcid, uint64_t va, uint64_t size = k4K, bool global = false) {
    return t.access(pcid, va, size, global, Kind::Read);
}

TEST(TlbCache, HitsAfterFill) {
    TlbCache t;
    EXPECT_EQ(read(t, 1, 0x401000), Result::Miss);
    EXPECT_EQ(read(t, 1, 0x401ff8), Result::L1Hit);  // same page, other offset
    EXPECT_EQ(t.access(1, 0x401000, k4K, false, Kind::Write), Result::L1Hit);  // DTLB too
    // The ITLB is separate: a fetch misses L1 but hits the STLB, which refills the ITLB.
    EXPECT_EQ(t.access(1, 0x401000, k4K, false, Kind::Fetch), Result::StlbHit);
    EXPECT_EQ(t.access(1, 0x401000, k4K, false, Kind::Fetch), Result::L1Hit);
    EXPECT_EQ(read(t, 1, 0x402000), Result::Miss);  // the next page
    EXPECT_EQ(read(t, 1, kKernel + 0x5000), Result::Miss);
    EXPECT_EQ(read(t, 1, kKernel + 0x5008), Result::L1Hit);
}

TEST(TlbCache, OtherPcidMisses) {
    TlbCache t;
    EXPECT_EQ(read(t, 1, 0x401000), Result::Miss);
    EXPECT_EQ(read(t, 2, 0x401000), Result::Miss);
    EXPECT_EQ(read(t, 1, 0x401000), Result::L1Hit);
    EXPECT_EQ(read(t, 2, 0x401000), Result::L1Hit);
}

TEST(TlbCache, GlobalEntriesHitAcrossPcids) {
    TlbCache t;
    EXPECT_EQ(read(t, 1, kKernel, k4K, true), Result::Miss);
    EXPECT_EQ(read(t, 2, kKernel, k4K, true), Result::L1Hit);
    EXPECT_EQ(read(t, 3, kKernel, k4K, false), Result::L1Hit);  // the entry's bit decides
    EXPECT_EQ(t.access(4, kKernel, k4K, true, Kind::Fetch), Result::StlbHit);
    EXPECT_EQ(t.access(5, kKernel, k4K, true, Kind::Fetch), Result::L1Hit);
    // A non-global entry is only for its PCID.
    EXPECT_EQ(read(t, 1, 0x1000, k4K, false), Result::Miss);
    EXPECT_EQ(read(t, 2, 0x1000, k4K, false), Result::Miss);
}

TEST(TlbCache, InvlpgRemovesThatPcidsAndGlobalEntriesForThePage) {
    TlbCache t;
    const uint64_t x = 0x7f0000001000;
    EXPECT_EQ(read(t, 2, x), Result::Miss);              // PCID 2, not global
    EXPECT_EQ(read(t, 3, x, k4K, true), Result::Miss);   // global, filled under PCID 3
    EXPECT_EQ(read(t, 1, x), Result::L1Hit);             // PCID 1 uses the global entry
    EXPECT_EQ(read(t, 1, x + k4K), Result::Miss);        // PCID 1, the next page
    EXPECT_EQ(read(t, 1, 0x200000, k2M), Result::Miss);  // PCID 1, a 2 MiB page

    t.invalidate_page(1, x + 0x123);  // any address in the page
    EXPECT_EQ(read(t, 2, x), Result::L1Hit);  // another PCID's entry stays
    EXPECT_EQ(read(t, 1, x + k4K), Result::L1Hit);
    // The global entry is gone; PCID 2's entry does not match PCID 3.
    EXPECT_EQ(read(t, 3, x, k4K, true), Result::Miss);
}

TEST(TlbCache, InvlpgScopeExact) {
    TlbCache t;
    const uint64_t x = 0x7f0000001000;
    read(t, 2, x);
    read(t, 3, x, k4K, true);
    t.invalidate_page(1, x);
    // The global entry is gone (all levels): PCIDs 1 and 3 walk again; PCID 2 still hits.
    EXPECT_EQ(read(t, 1, x), Result::Miss);
    EXPECT_EQ(t.access(3, x, k4K, false, Kind::Fetch), Result::Miss);
    EXPECT_EQ(read(t, 2, x), Result::L1Hit);
    // INVLPG of an address inside a 2 MiB page removes the whole page's entry.
    read(t, 1, 0x40000000, k2M);
    t.invalidate_page(1, 0x40000000 + 0x1ff000);
    EXPECT_EQ(read(t, 1, 0x40000000 + 0x10, k2M), Result::Miss);
    // ... and entries for another PCID's same page survive.
    read(t, 5, 0x40000000, k2M);
    t.invalidate_page(6, 0x40000000);
    EXPECT_EQ(read(t, 5, 0x40000000, k2M), Result::L1Hit);
}

TEST(TlbCache, InvalidatePcidKeepGlobal) {
    TlbCache t;
    read(t, 1, 0x1000);
    read(t, 1, kKernel, k4K, true);
    read(t, 2, 0x1000);
    t.invalidate_pcid(1, /*keep_global=*/true);  // INVPCID type 1 / MOV to CR3
    EXPECT_EQ(read(t, 1, 0x1000), Result::Miss);
    EXPECT_EQ(read(t, 1, kKernel, k4K, true), Result::L1Hit);
    EXPECT_EQ(read(t, 2, 0x1000), Result::L1Hit);
    t.invalidate_pcid(2, false);  // PCID 2 filled no global entry: PCID 1's global stays
    EXPECT_EQ(read(t, 2, kKernel, k4K, true), Result::L1Hit);
    EXPECT_EQ(read(t, 2, 0x1000), Result::Miss);
    t.invalidate_pcid(1, false);  // the global entry was filled under PCID 1
    EXPECT_EQ(read(t, 2, kKernel, k4K, true), Result::Miss);
}

TEST(TlbCache, InvalidateAll) {
    TlbCache t;
    read(t, 1, 0x1000);
    read(t, 2, kKernel, k4K, true);
    t.invalidate_all(true);  // INVPCID type 3
    EXPECT_EQ(read(t, 1, 0x1000), Result::Miss);
    EXPECT_EQ(read(t, 1, kKernel, k4K, true), Result::L1Hit);
    t.invalidate_all(false);  // INVPCID type 2
    EXPECT_EQ(read(t, 1, kKernel, k4K, true), Result::Miss);
    EXPECT_EQ(read(t, 1, 0x1000), Result::Miss);
}

// DTLB 4 KiB: 16 sets x 4 ways; pages whose VPN is a multiple of 16 share set 0 (and sit in
// different STLB sets, so they all stay in the STLB).
TEST(TlbCache, L1EvictsTrueLru) {
    TlbCache t;
    auto page = [](char c) { return static_cast<uint64_t>(c - 'A' + 1) * 16 * k4K; };
    const std::vector<std::pair<char, Result>> steps = {
        {'A', Result::Miss},  {'B', Result::Miss},    {'C', Result::Miss},
        {'D', Result::Miss},                                // set: A1 B2 C3 D4
        {'A', Result::L1Hit},                               // A5
        {'E', Result::Miss},                                // evicts B2
        {'B', Result::StlbHit},                             // refill evicts C3
        {'C', Result::StlbHit},                             // evicts D4: A5 E6 B7 C8
        {'A', Result::L1Hit}, {'E', Result::L1Hit},         // A9 E10
        {'D', Result::StlbHit},                             // evicts B7
        {'B', Result::StlbHit},                             // evicts C8
        {'C', Result::StlbHit},                             // evicts A9
        {'E', Result::L1Hit},
    };
    for (size_t i = 0; i < steps.size(); ++i) {
        EXPECT_EQ(read(t, 1, page(steps[i].first)), steps[i].second) << "step " << i;
    }
    const TlbCache::Stats s = t.stats(1);
    EXPECT_EQ(s.l1_hits, 4u);
    EXPECT_EQ(s.stlb_hits, 5u);
    EXPECT_EQ(s.misses, 5u);
    EXPECT_EQ(s.evictions, 6u);
}

// STLB: 128 sets x 12 ways; VPNs that are multiples of 128 share STLB set 0 and DTLB set 0.
TEST(TlbCache, StlbEvictsTrueLru) {
    TlbCache t;
    auto page = [](uint64_t i) { return i * 128 * k4K; };
    for (uint64_t i = 0; i <= 12; ++i) EXPECT_EQ(read(t, 1, page(i)), Result::Miss);
    EXPECT_EQ(t.stats(1).evictions, 9u + 1u);  // DTLB from the 5th fill, STLB on the 13th
    EXPECT_EQ(read(t, 1, page(0)), Result::Miss);     // evicted from the STLB by page 12
    EXPECT_EQ(read(t, 1, page(2)), Result::StlbHit);  // page 0's fill evicted page 1
    EXPECT_EQ(read(t, 1, page(1)), Result::Miss);     // evicts page 3 (2 was just used)
    EXPECT_EQ(read(t, 1, page(4)), Result::StlbHit);
    EXPECT_EQ(read(t, 1, page(3)), Result::Miss);
    EXPECT_EQ(t.stats(1).evictions, 10u + 2u + 1u + 2u + 1u + 2u);
}

TEST(TlbCache, TwoMegabytePages) {
    TlbCache t;
    const uint64_t base = 0x40000000;
    EXPECT_EQ(read(t, 1, base + 0x1234, k2M), Result::Miss);
    EXPECT_EQ(read(t, 1, base + 0x1ff000, k2M), Result::L1Hit);  // anywhere in the page
    EXPECT_EQ(read(t, 1, base + 0x1234, k4K), Result::Miss);     // a 4 KiB entry is another
    // DTLB 2 MiB: 8 sets x 4 ways; 2 MiB VPNs that are multiples of 8 share set 0.
    auto page = [&](uint64_t i) { return base + i * 8 * k2M; };
    for (uint64_t i = 1; i <= 4; ++i) EXPECT_EQ(read(t, 1, page(i), k2M), Result::Miss);
    EXPECT_EQ(read(t, 1, page(0), k2M), Result::StlbHit);  // page 4 evicted it (LRU)
    EXPECT_EQ(read(t, 1, page(2), k2M), Result::L1Hit);    // page 0's refill evicted page 1
    EXPECT_EQ(read(t, 1, page(1), k2M), Result::StlbHit);
}

TEST(TlbCache, OneGigabyteFetchFracturesIntoTwoMegabyteItlb) {
    TlbCache t;
    const uint64_t base = kKernel;  // 1 GiB aligned
    EXPECT_EQ(t.access(0, base, k1G, true, Kind::Fetch), Result::Miss);
    EXPECT_EQ(t.access(0, base + k4K, k1G, true, Kind::Fetch), Result::L1Hit);
    EXPECT_EQ(t.access(0, base + k2M, k1G, true, Kind::Fetch), Result::StlbHit);  // new piece
    EXPECT_EQ(t.access(0, base + k2M, k1G, true, Kind::Fetch), Result::L1Hit);
    EXPECT_EQ(t.access(0, base + 0x3fff0000, k1G, true, Kind::Read), Result::StlbHit);
    // INVLPG anywhere in the 1 GiB page removes every piece.
    t.invalidate_page(0, base + 5 * k2M + 17);
    EXPECT_EQ(t.access(0, base + k2M, k1G, true, Kind::Fetch), Result::Miss);
    EXPECT_EQ(t.access(0, base, k1G, true, Kind::Fetch), Result::StlbHit);
    EXPECT_EQ(t.access(0, base, k1G, true, Kind::Read), Result::StlbHit);
}

TEST(TlbCache, MissingLevelIsBypassed) {
    TlbCacheConfig c;
    c.itlb_4k = {};
    c.itlb_2m = {};
    TlbCache t(c);
    EXPECT_EQ(t.access(1, 0x1000, k4K, false, Kind::Fetch), Result::Miss);
    EXPECT_EQ(t.access(1, 0x1000, k4K, false, Kind::Fetch), Result::StlbHit);
    c.stlb = {};
    TlbCache u(c);
    EXPECT_EQ(u.access(1, 0x1000, k4K, false, Kind::Fetch), Result::Miss);
    EXPECT_EQ(u.access(1, 0x1000, k4K, false, Kind::Fetch), Result::Miss);
    EXPECT_EQ(u.access(1, 0x1000, k4K, false, Kind::Read), Result::Miss);
    EXPECT_EQ(u.access(1, 0x1000, k4K, false, Kind::Read), Result::L1Hit);
}

TEST(TlbCache, StatsPerPcid) {
    TlbCache t;
    read(t, 7, 0x1000);
    read(t, 7, 0x1000);
    t.access(7, 0x1000, k4K, false, Kind::Fetch);
    read(t, 3, 0x1000);
    read(t, 4095, 0x1000);
    read(t, 4095, 0x2000);
    EXPECT_EQ(t.pcids(), (std::vector<uint16_t>{3, 7, 4095}));
    EXPECT_EQ(t.stats(7), (TlbCache::Stats{1, 1, 1, 0}));
    EXPECT_EQ(t.stats(3), (TlbCache::Stats{0, 0, 1, 0}));
    EXPECT_EQ(t.stats(4095), (TlbCache::Stats{0, 0, 2, 0}));
    EXPECT_EQ(t.stats(0), TlbCache::Stats{});
    EXPECT_EQ(t.total(), (TlbCache::Stats{1, 1, 4, 0}));
    EXPECT_EQ(t.total().accesses(), 6u);
    t.invalidate_all(false);  // invalidations do not reset statistics
    EXPECT_EQ(t.total().accesses(), 6u);
}

TEST(TlbCache, RejectsBadInput) {
    TlbCacheConfig c;
    c.stlb = {1536, 7};  // 7 does not divide 1536
    EXPECT_THROW(TlbCache{c}, std::invalid_argument);
    c.stlb = {96, 8};  // 12 sets: not a power of two
    EXPECT_THROW(TlbCache{c}, std::invalid_argument);
    c.stlb = {16, 0};
    EXPECT_THROW(TlbCache{c}, std::invalid_argument);
    TlbCache t;
    EXPECT_THROW(t.access(1, 0, 8192, false, Kind::Read), std::invalid_argument);
    EXPECT_THROW(t.access(4096, 0, k4K, false, Kind::Read), std::invalid_argument);
    EXPECT_TRUE(t.pcids().empty());
    EXPECT_STREQ(to_string(Result::StlbHit), "stlb-hit");
}

}  // namespace
}  // namespace cpu_model
