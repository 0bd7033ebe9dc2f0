#include "cpu_model/tlb_cache.h"

#include <stdexcept>
#include <string>

namespace cpu_model {

namespace {

constexpr unsigned kShift[3] = {12, 21, 30};

bool power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

TlbCache::Stats& TlbCache::Stats::operator+=(const Stats& o) {
    l1_hits += o.l1_hits;
    stlb_hits += o.stlb_hits;
    misses += o.misses;
    evictions += o.evictions;
    return *this;
}

TlbCache::TlbCache(const TlbCacheConfig& c) : stats_(kPcidCount) {
    struct Spec {
        const char* name;
        TlbArrayGeometry geometry;
        Level level;
        uint8_t size_mask;
    };
    const std::array<Spec, kArrays> specs{{
        {"itlb_4k", c.itlb_4k, kItlb, 0b001},
        {"itlb_2m", c.itlb_2m, kItlb, 0b010},
        {"itlb_1g", c.itlb_1g, kItlb, 0b100},
        {"dtlb_4k", c.dtlb_4k, kDtlb, 0b001},
        {"dtlb_2m", c.dtlb_2m, kDtlb, 0b010},
        {"dtlb_1g", c.dtlb_1g, kDtlb, 0b100},
        {"stlb", c.stlb, kStlb, 0b011},
        {"stlb_1g", c.stlb_1g, kStlb, 0b100},
    }};

    for (int i = 0; i < kArrays; ++i) {
        const Spec& s = specs[i];
        const TlbArrayGeometry& g = s.geometry;
        if (g.entries == 0) continue;
        if (g.ways == 0 || g.entries % g.ways != 0 || !power_of_two(g.entries / g.ways)) {
            throw std::invalid_argument(std::string("TLB cache: ") + s.name + ": " +
                                        std::to_string(g.entries) + " entries, " +
                                        std::to_string(g.ways) +
                                        " ways: need ways | entries and a power-of-two set count");
        }
        Array& a = arrays_[i];
        a.ways = g.ways;
        a.set_mask = g.entries / g.ways - 1;
        a.size_mask = s.size_mask;
        a.entries.assign(g.entries, Entry{});
    }

    // Route every page size at every level: its own array, else the largest smaller one
    // (fractured), else bypass.
    for (int level = 0; level < kLevels; ++level) {
        for (int size = 0; size < kSizes; ++size) {
            Route r;
            for (int piece = size; piece >= 0 && r.array < 0; --piece) {
                for (int i = 0; i < kArrays; ++i) {
                    if (specs[i].level == level && arrays_[i].exists() &&
                        (arrays_[i].size_mask & (1u << piece)) != 0) {
                        r.array = static_cast<int8_t>(i);
                        r.size = static_cast<uint8_t>(piece);
                        if (piece != size) arrays_[i].may_fracture = true;
                        break;
                    }
                }
            }
            routes_[level][size] = r;
        }
    }
}

int TlbCache::size_index(uint64_t page_size) {
    switch (page_size) {
        case 1ull << 12: return 0;
        case 1ull << 21: return 1;
        case 1ull << 30: return 2;
        default: throw std::invalid_argument("TLB cache: page size " + std::to_string(page_size));
    }
}

void TlbCache::check_pcid(uint16_t pcid) {
    if (pcid >= kPcidCount) throw std::invalid_argument("TLB cache: PCID " + std::to_string(pcid));
}

TlbCache::Entry* TlbCache::lookup(Array& a, uint16_t pcid, uint64_t va, uint8_t size) {
    const uint64_t vpn = va >> kShift[size];
    Entry* set = &a.entries[(vpn & a.set_mask) * a.ways];
    Entry* best = nullptr;
    for (uint32_t w = 0; w < a.ways; ++w) {
        Entry& e = set[w];
        if (e.valid() && e.vpn == vpn && e.size == size && (e.global || e.pcid == pcid) &&
            (best == nullptr || e.stamp > best->stamp)) {
            best = &e;
        }
    }
    return best;
}

bool TlbCache::fill(Array& a, uint16_t pcid, uint64_t va, uint8_t size, uint8_t page,
                    bool global) {
    const uint64_t vpn = va >> kShift[size];
    Entry* set = &a.entries[(vpn & a.set_mask) * a.ways];
    Entry* victim = nullptr;
    for (uint32_t w = 0; w < a.ways; ++w) {
        Entry& e = set[w];
        if (!e.valid()) {
            victim = &e;
            break;
        }
        if (victim == nullptr || e.stamp < victim->stamp) victim = &e;
    }
    const bool evicted = victim->valid();
    *victim = Entry{vpn, ++clock_, pcid, size, page, global};
    return evicted;
}

TlbCache::AccessResult TlbCache::access(uint16_t pcid, uint64_t va, uint64_t page_size,
                                        bool global, AccessKind kind) {
    check_pcid(pcid);
    const int page = size_index(page_size);
    seen_.set(pcid);
    Stats& st = stats_[pcid];

    const Route r1 = routes_[kind == AccessKind::Fetch ? kItlb : kDtlb][page];
    const Route r2 = routes_[kStlb][page];

    if (r1.array >= 0) {
        if (Entry* e = lookup(arrays_[r1.array], pcid, va, r1.size)) {
            e->stamp = ++clock_;
            ++st.l1_hits;
            return AccessResult::L1Hit;
        }
    }
    if (r2.array >= 0) {
        if (Entry* e = lookup(arrays_[r2.array], pcid, va, r2.size)) {
            e->stamp = ++clock_;
            // The refilled L1 entry copies the STLB entry's identity (its global bit and
            // PCID), not the access's.
            const Entry src = *e;
            if (r1.array >= 0 &&
                fill(arrays_[r1.array], src.pcid, va, r1.size, static_cast<uint8_t>(page),
                     src.global)) {
                ++st.evictions;
            }
            ++st.stlb_hits;
            return AccessResult::StlbHit;
        }
    }
    if (r2.array >= 0 &&
        fill(arrays_[r2.array], pcid, va, r2.size, static_cast<uint8_t>(page), global)) {
        ++st.evictions;
    }
    if (r1.array >= 0 &&
        fill(arrays_[r1.array], pcid, va, r1.size, static_cast<uint8_t>(page), global)) {
        ++st.evictions;
    }
    ++st.misses;
    return AccessResult::Miss;
}

template <class Pred>
void TlbCache::invalidate_if(Pred pred) {
    for (Array& a : arrays_) {
        for (Entry& e : a.entries) {
            if (e.valid() && pred(e)) e.invalidate();
        }
    }
}

void TlbCache::invalidate_page(uint16_t pcid, uint64_t va) {
    check_pcid(pcid);
    for (Array& a : arrays_) {
        if (!a.exists()) continue;
        if (a.may_fracture) {
            // Pieces of one large page sit in different sets: look at every entry and
            // compare the page it came from.
            for (Entry& e : a.entries) {
                if (e.valid() && (e.global || e.pcid == pcid) &&
                    ((e.vpn << kShift[e.size]) >> kShift[e.page]) == (va >> kShift[e.page])) {
                    e.invalidate();
                }
            }
            continue;
        }
        for (uint8_t size = 0; size < kSizes; ++size) {
            if ((a.size_mask & (1u << size)) == 0) continue;
            const uint64_t vpn = va >> kShift[size];
            Entry* set = &a.entries[(vpn & a.set_mask) * a.ways];
            for (uint32_t w = 0; w < a.ways; ++w) {
                Entry& e = set[w];
                if (e.valid() && e.vpn == vpn && e.size == size && (e.global || e.pcid == pcid)) {
                    e.invalidate();
                }
            }
        }
    }
}

void TlbCache::invalidate_pcid(uint16_t pcid, bool keep_global) {
    check_pcid(pcid);
    invalidate_if([&](const Entry& e) { return e.pcid == pcid && !(keep_global && e.global); });
}

void TlbCache::invalidate_all(bool keep_global) {
    invalidate_if([&](const Entry& e) { return !(keep_global && e.global); });
}

TlbCache::Stats TlbCache::stats(uint16_t pcid) const {
    check_pcid(pcid);
    return stats_[pcid];
}

TlbCache::Stats TlbCache::total() const {
    Stats t;
    for (const Stats& s : stats_) t += s;
    return t;
}

std::vector<uint16_t> TlbCache::pcids() const {
    std::vector<uint16_t> out;
    for (uint16_t p = 0; p < kPcidCount; ++p) {
        if (seen_.test(p)) out.push_back(p);
    }
    return out;
}

const char* to_string(TlbCache::AccessResult r) {
    switch (r) {
        case TlbCache::AccessResult::L1Hit: return "l1-hit";
        case TlbCache::AccessResult::StlbHit: return "stlb-hit";
        case TlbCache::AccessResult::Miss: return "miss";
    }
    return "?";
}

}  // namespace cpu_model
