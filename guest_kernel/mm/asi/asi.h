// Address Space Isolation: the CPU's transitions between the unrestricted kernel address
// space and the restricted one (mm/asi/restricted_map.h), with the interface of the ASI
// RFCs (2022 "Address Space Isolation" by Junaid Shahid; January 2025 RFC v2 by Brendan
// Jackman):
//
//   asi_enter()   switch to the restricted space (if not there) and start a critical
//                 section ("tense"): code that expects to stay restricted;
//   asi_relax()   end the critical section: the CPU stays restricted, but any later exit
//                 (a fault, a flush) is final until the next asi_enter();
//   asi_exit(r)   switch to the unrestricted space, counting reason r.
//
// A kernel-mode #PF while restricted on an address the unrestricted space maps is not an
// error but ASI's way of reaching sensitive data: the handler exits (counted as a page-fault
// exit) and the access is retried (handle_page_fault, called by the trap dispatcher).
//
// Mitigations: a real kernel flushes the L1D and issues an indirect-branch-predictor barrier
// around the transitions so that data touched, or predictions trained, on one side do not
// feed speculation on the other. Here both are counted (kTraceMitigation) at every
// transition, a conservative upper bound for the cost model; they have no effect.
//
// Invariants:
//   * every address space is registered (kTraceAddressSpaceRegister) before it is loaded;
//   * no global translation exists while ASI is on (CR4.PGE=0; series patch "x86/mm/asi:
//     don't use global pages when ASI enabled");
//   * CR3 is written with the no-flush bit only when no flush is pending for the target
//     PCID and no other CPU's flush request is owed to it (mm/tlb.h, mm/tlb_shootdown.h).
// SMP: state and counters are per CPU; a transition runs with interrupts off, so the
// TLB-shootdown handler sees a CPU either inside or outside, never in between. An interrupt
// handler runs in whatever space it interrupted; if it leaves the restricted space (an ASI
// #PF exit) while the interrupted code was in a critical section (tense), the space is
// re-entered before returning (restore_after_interrupt, the 2022 RFC's asi_intr_exit).
#pragma once
#include <stdint.h>

#include "abi/asi_emu_abi.h"
#include "arch/x86/trap_frame.h"

namespace asi {

enum class ExitReason : uint8_t { kPageFault, kReturnToUser, kContextSwitch, kTlbFlush, kOther };
constexpr uint32_t kExitReasons = 5;
const char* exit_reason_name(ExitReason r);
asi_abi::AsiExitReason exit_reason_abi(ExitReason r);

enum class State : uint8_t {
    kUnrestricted,
    kRestrictedTense,    // between asi_enter() and asi_relax()
    kRestrictedRelaxed,  // restricted, but may leave at any time
};

struct Counters {
    uint64_t entries = 0;
    uint64_t exits[kExitReasons] = {};
    uint64_t branch_predictor_barriers = 0;
    uint64_t l1d_flushes = 0;
    uint64_t exits_total() const {
        uint64_t n = 0;
        for (uint64_t e : exits) n += e;
        return n;
    }
    void add(const Counters& o) {
        entries += o.entries;
        for (uint32_t r = 0; r < kExitReasons; ++r) exits[r] += o.exits[r];
        branch_predictor_barriers += o.branch_predictor_barriers;
        l1d_flushes += o.l1d_flushes;
    }
};

// Called after the restricted space is built (rmap::build + rmap::populate): registers it
// and turns ASI on. With asi=off nothing is built and every call below is a no-op.
void init();
// Every other CPU, before it can enter (asi.bug=global-restricted sets its CR4.PGE too).
void init_cpu();
bool enabled();

// [[gnu::noinline]] so that kTraceAsiEnter/Exit report the caller's return address.
[[gnu::noinline]] void enter();
void relax();
[[gnu::noinline]] void exit(ExitReason reason);

State state();  // this CPU's
bool in_restricted();
const Counters& counters();  // this CPU's
const Counters& counters_of(uint32_t cpu);
State state_of(uint32_t cpu);

// After an interrupt handler (trap_dispatch): `before` is the state it interrupted.
void restore_after_interrupt(State before);

// Called by trap_dispatch for a kernel-mode #PF before anything else: true when the fault
// was ASI's (restricted CR3, address mapped with the needed rights in the unrestricted
// space) and the CPU has left the restricted space, so that returning retries the access.
bool handle_page_fault(const x86::TrapFrame& frame, uint64_t cr2);

// Before an IRETQ to user mode: user mappings live in the unrestricted root only.
void prepare_return_to_user();

}  // namespace asi
