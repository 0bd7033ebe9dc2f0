// x86-64 4-level paging entries (SDM vol. 3A 4.5, tables 4-15 to 4-20). The same bit
// positions serve every level; PS (bit 7) in a PDPTE or PDE makes it a leaf (1 GiB / 2 MiB
// page), in a PTE bit 7 is PAT instead.
#pragma once
#include <stdint.h>

namespace mm::pte {

constexpr uint64_t kPresent = 1ull << 0;
constexpr uint64_t kWritable = 1ull << 1;    // R/W; supervisor writes obey it when CR0.WP=1 (4.6.1)
constexpr uint64_t kUser = 1ull << 2;        // U/S: CPL3 access needs U=1 at every level (4.6.1)
constexpr uint64_t kWriteThrough = 1ull << 3;
constexpr uint64_t kCacheDisable = 1ull << 4;
constexpr uint64_t kAccessed = 1ull << 5;
constexpr uint64_t kDirty = 1ull << 6;
constexpr uint64_t kHuge = 1ull << 7;        // PS in PDPTE/PDE
constexpr uint64_t kGlobal = 1ull << 8;      // only with CR4.PGE; never set by this kernel
constexpr uint64_t kNoExecute = 1ull << 63;  // XD; a reserved bit (→ #PF RSVD) unless EFER.NXE=1

// Bits 51:12 hold the frame; MAXPHYADDR may be smaller, the rest is then reserved.
constexpr uint64_t kAddrMask = 0x000ffffffffff000ull;
constexpr uint64_t kAddrMask2M = 0x000fffffffe00000ull;

constexpr uint64_t k4K = 4096;
constexpr uint64_t k2M = 2ull << 20;
constexpr uint64_t k1G = 1ull << 30;

// Table index of `va` at each level (SDM 4.5.4, figure 4-8).
constexpr unsigned pml4_index(uint64_t va) { return (va >> 39) & 511; }
constexpr unsigned pdpt_index(uint64_t va) { return (va >> 30) & 511; }
constexpr unsigned pd_index(uint64_t va) { return (va >> 21) & 511; }
constexpr unsigned pt_index(uint64_t va) { return (va >> 12) & 511; }

// 48-bit canonical: bits 63:47 all equal (SDM vol. 1 3.3.7.1).
constexpr bool is_canonical(uint64_t va) {
    const uint64_t top = va >> 47;
    return top == 0 || top == 0x1ffff;
}

}  // namespace mm::pte
