// The 4-level page walk (IA-32e paging: CR0.PG=1, CR4.PAE=1, IA32_EFER.LME=1, CR4.LA57=0),
// with the access-rights rules of SDM vol. 3A 4.6 and the #PF error code of 4.7.
//
// What the walk implements:
//   * 4 KiB, 2 MiB and 1 GiB pages (SDM 4.5; 1 GiB pages as if CPUID.80000001H:EDX.Page1GB=1).
//   * CR3: bits M-1:12 locate the PML4 table. Bits 11:0 (PCID when CR4.PCIDE=1, PWT/PCD
//     otherwise) and bits 63:M (bit 63 is the MOV-to-CR3 no-flush hint, never stored; the
//     others must be 0 or MOV to CR3 raises #GP) are not part of the address (SDM 4.5,
//     table 4-12 and 4.10.4.1).
//   * Reserved bits (SDM 4.5 tables 4-15..4-20): bits 51:M of every present entry, PS in a
//     PML4E, bits 20:13 of a 2 MiB PDE, bits 29:13 of a 1 GiB PDPTE, and XD (bit 63) when
//     IA32_EFER.NXE=0. M = AccessContext::maxphyaddr, 46 unless set: the MAXPHYADDR most
//     Intel cores report.
//   * Access rights (SDM 4.6). An address is user-mode when U/S=1 in every entry of its
//     translation, writable when R/W=1 in every entry, executable when XD=0 in every entry
//     (every address is executable when NXE=0).
//       user (CPL 3) read:     needs a user-mode address.
//       user write:            needs a writable user-mode address (CR0.WP does not matter).
//       user fetch:            needs a user-mode address that is executable.
//       supervisor read:       allowed (SMAP is not modelled).
//       supervisor write:      CR0.WP=0: allowed; CR0.WP=1: needs a writable address.
//       supervisor fetch:      needs an executable address; with CR4.SMEP=1 also not a
//                              user-mode address.
//   * #PF error code (SDM 4.7): P=1 for a protection violation or a reserved-bit violation
//     (P=0 for a not-present entry); W/R=1 for a write; U/S=1 for a CPL 3 access; RSVD=1
//     for a reserved bit set in a present entry; I/D=1 for an instruction fetch, only when
//     IA32_EFER.NXE=1 or CR4.SMEP=1. W/R, U/S and I/D describe the access whatever the cause.
//   * A/D bits (SDM 4.8), when AccessContext::set_accessed_dirty: A in every entry used and D
//     in the entry that maps the page on a write. They are written only for an access that
//     completes; the SDM does not specify whether a faulting access sets them.
//
// Not modelled: LA57, SMAP, protection keys, PAT/MTRR memory types, implicit supervisor
// accesses (GDT/IDT/TSS reads by CPL 3 code), shadow stacks, HLAT.
#pragma once

#include <cstdint>

#include "mmu/physical_memory.h"
#include "mmu/pte.h"

namespace mmu {

enum class AccessType : uint8_t { Read, Write, Execute };

// The CPU state a walk depends on.
struct AccessContext {
    bool user = false;                // CPL == 3
    bool cr0_wp = true;
    bool efer_nxe = false;            // XD (bit 63) is a reserved bit when 0 (SDM 4.5)
    bool cr4_pge = false;             // G counts only when 1 (SDM 4.10.2.4)
    bool set_accessed_dirty = false;  // write A/D into the tables as hardware does (SDM 4.8)
    bool cr4_smep = false;            // supervisor fetches from user-mode addresses fault
    int maxphyaddr = pte_bits::kDefaultMaxPhysAddr;  // CPUID.80000008H:EAX[7:0]
};

enum class WalkStatus : uint8_t {
    Ok,
    NonCanonical,     // #GP (or #SS for stack accesses) before any walk (SDM 3.3.7.1)
    PageFault,        // #PF with WalkResult::error_code
    TableOutsideRam,  // a paging-structure entry's address is not in PhysicalMemory
};

// #PF error-code bits (SDM 4.7, figure 4-12).
namespace pf_error {
inline constexpr uint32_t kPresent = 1u << 0;           // P: protection/RSVD, not not-present
inline constexpr uint32_t kWrite = 1u << 1;             // W/R
inline constexpr uint32_t kUser = 1u << 2;              // U/S
inline constexpr uint32_t kReservedBit = 1u << 3;       // RSVD
inline constexpr uint32_t kInstructionFetch = 1u << 4;  // I/D
}  // namespace pf_error

struct Translation {
    uint64_t va_page = 0;    // va rounded down to page_size (to 4 KiB when the walk failed)
    uint64_t pa = 0;         // physical address of the accessed byte
    uint64_t frame = 0;      // 4 KiB frame containing pa
    uint64_t page_size = 0;  // 4 KiB, 2 MiB or 1 GiB; 0 when the walk failed
    int leaf_level = 0;      // 1 = PTE, 2 = PDE (2 MiB), 3 = PDPTE (1 GiB); on failure the
                             // level of the entry where the walk stopped (4 = PML4E)
    // Effective rights, combined over every level used (on failure: over the levels read).
    bool writable = false;
    bool user = false;
    bool executable = false;
    bool global = false;  // G in the page's entry and CR4.PGE=1
    uint64_t leaf_entry = 0;     // the entry that maps the page (or where the walk stopped),
                                 // after any A/D update
    uint64_t leaf_entry_pa = 0;  // its physical address
    uint64_t table_pa[4] = {};   // PML4, PDPT, PD, PT used; 0 when not reached
};

struct WalkResult {
    WalkStatus status = WalkStatus::Ok;
    Translation t;
    uint32_t error_code = 0;  // SDM 4.7 #PF error code when status == PageFault
};

// Linear addresses are canonical when bits 63:47 are all equal (SDM 3.3.7.1, 4-level paging).
constexpr bool is_canonical(uint64_t va) {
    uint64_t top = va >> 47;
    return top == 0 || top == 0x1ffff;
}

// Physical address of the PML4 table named by a CR3 value (SDM 4.5, table 4-12).
constexpr uint64_t cr3_table_address(uint64_t cr3, int maxphyaddr = pte_bits::kDefaultMaxPhysAddr) {
    return cr3 & pte_bits::kAddressMask & ~reserved_address_bits(maxphyaddr);
}

WalkResult walk(PhysicalMemory& mem, uint64_t cr3, uint64_t va, AccessType access,
                const AccessContext& ctx);

}  // namespace mmu
