// Typed paging-structure entries for 4-level paging (SDM vol. 3A 4.5, tables 4-14 to 4-20).
//
// One value type per level; the PS bit (bit 7) is the tag that says whether a PDPTE or PDE
// maps a page (1 GiB / 2 MiB) or references the next table. No C bitfields: the encoding is
// the constants below, in one place, and every accessor is a mask of the raw 64-bit value.
//
// Encoding (SDM 4.5, tables 4-15 PML4E, 4-16 PDPTE 1G, 4-17 PDPTE, 4-18 PDE 2M, 4-19 PDE,
// 4-20 PTE):
//
//   bit  0      P     present; when 0 every other bit is ignored by the processor
//   bit  1      R/W   0: writes not allowed to the region this entry controls (SDM 4.6)
//   bit  2      U/S   0: user-mode (CPL 3) accesses not allowed (SDM 4.6)
//   bit  3      PWT   page-level write-through
//   bit  4      PCD   page-level cache disable
//   bit  5      A     accessed (SDM 4.8)
//   bit  6      D     dirty; only in an entry that maps a page, ignored otherwise (SDM 4.8)
//   bit  7      PS    PML4E: reserved (must be 0); PDPTE/PDE: 1 = maps a 1 GiB / 2 MiB page;
//                     PTE: PAT
//   bit  8      G     global; only in an entry that maps a page, ignored otherwise (SDM 4.10.2.4)
//   bits 11:9         ignored
//   bit  12     PAT   in a 1 GiB / 2 MiB page entry; part of the address in other entries
//   bits M-1:12       physical address (4 KiB frame or next table); a 2 MiB page's base is
//                     bits M-1:21 with bits 20:13 reserved, a 1 GiB page's base is bits M-1:30
//                     with bits 29:13 reserved
//   bits 51:M         reserved (must be 0); M = MAXPHYADDR
//   bits 62:52        ignored (62:59 are the protection key of a page entry when CR4.PKE=1)
//   bit  63     XD    execute-disable when IA32_EFER.NXE=1; reserved (must be 0) otherwise
//
// A reserved bit set in a present entry makes any access through it fault with the RSVD bit
// in the error code (SDM 4.7).
#pragma once

#include <cstdint>

namespace mmu {

// The level of an entry, numbered as the walk's leaf_level: 1 = PTE ... 4 = PML4E.
enum class PteLevel : uint8_t { Pte = 1, Pde = 2, Pdpte = 3, Pml4e = 4 };

namespace pte_bits {
inline constexpr uint64_t kPresent = 1ull << 0;
inline constexpr uint64_t kWritable = 1ull << 1;
inline constexpr uint64_t kUser = 1ull << 2;
inline constexpr uint64_t kWriteThrough = 1ull << 3;
inline constexpr uint64_t kCacheDisable = 1ull << 4;
inline constexpr uint64_t kAccessed = 1ull << 5;
inline constexpr uint64_t kDirty = 1ull << 6;
inline constexpr uint64_t kPageSize = 1ull << 7;  // PDPTE/PDE; reserved in a PML4E
inline constexpr uint64_t kPatSmall = 1ull << 7;  // PTE
inline constexpr uint64_t kGlobal = 1ull << 8;
inline constexpr uint64_t kPatLarge = 1ull << 12;  // 1 GiB / 2 MiB page entry
inline constexpr uint64_t kNoExecute = 1ull << 63;

// Bits 51:12: the widest physical-address field the architecture defines (MAXPHYADDR <= 52).
inline constexpr uint64_t kAddressMask = 0x000f'ffff'ffff'f000ull;
inline constexpr uint64_t kAddress2MMask = 0x000f'ffff'ffe0'0000ull;  // bits 51:21
inline constexpr uint64_t kAddress1GMask = 0x000f'ffff'c000'0000ull;  // bits 51:30
inline constexpr uint64_t kReserved2M = 0x0000'0000'001f'e000ull;     // bits 20:13
inline constexpr uint64_t kReserved1G = 0x0000'0000'3fff'e000ull;     // bits 29:13

inline constexpr int kArchMaxPhysAddr = 52;
// Typical Intel client and server cores report MAXPHYADDR = 46 (CPUID.80000008H:EAX[7:0]);
// the walker uses it unless told otherwise, so bits 51:46 of an entry are reserved.
inline constexpr int kDefaultMaxPhysAddr = 46;
}  // namespace pte_bits

inline constexpr uint64_t kPageSize4K = 1ull << 12;
inline constexpr uint64_t kPageSize2M = 1ull << 21;
inline constexpr uint64_t kPageSize1G = 1ull << 30;
inline constexpr unsigned kEntriesPerTable = 512;

// Bytes of linear-address space one entry at this level controls (SDM 4.5, figure 4-8):
// 4 KiB, 2 MiB, 1 GiB, 512 GiB.
constexpr uint64_t span_of(PteLevel level) {
    return 1ull << (12 + 9 * (static_cast<unsigned>(level) - 1));
}

// The 9-bit index of va's entry in a table of the given level: PML4 bits 47:39, PDPT 38:30,
// PD 29:21, PT 20:12 (SDM 4.5).
constexpr unsigned index_of(PteLevel level, uint64_t va) {
    return static_cast<unsigned>((va >> (12 + 9 * (static_cast<unsigned>(level) - 1))) & 511u);
}

// Bits 51:M of a physical-address field, which are reserved for MAXPHYADDR = M.
constexpr uint64_t reserved_address_bits(int maxphyaddr) {
    if (maxphyaddr >= pte_bits::kArchMaxPhysAddr) return 0;
    return pte_bits::kAddressMask & ~((1ull << maxphyaddr) - 1);
}

template <PteLevel L>
class PagingEntry {
public:
    static constexpr PteLevel kLevel = L;
    // PDPTEs and PDEs carry the PS tag; a PTE always maps a page; a PML4E never does.
    static constexpr bool kHasPsTag = L == PteLevel::Pdpte || L == PteLevel::Pde;

    constexpr PagingEntry() = default;
    constexpr explicit PagingEntry(uint64_t raw) : raw_(raw) {}

    constexpr uint64_t raw() const { return raw_; }

    constexpr bool present() const { return raw_ & pte_bits::kPresent; }
    constexpr bool writable() const { return raw_ & pte_bits::kWritable; }
    constexpr bool user() const { return raw_ & pte_bits::kUser; }
    constexpr bool write_through() const { return raw_ & pte_bits::kWriteThrough; }
    constexpr bool cache_disable() const { return raw_ & pte_bits::kCacheDisable; }
    constexpr bool accessed() const { return raw_ & pte_bits::kAccessed; }
    constexpr bool no_execute() const { return raw_ & pte_bits::kNoExecute; }
    // D and G are defined only in an entry that maps a page; elsewhere the bits are ignored
    // and these return false.
    constexpr bool dirty() const { return maps_page() && (raw_ & pte_bits::kDirty); }
    constexpr bool global() const { return maps_page() && (raw_ & pte_bits::kGlobal); }

    constexpr bool is_large_page() const
        requires kHasPsTag
    {
        return raw_ & pte_bits::kPageSize;
    }

    // True when the walk ends at this entry (SDM 4.5: PTE always; PDPTE/PDE with PS=1).
    constexpr bool maps_page() const {
        if constexpr (L == PteLevel::Pte) return true;
        else if constexpr (kHasPsTag) return raw_ & pte_bits::kPageSize;
        else return false;
    }
    constexpr bool references_table() const { return !maps_page(); }

    // Size of the page this entry maps; 0 when it references a table.
    constexpr uint64_t page_size() const { return maps_page() ? span_of(L) : 0; }

    // Physical base of the mapped page (meaningful when maps_page()). Bits 51:M are not
    // masked off here: the walker rejects them as reserved first.
    constexpr uint64_t frame() const {
        if constexpr (L == PteLevel::Pde) return raw_ & pte_bits::kAddress2MMask;
        else if constexpr (L == PteLevel::Pdpte) return raw_ & pte_bits::kAddress1GMask;
        else return raw_ & pte_bits::kAddressMask;
    }
    // Physical address of the next-level table (meaningful when references_table()).
    constexpr uint64_t table_address() const { return raw_ & pte_bits::kAddressMask; }
    // frame() or table_address(), whichever this entry holds.
    constexpr uint64_t address() const { return maps_page() ? frame() : table_address(); }

    // PAT bit: bit 7 of a PTE, bit 12 of a large-page entry, none elsewhere.
    constexpr bool pat() const {
        if constexpr (L == PteLevel::Pte) return raw_ & pte_bits::kPatSmall;
        else return maps_page() && (raw_ & pte_bits::kPatLarge);
    }

    // The reserved bits that are set in this entry for the given MAXPHYADDR and
    // IA32_EFER.NXE (SDM 4.5 tables 4-15..4-20, 4.7). Non-zero in a present entry = RSVD #PF.
    constexpr uint64_t reserved_bits_set(int maxphyaddr, bool nxe) const {
        uint64_t mask = reserved_address_bits(maxphyaddr);
        if (!nxe) mask |= pte_bits::kNoExecute;
        if constexpr (L == PteLevel::Pml4e) mask |= pte_bits::kPageSize;
        if constexpr (L == PteLevel::Pde) {
            if (maps_page()) mask |= pte_bits::kReserved2M;
        }
        if constexpr (L == PteLevel::Pdpte) {
            if (maps_page()) mask |= pte_bits::kReserved1G;
        }
        return raw_ & mask;
    }

    constexpr PagingEntry with_present(bool v) const { return with(pte_bits::kPresent, v); }
    constexpr PagingEntry with_writable(bool v) const { return with(pte_bits::kWritable, v); }
    constexpr PagingEntry with_user(bool v) const { return with(pte_bits::kUser, v); }
    constexpr PagingEntry with_accessed(bool v) const { return with(pte_bits::kAccessed, v); }
    constexpr PagingEntry with_dirty(bool v) const { return with(pte_bits::kDirty, v); }
    constexpr PagingEntry with_global(bool v) const { return with(pte_bits::kGlobal, v); }
    constexpr PagingEntry with_no_execute(bool v) const { return with(pte_bits::kNoExecute, v); }
    constexpr PagingEntry with_cache_disable(bool v) const {
        return with(pte_bits::kCacheDisable, v);
    }
    constexpr PagingEntry with_write_through(bool v) const {
        return with(pte_bits::kWriteThrough, v);
    }
    // Replaces the address field the entry currently holds (page frame or table address),
    // keeping every other bit, PAT of a large page included.
    constexpr PagingEntry with_address(uint64_t pa) const {
        uint64_t field = pte_bits::kAddressMask;
        if (maps_page() && L == PteLevel::Pde) field = pte_bits::kAddress2MMask;
        if (maps_page() && L == PteLevel::Pdpte) field = pte_bits::kAddress1GMask;
        return PagingEntry((raw_ & ~field) | (pa & field));
    }

    // An entry referencing the next-level table at table_pa; flags are extra bits (P is set).
    static constexpr PagingEntry table(uint64_t table_pa, uint64_t flags = 0)
        requires(L != PteLevel::Pte)
    {
        return PagingEntry((table_pa & pte_bits::kAddressMask) | (flags & ~pte_bits::kPageSize) |
                           pte_bits::kPresent);
    }
    // An entry mapping the page at frame_pa (PS is set for a PDPTE/PDE); flags are extra
    // bits (P is set).
    static constexpr PagingEntry page(uint64_t frame_pa, uint64_t flags = 0)
        requires(L != PteLevel::Pml4e)
    {
        uint64_t ps = kHasPsTag ? pte_bits::kPageSize : 0;
        uint64_t field = L == PteLevel::Pde     ? pte_bits::kAddress2MMask
                         : L == PteLevel::Pdpte ? pte_bits::kAddress1GMask
                                                : pte_bits::kAddressMask;
        return PagingEntry((frame_pa & field) | flags | ps | pte_bits::kPresent);
    }

    friend constexpr bool operator==(PagingEntry, PagingEntry) = default;

private:
    constexpr PagingEntry with(uint64_t bit, bool v) const {
        return PagingEntry(v ? (raw_ | bit) : (raw_ & ~bit));
    }

    uint64_t raw_ = 0;
};

using Pml4e = PagingEntry<PteLevel::Pml4e>;
using Pdpte = PagingEntry<PteLevel::Pdpte>;
using Pde = PagingEntry<PteLevel::Pde>;
using Pte = PagingEntry<PteLevel::Pte>;

// Level-generic views of a raw entry, for code that iterates over levels (walker, index).
constexpr bool entry_maps_page(PteLevel level, uint64_t raw) {
    switch (level) {
    case PteLevel::Pte: return true;
    case PteLevel::Pde:
    case PteLevel::Pdpte: return raw & pte_bits::kPageSize;
    case PteLevel::Pml4e: return false;
    }
    return false;
}

// Physical base of the page (maps_page) or table (otherwise) a raw entry points at.
constexpr uint64_t entry_address(PteLevel level, uint64_t raw) {
    switch (level) {
    case PteLevel::Pte: return Pte(raw).address();
    case PteLevel::Pde: return Pde(raw).address();
    case PteLevel::Pdpte: return Pdpte(raw).address();
    case PteLevel::Pml4e: return Pml4e(raw).address();
    }
    return 0;
}

constexpr uint64_t entry_reserved_bits_set(PteLevel level, uint64_t raw, int maxphyaddr,
                                           bool nxe) {
    switch (level) {
    case PteLevel::Pte: return Pte(raw).reserved_bits_set(maxphyaddr, nxe);
    case PteLevel::Pde: return Pde(raw).reserved_bits_set(maxphyaddr, nxe);
    case PteLevel::Pdpte: return Pdpte(raw).reserved_bits_set(maxphyaddr, nxe);
    case PteLevel::Pml4e: return Pml4e(raw).reserved_bits_set(maxphyaddr, nxe);
    }
    return 0;
}

}  // namespace mmu
