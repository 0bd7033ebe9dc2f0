// TlbCache against a small, obviously-correct reference: per set, a list of entries in
// recency order (most recent first), with the same documented policy (true LRU, MRU match
// first, L1 refilled from the STLB entry, fracturing into the largest smaller array, INVLPG
// removing every entry whose page contains the address). Random accesses and invalidations.
#include "cpu_model/tlb_cache.h"

#include <gtest/gtest.h>

#include <array>
#include <list>
#include <map>
#include <random>
#include <vector>

namespace cpu_model {
namespace {

using Kind = TlbCache::AccessKind;
using Result = TlbCache::AccessResult;

constexpr uint64_t k4K = 1ull << 12;
constexpr uint64_t k2M = 1ull << 21;
constexpr uint64_t k1G = 1ull << 30;

class ReferenceTlb {
public:
    explicit ReferenceTlb(const TlbCacheConfig& c) {
        add(0, c.itlb_4k, {k4K});
        add(0, c.itlb_2m, {k2M});
        add(0, c.itlb_1g, {k1G});
        add(1, c.dtlb_4k, {k4K});
        add(1, c.dtlb_2m, {k2M});
        add(1, c.dtlb_1g, {k1G});
        add(2, c.stlb, {k4K, k2M});
        add(2, c.stlb_1g, {k1G});
    }

    Result access(uint16_t pcid, uint64_t va, uint64_t size, bool global, Kind kind) {
        TlbCache::Stats& st = stats_[pcid];
        auto [l1, l1_piece] = route(kind == Kind::Fetch ? 0 : 1, size);
        auto [l2, l2_piece] = route(2, size);
        if (l1 != nullptr && lookup(*l1, pcid, va, l1_piece) != nullptr) {
            ++st.l1_hits;
            return Result::L1Hit;
        }
        if (l2 != nullptr) {
            if (const E* e = lookup(*l2, pcid, va, l2_piece)) {
                const E src = *e;
                if (l1 != nullptr) st.evictions += fill(*l1, src.pcid, va, l1_piece, size, src.global);
                ++st.stlb_hits;
                return Result::StlbHit;
            }
            st.evictions += fill(*l2, pcid, va, l2_piece, size, global);
        }
        if (l1 != nullptr) st.evictions += fill(*l1, pcid, va, l1_piece, size, global);
        ++st.misses;
        return Result::Miss;
    }

    void invalidate_page(uint16_t pcid, uint64_t va) {
        remove_if([&](const E& e) {
            return (e.global || e.pcid == pcid) && e.page_base == (va & ~(e.page_size - 1));
        });
    }
    void invalidate_pcid(uint16_t pcid, bool keep_global) {
        remove_if([&](const E& e) { return e.pcid == pcid && !(keep_global && e.global); });
    }
    void invalidate_all(bool keep_global) {
        remove_if([&](const E& e) { return !(keep_global && e.global); });
    }

    const std::map<uint16_t, TlbCache::Stats>& stats() const { return stats_; }

private:
    struct E {
        uint64_t piece_base, piece_size, page_base, page_size;
        uint16_t pcid;
        bool global;
    };
    struct Arr {
        uint64_t sets, ways;
        std::vector<uint64_t> sizes;
        std::map<uint64_t, std::list<E>> by_set;
    };

    void add(int level, TlbArrayGeometry g, std::vector<uint64_t> sizes) {
        if (g.entries != 0) levels_[level].push_back(Arr{g.entries / g.ways, g.ways, sizes, {}});
    }

    std::pair<Arr*, uint64_t> route(int level, uint64_t size) {
        for (uint64_t piece : {k1G, k2M, k4K}) {
            if (piece > size) continue;
            for (Arr& a : levels_[level]) {
                for (uint64_t s : a.sizes) {
                    if (s == piece) return {&a, piece};
                }
            }
        }
        return {nullptr, 0};
    }

    std::list<E>& set_of(Arr& a, uint64_t va, uint64_t piece) {
        return a.by_set[(va / piece) % a.sets];
    }

    const E* lookup(Arr& a, uint16_t pcid, uint64_t va, uint64_t piece) {
        std::list<E>& l = set_of(a, va, piece);
        for (auto it = l.begin(); it != l.end(); ++it) {
            if (it->piece_size == piece && it->piece_base == (va & ~(piece - 1)) &&
                (it->global || it->pcid == pcid)) {
                l.splice(l.begin(), l, it);
                return &l.front();
            }
        }
        return nullptr;
    }

    uint64_t fill(Arr& a, uint16_t pcid, uint64_t va, uint64_t piece, uint64_t page, bool global) {
        std::list<E>& l = set_of(a, va, piece);
        uint64_t evicted = 0;
        if (l.size() == a.ways) {
            l.pop_back();
            evicted = 1;
        }
        l.push_front(E{va & ~(piece - 1), piece, va & ~(page - 1), page, pcid, global});
        return evicted;
    }

    template <class Pred>
    void remove_if(Pred p) {
        for (auto& level : levels_) {
            for (Arr& a : level) {
                for (auto& [set, l] : a.by_set) l.remove_if(p);
            }
        }
    }

    std::array<std::vector<Arr>, 3> levels_;
    std::map<uint16_t, TlbCache::Stats> stats_;
};

void run_against_reference(const TlbCacheConfig& config, uint64_t seed, uint64_t big_pages,
                           uint64_t small_pages, int ops) {
    TlbCache tlb(config);
    ReferenceTlb ref(config);
    std::mt19937_64 rng(seed);
    auto pick = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
    const std::array<uint64_t, 3> regions = {0x0, 0x7f8000000000, 0xffff888000000000};
    const std::array<uint16_t, 5> pcid_pool = {0, 1, 2, 3, 4095};
    auto random_va = [&] {
        return regions[pick(regions.size())] + pick(2) * k1G + pick(big_pages) * k2M +
               pick(small_pages) * k4K + pick(k4K);
    };

    int accesses = 0;
    for (int i = 0; i < ops; ++i) {
        const uint16_t pcid = pcid_pool[pick(pcid_pool.size())];
        const uint64_t dice = pick(100);
        if (dice < 3) {
            const uint64_t va = random_va();
            tlb.invalidate_page(pcid, va);
            ref.invalidate_page(pcid, va);
        } else if (dice < 5) {
            const bool keep = pick(2) != 0;
            tlb.invalidate_pcid(pcid, keep);
            ref.invalidate_pcid(pcid, keep);
        } else if (dice < 6) {
            const bool keep = pick(2) != 0;
            tlb.invalidate_all(keep);
            ref.invalidate_all(keep);
        } else {
            const uint64_t va = random_va();
            const uint64_t r = pick(10);
            const uint64_t size = r < 7 ? k4K : r < 9 ? k2M : k1G;
            const bool global = pick(4) == 0;
            const Kind kind = static_cast<Kind>(pick(3));
            const Result want = ref.access(pcid, va, size, global, kind);
            const Result got = tlb.access(pcid, va, size, global, kind);
            ASSERT_EQ(got, want) << "op " << i << " pcid " << pcid << " va " << std::hex << va
                                 << " size " << size << " global " << global << " kind "
                                 << static_cast<int>(kind);
            ++accesses;
        }
    }

    TlbCache::Stats sum;
    std::vector<uint16_t> seen;
    for (const auto& [pcid, s] : ref.stats()) {
        EXPECT_EQ(tlb.stats(pcid), s) << "pcid " << pcid;
        sum += s;
        seen.push_back(pcid);
    }
    EXPECT_EQ(tlb.total(), sum);
    EXPECT_EQ(tlb.pcids(), seen);
    EXPECT_EQ(sum.accesses(), static_cast<uint64_t>(accesses));
    // The workload must exercise every outcome, or the comparison proves little.
    EXPECT_GT(sum.l1_hits, 0u);
    EXPECT_GT(sum.stlb_hits, 0u);
    EXPECT_GT(sum.misses, 0u);
    EXPECT_GT(sum.evictions, 0u);
}

TEST(TlbCacheReference, TinyGeometryWithFracturing) {
    TlbCacheConfig c;
    c.itlb_4k = {4, 2};
    c.itlb_2m = {2, 2};
    c.itlb_1g = {};
    c.dtlb_4k = {8, 2};
    c.dtlb_2m = {4, 2};
    c.dtlb_1g = {};   // 1 GiB data pages fracture into dtlb_2m
    c.stlb = {16, 4};
    c.stlb_1g = {};   // ... and into the unified STLB
    for (uint64_t seed = 1; seed <= 4; ++seed) run_against_reference(c, seed, 4, 8, 5000);
}

TEST(TlbCacheReference, TinyGeometryWithOneGigabyteArrays) {
    TlbCacheConfig c;
    c.itlb_4k = {8, 8};  // fully associative
    c.itlb_2m = {};      // 2 MiB and 1 GiB fetches fracture into itlb_4k
    c.dtlb_4k = {4, 1};  // direct mapped
    c.dtlb_2m = {2, 1};
    c.dtlb_1g = {2, 2};
    c.stlb = {8, 2};
    c.stlb_1g = {2, 1};
    for (uint64_t seed = 11; seed <= 14; ++seed) run_against_reference(c, seed, 4, 8, 5000);
}

TEST(TlbCacheReference, DefaultGeometry) {
    run_against_reference(TlbCacheConfig{}, 42, 64, 512, 20000);
}

}  // namespace
}  // namespace cpu_model
