// The cost model behind the workload summary's "estimated cycles": what each ASI-related
// event would cost on a current x86-64 server core, so that runs of different designs can
// be compared in one unit. asi-emu counts instructions, not cycles, so these constants are
// assumptions, not measurements of this guest; change them here and nowhere else.
//
// Assumptions (order-of-magnitude figures for a ~3 GHz core; the sources are the usual
// public descriptions, the numbers are ours and rounded):
//   * INVLPG / INVPCID single-address: a serialising instruction plus the TLB miss it causes
//     later. Linux sizes tlb_single_page_flush_ceiling (33 pages, arch/x86/mm/tlb.c) on the
//     premise that one INVLPG costs far less than refilling the TLB after a full flush.
//   * A whole-PCID flush (INVPCID type 1, or MOV to CR3 without the no-flush bit): the
//     instruction plus refilling the entries it dropped (page walks, mostly cache hits).
//   * A TLB-shootdown IPI: interrupt delivery, the remote handler and the sender waiting
//     for the acknowledgement (the 2025 RFC's "pointless shootdowns" are these).
//   * Zeroing a 4 KiB page: clear_page() streaming 4 KiB, at most a few bytes per cycle
//     when the page is not in cache.
//   * An ASI transition: MOV to CR3 with a PCID and the no-flush bit, plus the bookkeeping
//     of asi_enter/asi_exit (KPTI made the PCID CR3 switch a few hundred cycles).
//   * The mitigations at a transition: an L1D flush (MSR_IA32_FLUSH_CMD writes back and
//     invalidates the L1D) and an indirect-branch-predictor barrier (IBPB), both known to
//     cost thousands of cycles -- the reason ASI tries to make transitions rare.
//   * An ASI page-fault exit adds a #PF delivery and IRETQ to the transition.
#pragma once
#include <stdint.h>

namespace cost_model {

constexpr uint64_t kCyclesSingleAddressFlush = 250;
constexpr uint64_t kCyclesContextFlush = 2000;
constexpr uint64_t kCyclesShootdownIpi = 5000;
constexpr uint64_t kCyclesZeroPage = 1000;
constexpr uint64_t kCyclesAsiTransition = 300;
constexpr uint64_t kCyclesL1dFlush = 2000;
constexpr uint64_t kCyclesBranchPredictorBarrier = 4000;
constexpr uint64_t kCyclesPageFault = 1000;

struct Events {
    uint64_t single_address_flushes = 0;
    uint64_t context_flushes = 0;
    uint64_t shootdown_ipis = 0;
    uint64_t zeroed_pages = 0;
    uint64_t asi_transitions = 0;
    uint64_t l1d_flushes = 0;
    uint64_t branch_predictor_barriers = 0;
    uint64_t asi_page_faults = 0;
};

struct Estimate {
    uint64_t flushes = 0;
    uint64_t ipis = 0;
    uint64_t zeroing = 0;
    uint64_t transitions = 0;  // CR3 switches, mitigations and #PF exits
    uint64_t total() const { return flushes + ipis + zeroing + transitions; }
};

constexpr Estimate estimate(const Events& e) {
    Estimate r;
    r.flushes = e.single_address_flushes * kCyclesSingleAddressFlush + e.context_flushes * kCyclesContextFlush;
    r.ipis = e.shootdown_ipis * kCyclesShootdownIpi;
    r.zeroing = e.zeroed_pages * kCyclesZeroPage;
    r.transitions = e.asi_transitions * kCyclesAsiTransition + e.l1d_flushes * kCyclesL1dFlush +
                    e.branch_predictor_barriers * kCyclesBranchPredictorBarrier +
                    e.asi_page_faults * kCyclesPageFault;
    return r;
}

}  // namespace cost_model
