// Orders, migratetypes, sensitivities and the freetype that combines them.
//
// Sources: Linux mm/page_alloc.c (orders, pageblocks, fallbacks[]) and the September 2025
// series "mm: ASI direct map management" (Brendan Jackman), patches "mm: introduce
// freetype_t" and "mm/asi: encode sensitivity in freetypes and pageblocks": free pages are
// indexed by migratetype x sensitivity, so with ASI on the number of free lists doubles.
#pragma once
#include <stdint.h>

namespace page_alloc {

constexpr uint32_t kPageShift = 12;
constexpr uint64_t kPageSize = 1ull << kPageShift;
// MAX_PAGE_ORDER in Linux: the largest buddy block is 2^10 pages (4 MiB).
constexpr uint32_t kMaxOrder = 10;
constexpr uint32_t kNrOrders = kMaxOrder + 1;
// pageblock_order on x86-64 (HPAGE_PMD_ORDER): 2 MiB, the granularity at which the series
// changes sensitivity, because the restricted direct map's tables are preallocated down to
// the PMD level and a change only flips _PAGE_PRESENT in one PMD entry.
constexpr uint32_t kPageblockOrder = 9;
constexpr uint64_t kPageblockPages = 1ull << kPageblockOrder;
constexpr uint64_t kMaxOrderPages = 1ull << kMaxOrder;
constexpr uint64_t kNoPfn = ~0ull;

// Linux's numbering (MIGRATE_UNMOVABLE = 0, MIGRATE_MOVABLE = 1, MIGRATE_RECLAIMABLE = 2).
// CMA, HIGHATOMIC and ISOLATE are left out: this zone has no CMA area, no atomic reserve
// and no memory hotplug.
enum class Migratetype : uint8_t { kUnmovable = 0, kMovable = 1, kReclaimable = 2 };
constexpr uint32_t kNrMigratetypes = 3;

// Sensitive memory is absent from the restricted address space (__GFP_SENSITIVE).
enum class Sensitivity : uint8_t { kNonsensitive = 0, kSensitive = 1 };
constexpr uint32_t kNrSensitivities = 2;

constexpr Sensitivity opposite(Sensitivity s) {
    return s == Sensitivity::kSensitive ? Sensitivity::kNonsensitive : Sensitivity::kSensitive;
}

// freetype_t: one free list per (order, freetype). Encoding:
//   value = migratetype + kNrMigratetypes * sensitivity     (0..5)
// Policies that do not split free memory by sensitivity (rfc, off) only use the
// nonsensitive half (values 0..2).
struct Freetype {
    uint8_t value = 0;

    static constexpr Freetype make(Migratetype mt, Sensitivity s) {
        return Freetype{static_cast<uint8_t>(static_cast<uint8_t>(mt) +
                                             kNrMigratetypes * static_cast<uint8_t>(s))};
    }
    constexpr Migratetype migratetype() const {
        return static_cast<Migratetype>(value % kNrMigratetypes);
    }
    constexpr Sensitivity sensitivity() const {
        return static_cast<Sensitivity>(value / kNrMigratetypes);
    }
    constexpr bool operator==(const Freetype&) const = default;
};
constexpr uint32_t kNrFreetypes = kNrMigratetypes * kNrSensitivities;

// Linux's fallbacks[]: the order in which other migratetypes are raided when the wanted
// one is empty. The series keeps fallback inside one sensitivity: stealing across
// sensitivities is not a fallback but a sensitivity change (section "support changing
// pageblock sensitivity").
constexpr uint32_t kNrFallbacks = 2;
constexpr Migratetype kFallbacks[kNrMigratetypes][kNrFallbacks] = {
    /* unmovable   */ {Migratetype::kReclaimable, Migratetype::kMovable},
    /* movable     */ {Migratetype::kReclaimable, Migratetype::kUnmovable},
    /* reclaimable */ {Migratetype::kUnmovable, Migratetype::kMovable},
};

constexpr const char* migratetype_name(Migratetype mt) {
    switch (mt) {
        case Migratetype::kUnmovable: return "unmovable";
        case Migratetype::kMovable: return "movable";
        case Migratetype::kReclaimable: return "reclaimable";
    }
    return "?";
}

}  // namespace page_alloc
