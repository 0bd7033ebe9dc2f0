// CR3 switching and TLB invalidation on this CPU for the kernel's two address spaces, the
// unrestricted one (the kernel page tables) and ASI's restricted one, each with its own PCID.
// Reaching the other CPUs is mm/tlb_shootdown.h's job; this file keeps each CPU's state
// (what it has loaded, what it still has to flush) and the generation counters both share.
//
// Rules (Intel SDM vol. 3A 4.10.1, 4.10.4.1; vol. 2A INVPCID, vol. 2B MOV CR3):
//   * With CR4.PCIDE=1 the TLB and paging-structure caches are tagged by PCID. MOV to CR3
//     with bit 63 clear invalidates the new PCID's non-global entries; with bit 63 set it
//     invalidates nothing. INVLPG only reaches the *current* PCID (plus global entries);
//     INVPCID type 0 (one address) and type 1 (one PCID) reach any PCID. All of them act on
//     the executing logical processor only (4.10.5: other processors need an IPI).
//   * With CR4.PCIDE=0 there is one untagged TLB: every MOV to CR3 invalidates every
//     non-global entry, so the space not loaded caches nothing (no global pages: CR4.PGE=0).
//
// Per CPU and space, the state obeys: every flush request whose generation is <= the CPU's
// flushed generation has been carried out on this CPU's PCID for the space, or the space's
// flush-pending flag is set and the space is not loaded (2022 ASI RFC: per-ASI flush state;
// Linux: cpu_tlbstate.ctxs[].tlb_gen). A CR3 load writes the no-flush bit exactly when no
// flush is pending for the target and its generation has not moved past the CPU's.
//
// Every function here acts on the calling CPU and runs with interrupts disabled inside
// (the TLB-shootdown handler changes the same state).
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

// One CPU's invalidations and shootdown traffic.
struct Counters {
    uint64_t invlpg = 0;
    uint64_t invpcid_address = 0;   // INVPCID type 0
    uint64_t invpcid_context = 0;   // INVPCID type 1
    uint64_t cr3_flushing = 0;      // MOV to CR3 that invalidates (bit 63 clear or PCIDE=0)
    uint64_t cr3_noflush = 0;       // MOV to CR3 with bit 63 set
    uint64_t deferred = 0;          // local flushes left to the space's next load (flush pending)
    // Shootdowns (mm/tlb_shootdown.h).
    uint64_t ipis_sent = 0;         // shootdown IPIs this CPU sent
    uint64_t ipis_received = 0;     // shootdown IPIs it handled
    uint64_t remote_flushes = 0;    // handled IPIs that had something to flush
    uint64_t ipis_avoided = 0;      // CPUs not interrupted: outside ASI, they flush at entry
    uint64_t generation_flushes = 0;  // flushing CR3 loads owed to another CPU's request
    void add(const Counters& o) {
        invlpg += o.invlpg;
        invpcid_address += o.invpcid_address;
        invpcid_context += o.invpcid_context;
        cr3_flushing += o.cr3_flushing;
        cr3_noflush += o.cr3_noflush;
        deferred += o.deferred;
        ipis_sent += o.ipis_sent;
        ipis_received += o.ipis_received;
        remote_flushes += o.remote_flushes;
        ipis_avoided += o.ipis_avoided;
        generation_flushes += o.generation_flushes;
    }
};

// CPU 0, once the kernel's CR3 is loaded (activate_kernel_address_space). `pcid`: CR4.PCIDE
// is on; `invpcid`: the CPU has INVPCID (only used with PCIDE).
void init(uint64_t unrestricted_root, bool pcid, bool invpcid);
// Another CPU, once it has loaded the kernel's CR3 (with its PCID, flushing).
void init_cpu();
// The restricted space's root, before its first load on any CPU.
void set_root(Space s, uint64_t root);

bool pcid_enabled();
bool invpcid_enabled();
uint64_t pcid(Space s);        // 0 when PCIDE is off
uint64_t root(Space s);
Space current();
bool flush_pending(Space s);

// MOV to CR3: loads space s (a no-op if it is current), with the no-flush bit unless a flush
// is pending for it or its generation moved past this CPU's.
void switch_to(Space s);

// Invalidates s's translations of [va, va + pages * 4 KiB) and everything its
// paging-structure caches hold for that range, on this CPU, before returning -- or, when s
// is not current and only a CR3 load can reach its PCID (no INVPCID), marks the flush
// pending, which is as good: nothing can use s's PCID before that load.
void flush_range(Space s, uint64_t va, uint64_t pages);
// The same for every translation of s (whole PCID).
void flush_whole(Space s);
// Invalidates every non-global translation and paging-structure-cache entry of s now,
// never deferred: for a page-table frame about to be freed (the SDM lets an upper-level
// cache entry keep pointing to it under any PCID, current or not).
void flush_all_now(Space s);
// Defers a whole-PCID flush of s to its next load (s must not be current).
void mark_pending(Space s);

const Counters& counters();             // this CPU's
const Counters& counters_of(uint32_t cpu);

// ---- For mm/tlb_shootdown.cpp ---------------------------------------------------------
// Flush requests are numbered per space (Linux's mm->context.tlb_gen). bump_generation()
// is a locked read-modify-write, a full barrier (SDM vol. 3A 8.2.2).
uint64_t generation(Space s);
uint64_t bump_generation(Space s);
// The generation up to which `cpu` has flushed s (acquire).
uint64_t flushed_generation(uint32_t cpu, Space s);
// Raises `cpu`'s flushed generation of s to at least `gen`.
void note_flushed(uint32_t cpu, Space s, uint64_t gen);
// Whether `cpu` may be using the restricted PCID: set before the restricted CR3 load and
// before that load reads the generation (with a full barrier between), cleared only after
// the CPU has loaded the unrestricted CR3.
bool may_use_restricted(uint32_t cpu);
Counters& mutable_counters();           // this CPU's

}  // namespace mm::tlb
