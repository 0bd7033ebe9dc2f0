// Vocabulary shared by the TLB model and its users: control-register bits that decide
// invalidation (SDM vol. 3A 4.10.4.1), INVPCID types (INVPCID instruction reference), where a
// possibly-cached translation comes from, and what an invalidation removed.
#pragma once

#include <cstdint>

#include "mmu/address_space_index.h"

namespace cpu_model {

// A process-context identifier: CR3[11:0] when CR4.PCIDE=1, 000H otherwise (SDM 4.10.1).
using Pcid = uint16_t;

namespace cr_bits {
inline constexpr uint64_t kCr0Pg = 1ull << 31;
inline constexpr uint64_t kCr3PcidMask = 0xfff;
inline constexpr uint64_t kCr3NoFlush = 1ull << 63;  // MOV to CR3 source only, never stored
inline constexpr uint64_t kCr4Pge = 1ull << 7;
inline constexpr uint64_t kCr4Pcide = 1ull << 17;
inline constexpr uint64_t kCr4Smep = 1ull << 20;
}  // namespace cr_bits

enum class InvpcidType : uint8_t {
    IndividualAddress = 0,       // one PCID, one linear address, not global translations
    SingleContext = 1,           // one PCID, not global translations
    AllContextsAndGlobals = 2,   // every PCID, global translations included
    AllContexts = 3,             // every PCID, not global translations
};

enum class CacheSource : uint8_t {
    // The root in this vCPU's CR3 now: anything in its current tables may be cached at any
    // moment, so flushing it removes nothing the tables do not still say.
    CurrentRoot,
    // A root loaded earlier under this PCID (or, for global translations, under any PCID) and
    // not invalidated since. Its tables still say what was cached.
    RetainedRoot,
    // Derived through a paging-structure-cache entry (or TLB entries made through it) whose
    // paging-structure entry has since been changed to point elsewhere: the old table's
    // *current* content is used (SDM 4.10.3.1, 4.10.3.3).
    StaleTable,
    // A TLB entry whose leaf paging-structure entry has since changed or been cleared.
    StaleEntry,
};

const char* to_string(CacheSource s);

// One translation a vCPU may use.
struct CachedTranslation {
    uint64_t va_page = 0;    // canonical, aligned to page_size
    uint64_t page_size = 0;  // 4 KiB, 2 MiB or 1 GiB
    uint64_t frame = 0;      // physical base of the page
    uint64_t entry = 0;      // the leaf entry it was (or may be) cached from
    bool global = false;     // G=1 and CR4.PGE=1: matches every PCID (SDM 4.10.2.4)
    CacheSource source = CacheSource::CurrentRoot;
    Pcid pcid = 0;           // the PCID it is associated with
    mmu::TableKey anchor{};  // the root or old table it came through (none for StaleEntry)
};

// What an invalidation removed. A flush is *needed* when it removed something the paging
// structures no longer back (stale); one that removed only translations the tables still
// hold, or nothing, is *redundant*.
struct InvalidationEffect {
    uint32_t stale_entries = 0;  // TLB entries whose leaf changed, or made through old tables
    uint32_t stale_tables = 0;   // paging-structure-cache entries for old tables
    uint32_t live = 0;           // cached state of roots whose tables still back it
    bool needed() const { return stale_entries != 0 || stale_tables != 0; }
    bool removed_anything() const { return needed() || live != 0; }
    InvalidationEffect& operator+=(const InvalidationEffect& o) {
        stale_entries += o.stale_entries;
        stale_tables += o.stale_tables;
        live += o.live;
        return *this;
    }
};

}  // namespace cpu_model
