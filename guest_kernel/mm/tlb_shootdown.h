// TLB shootdown: making a page-table change visible to every CPU that may cache the old
// translation (Intel SDM vol. 3A 4.10.5 "Propagation of Paging-Structure Changes to Multiple
// Processors": the initiator changes the entries, invalidates locally, sends an IPI to the
// others, and waits until each has invalidated), done the ASI way.
//
// Protocol (Linux's tlb_gen scheme, arch/x86/mm/tlb.c, with the 2022 ASI RFC's rule):
//   * per space a generation counter, bumped for every request; a ring of the last requests
//     ({generation, range or whole}), so that a CPU can tell what it missed;
//   * per CPU and space the generation up to which it has flushed (mm/tlb.h);
//   * initiator: change the entries; bump the generation (a locked RMW: full barrier) and
//     publish the request; catch up locally; then for every other online CPU read whether
//     it may use the space and send the shootdown IPI (vector apic::kShootdownVector) to
//     those that must act now; wait, answering IPIs itself (sti; pause; cli), until each
//     has flushed up to the request's generation;
//   * the IPI handler catches up every space: the missed requests' ranges (INVPCID type 0 /
//     INVLPG) when they are few and all known, else the whole PCID, or, for a page-table
//     frame about to be freed, every PCID now;
//   * the restricted space follows the RFC's rule: only CPUs inside ASI (may_use_restricted)
//     get an IPI; a CPU outside is not interrupted and flushes with its next restricted CR3
//     load, which sees that the generation moved (mm/tlb.cpp, load(): the other half of the
//     barrier pairing). Counted per CPU: IPIs sent, received, remote flushes, IPIs avoided.
//   * the unrestricted space, and "every PCID now", reach every other online CPU.
// Callers hold no spinlock and are not in an interrupt handler (kernel/smp.h's rule for
// every cross-CPU wait); they may be restricted or not.
#pragma once
#include <stdint.h>

namespace mm::tlb {

// Registers the IPI handler (CPU 0, before the other CPUs start).
void shootdown_init();

// The allocator's flush (GuestArch::flush_restricted_tlb_all_cpus): the restricted PCID's
// translations of the range, on every CPU that may cache them, under the RFC's rule.
// asi.bug=shootdown-* mistakes are committed here.
void flush_restricted_all_cpus(uint64_t va, uint64_t pages);
// Both spaces' translations of a kernel range (set_memory), on every CPU.
void flush_kernel_range_all_cpus(uint64_t va, uint64_t pages);
// Every translation and paging-structure-cache entry of both PCIDs on every CPU, now (a
// page-table frame about to be freed: set_memory's collapse).
void flush_all_now_all_cpus();

}  // namespace mm::tlb
