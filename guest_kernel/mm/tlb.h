// CR3 switching and TLB invalidation for the kernel's two address spaces, the unrestricted
// one (the kernel page tables) and ASI's restricted one, each with its own PCID.
//
// Rules (Intel SDM vol. 3A 4.10.1, 4.10.4.1; vol. 2A INVPCID, vol. 2B MOV CR3):
//   * With CR4.PCIDE=1 the TLB and paging-structure caches are tagged by PCID. MOV to CR3
//     with bit 63 clear invalidates the new PCID's non-global entries; with bit 63 set it
//     invalidates nothing. INVLPG only reaches the *current* PCID (plus global entries);
//     INVPCID type 0 (one address) and type 1 (one PCID) reach any PCID.
//   * With CR4.PCIDE=0 there is one untagged TLB: every MOV to CR3 invalidates every
//     non-global entry, so the space not loaded caches nothing (no global pages: CR4.PGE=0).
//
// Invariant kept here (the 2022 ASI RFC's per-ASI flush state): for each space, either its
// PCID holds no translation that its tables no longer back, or its flush-pending flag is set
// and it is not the current space. switch_to() honours the flag: it writes CR3 with the
// no-flush bit exactly when no flush is pending for the target PCID.
#pragma once
#include <stdint.h>

namespace mm::tlb {

enum class Space : uint8_t { kUnrestricted = 0, kRestricted = 1 };
constexpr uint32_t kSpaces = 2;

constexpr uint64_t kUnrestrictedPcid = 1;  // = kKernelPcid (kernel_mappings.h)
constexpr uint64_t kRestrictedPcid = 2;
// PCIDs the self-tests may load with the kernel's own root: never one of the above, so a
// test cannot leave unrestricted translations behind under the restricted PCID.
constexpr uint64_t kTestPcid = 3;

// Linux's tlb_single_page_flush_ceiling (arch/x86/mm/tlb.c): up to this many pages are
// invalidated one by one, more with one flush of the whole PCID.
constexpr uint64_t kSinglePageFlushCeiling = 33;

// Local invalidations by kind (this CPU only: there are no IPIs yet).
struct Counters {
    uint64_t invlpg = 0;
    uint64_t invpcid_address = 0;   // INVPCID type 0
    uint64_t invpcid_context = 0;   // INVPCID type 1
    uint64_t cr3_flushing = 0;      // MOV to CR3 that invalidates (bit 63 clear or PCIDE=0)
    uint64_t cr3_noflush = 0;       // MOV to CR3 with bit 63 set
    uint64_t deferred = 0;          // flushes left to the space's next load (flush pending)
};

// Called once the kernel's CR3 is loaded (activate_kernel_address_space). `pcid`: CR4.PCIDE
// is on; `invpcid`: the CPU has INVPCID (only used with PCIDE).
void init(uint64_t unrestricted_root, bool pcid, bool invpcid);
// The restricted space's root, before its first load.
void set_root(Space s, uint64_t root);

bool pcid_enabled();
bool invpcid_enabled();
uint64_t pcid(Space s);        // 0 when PCIDE is off
uint64_t root(Space s);
Space current();
bool flush_pending(Space s);

// MOV to CR3: loads space s (a no-op if it is current), with the no-flush bit unless a flush
// is pending for it.
void switch_to(Space s);

// Invalidates s's translations of [va, va + pages * 4 KiB) and everything its
// paging-structure caches hold for that range, on this CPU, before returning -- or, when s
// is not current and only a CR3 load can reach its PCID (no INVPCID), marks the flush
// pending, which is as good: nothing can use s's PCID before that load.
void flush_range(Space s, uint64_t va, uint64_t pages);
// Invalidates every non-global translation and paging-structure-cache entry of s now,
// never deferred: for a page-table frame about to be freed (the SDM lets an upper-level
// cache entry keep pointing to it under any PCID, current or not).
void flush_all_now(Space s);
// Defers a whole-PCID flush of s to its next load (s must not be current).
void mark_pending(Space s);

const Counters& counters();

}  // namespace mm::tlb
