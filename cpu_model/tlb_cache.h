// A finite, set-associative TLB: one plausible CPU's behaviour, for statistics only
// (--tlb-stats). It is fed the translations the guest really uses and counts L1 hits, STLB
// hits and page walks per PCID. It never feeds the leak oracle: verdicts come from TlbModel,
// the architecture's envelope, which keeps everything the SDM allows to be cached. An entry
// this model has evicted may still be cached as far as the oracle is concerned.
//
// Default geometry: Skylake client (also Skylake-SP/Cascade Lake server cores), from the
// Intel 64 and IA-32 Architectures Optimization Reference Manual (248966-045, Feb. 2022),
// Table 2-15 "TLB Parameters of the Skylake Microarchitecture":
//   ITLB  4 KiB       128 entries, 8-way      ITLB 2 MiB  8 entries/thread (modelled fully
//   DTLB  4 KiB        64 entries, 4-way                   associative: 8 entries, 8-way)
//   DTLB  2 MiB        32 entries, 4-way      DTLB 1 GiB  4 entries, 4-way (fully assoc.)
//   STLB  4 KiB+2 MiB 1536 entries, 12-way     STLB 1 GiB 16 entries, 4-way
// Later cores differ in size, not in kind (e.g. Sunny Cove: STLB 2048 entries 16-way).
//
// Assumptions where Intel publishes nothing (each a modelling choice, not a fact):
//  - One thread per core: no Hyper-Threading partitioning of the arrays.
//  - Reads and writes both use the DTLB; fetches use the ITLB; both refill from the STLB.
//  - Set index = low bits of the virtual page number at the entry's own page size:
//    (va >> log2(size)) & (sets - 1). The unified STLB indexes 4 KiB and 2 MiB entries the
//    same way into one pool of sets (real STLBs hash; the hash is unpublished).
//  - Replacement is true LRU per set: a hit or a fill makes the entry most recently used;
//    a fill takes the lowest-numbered invalid way, else evicts the least recently used
//    valid way. If several valid entries match one lookup (possible: a global entry and a
//    PCID-tagged one for the same page), the most recently used one is used.
//  - Non-inclusive levels: an L1 eviction leaves the STLB alone and an STLB eviction does
//    not remove the L1 copy. An L1 miss that hits the STLB refills L1; a miss in both (a
//    page walk) fills both.
//  - A page size with no array at a level is "fractured" (SDM vol. 3A 4.10.2.3: a
//    processor may cache a large page as smaller-page entries): it is cached in the array of
//    the largest smaller size that level has, as the piece containing the address (so a
//    1 GiB fetch goes into the 2 MiB ITLB). With no smaller array either, that level is
//    bypassed for the size.
//  - A global entry matches every PCID but remembers the PCID it was filled under (SDM
//    4.10.1: entries are associated with the current PCID; 4.10.2.4: global ones are used
//    regardless of it). The `global` argument of access() only sets the bit of a new entry.
//
// Configuration rules: an array with entries == 0 does not exist; otherwise ways must
// divide entries and entries / ways (the number of sets) must be a power of two
// (std::invalid_argument otherwise). PCIDs are 12 bits (SDM 4.10.1); page sizes are 4 KiB,
// 2 MiB or 1 GiB (std::invalid_argument otherwise).
//
// Cost: every array is allocated once, in the constructor. access() allocates nothing and
// scans at most one set per level (at most ways entries each).
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <vector>

namespace cpu_model {

struct TlbArrayGeometry {
    uint32_t entries = 0;  // 0: the array does not exist
    uint32_t ways = 0;     // == entries: fully associative
    uint32_t sets() const { return ways == 0 ? 0 : entries / ways; }
};

struct TlbCacheConfig {
    TlbArrayGeometry itlb_4k{128, 8};
    TlbArrayGeometry itlb_2m{8, 8};
    TlbArrayGeometry itlb_1g{0, 0};  // none on Skylake: 1 GiB fetches fracture into itlb_2m
    TlbArrayGeometry dtlb_4k{64, 4};
    TlbArrayGeometry dtlb_2m{32, 4};
    TlbArrayGeometry dtlb_1g{4, 4};
    TlbArrayGeometry stlb{1536, 12};  // unified: 4 KiB and 2 MiB entries
    TlbArrayGeometry stlb_1g{16, 4};
};

class TlbCache {
public:
    enum class AccessKind : uint8_t { Fetch, Read, Write };
    enum class AccessResult : uint8_t { L1Hit, StlbHit, Miss };

    struct Stats {
        uint64_t l1_hits = 0;
        uint64_t stlb_hits = 0;   // L1 misses that hit the STLB (each refills L1)
        uint64_t misses = 0;      // page walks: each fills the STLB and L1
        uint64_t evictions = 0;   // valid entries (either level) displaced by this PCID's fills
        uint64_t accesses() const { return l1_hits + stlb_hits + misses; }
        Stats& operator+=(const Stats& o);
        bool operator==(const Stats&) const = default;
    };

    static constexpr uint16_t kPcidCount = 4096;

    explicit TlbCache(const TlbCacheConfig& config = {});

    // One use of the translation of `va` (a page of `page_size`, global if G=1 and
    // CR4.PGE=1) by the current PCID.
    AccessResult access(uint16_t pcid, uint64_t va, uint64_t page_size, bool global,
                        AccessKind kind);

    // INVLPG / INVPCID type 0 (with globals): every entry, at every level and page size, for
    // the page containing `va` that belongs to `pcid` or is global. A large page cached as
    // several fractured pieces loses all of them (SDM 4.10.4.1, INVLPG).
    void invalidate_page(uint16_t pcid, uint64_t va);
    // Entries filled under `pcid`; global ones too unless keep_global (INVPCID type 1 and
    // MOV to CR3 keep them).
    void invalidate_pcid(uint16_t pcid, bool keep_global);
    // Every entry; global ones survive if keep_global (INVPCID type 3 vs. type 2).
    void invalidate_all(bool keep_global);

    Stats stats(uint16_t pcid) const;
    Stats total() const;
    std::vector<uint16_t> pcids() const;  // ascending; those that made at least one access

private:
    static constexpr int kSizes = 3;  // 4 KiB, 2 MiB, 1 GiB
    static constexpr int kArrays = 8;
    enum Level : uint8_t { kItlb, kDtlb, kStlb, kLevels };

    // One cached translation (cf. Bochs cpu/tlb.h). stamp orders uses for LRU; 0 = invalid.
    struct Entry {
        uint64_t vpn = 0;     // va >> shift of `size`
        uint64_t stamp = 0;
        uint16_t pcid = 0;
        uint8_t size = 0;     // size index of this entry (the piece, if fractured)
        uint8_t page = 0;     // size index of the page it came from (> size: fractured)
        bool global = false;
        bool valid() const { return stamp != 0; }
        void invalidate() { stamp = 0; }
    };

    struct Array {
        uint32_t ways = 0;
        uint64_t set_mask = 0;
        uint8_t size_mask = 0;        // bit i: holds entries of size index i
        bool may_fracture = false;    // some larger page size is routed here
        std::vector<Entry> entries;   // set-major: sets * ways
        bool exists() const { return ways != 0; }
    };

    // Where a page of size index s goes at a level: array index (-1: bypass) and the size
    // index of the entry stored there.
    struct Route {
        int8_t array = -1;
        uint8_t size = 0;
    };

    static int size_index(uint64_t page_size);
    static void check_pcid(uint16_t pcid);
    Entry* lookup(Array& a, uint16_t pcid, uint64_t va, uint8_t size);
    // Returns whether a valid entry was evicted.
    bool fill(Array& a, uint16_t pcid, uint64_t va, uint8_t size, uint8_t page, bool global);
    template <class Pred>
    void invalidate_if(Pred pred);

    std::array<Array, kArrays> arrays_{};
    std::array<std::array<Route, kSizes>, kLevels> routes_{};
    uint64_t clock_ = 0;
    std::vector<Stats> stats_;  // kPcidCount
    std::bitset<kPcidCount> seen_;
};

const char* to_string(TlbCache::AccessResult r);

}  // namespace cpu_model
