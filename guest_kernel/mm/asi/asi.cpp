#include "mm/asi/asi.h"

#include "arch/x86/cpu.h"
#include "arch/x86/idt.h"
#include "arch/x86/percpu.h"
#include "drivers/tracepoint.h"
#include "kernel/panic.h"
#include "mm/asi/fault_injection.h"
#include "mm/asi/restricted_map.h"
#include "mm/kernel_mappings.h"
#include "mm/tlb.h"

namespace asi {
namespace {

using mm::tlb::Space;

constinit bool g_enabled = false;

struct Cpu {
    State state = State::kUnrestricted;
    Counters counters;
};
constinit Cpu g_cpu[x86::percpu::kMaxCpus]{};

Cpu& me() { return g_cpu[x86::percpu::cpu_id()]; }

// #PF error code bits (SDM vol. 3A 4.7).
constexpr uint64_t kPfPresent = 1u << 0;
constexpr uint64_t kPfWrite = 1u << 1;
constexpr uint64_t kPfUser = 1u << 2;

void mitigate(Cpu& c) {
    tracepoint::emit(asi_abi::kTraceMitigation, asi_abi::kMitigationBranchPredictor);
    tracepoint::emit(asi_abi::kTraceMitigation, asi_abi::kMitigationL1dFlush);
    ++c.counters.branch_predictor_barriers;
    ++c.counters.l1d_flushes;
}

// Interrupts off.
void do_exit(ExitReason reason, uint64_t caller) {
    Cpu& c = me();
    if (!g_enabled || c.state == State::kUnrestricted) return;
    mitigate(c);
    mm::tlb::switch_to(Space::kUnrestricted);
    c.state = State::kUnrestricted;
    ++c.counters.exits[static_cast<uint32_t>(reason)];
    tracepoint::emit(asi_abi::kTraceAsiExit, exit_reason_abi(reason), caller);
}

// Interrupts off.
void do_enter(uint64_t caller) {
    Cpu& c = me();
    if (!g_enabled) return;
    if (c.state != State::kUnrestricted) {
        c.state = State::kRestrictedTense;
        return;
    }
    mitigate(c);
    mm::tlb::switch_to(Space::kRestricted);
    c.state = State::kRestrictedTense;
    ++c.counters.entries;
    tracepoint::emit(asi_abi::kTraceAsiEnter, 0, caller);
}

void set_global_pages_if_buggy() {
    if (bug(Bug::kGlobalRestricted)) {
        // The mistake: global pages with ASI on. Setting PGE invalidates every entry (SDM
        // 4.10.4.1); from now on G=1 translations survive CR3 switches and INVPCID 0/1.
        x86::write_cr4(x86::read_cr4() | x86::kCr4Pge);
    } else {
        VERIFY((x86::read_cr4() & x86::kCr4Pge) == 0);
    }
}

}  // namespace

const char* exit_reason_name(ExitReason r) {
    switch (r) {
        case ExitReason::kPageFault: return "page fault";
        case ExitReason::kReturnToUser: return "return to user";
        case ExitReason::kContextSwitch: return "context switch";
        case ExitReason::kTlbFlush: return "TLB flush";
        case ExitReason::kOther: return "other";
    }
    return "?";
}

asi_abi::AsiExitReason exit_reason_abi(ExitReason r) {
    switch (r) {
        case ExitReason::kPageFault: return asi_abi::kAsiExitPageFault;
        case ExitReason::kReturnToUser: return asi_abi::kAsiExitReturnToUser;
        case ExitReason::kContextSwitch: return asi_abi::kAsiExitContextSwitch;
        case ExitReason::kTlbFlush: return asi_abi::kAsiExitTlbFlush;
        case ExitReason::kOther: return asi_abi::kAsiExitOther;
    }
    return asi_abi::kAsiExitOther;
}

void init() {
    if (!rmap::built()) return;
    VERIFY(!g_enabled);
    const uint64_t root = rmap::root();
    // Registered before it is ever loaded (the oracle judges its tables from now on).
    tracepoint::emit(asi_abi::kTraceAddressSpaceRegister, root, mm::tlb::pcid(Space::kRestricted),
                     asi_abi::kSpaceRestricted, 0);
    mm::tlb::set_root(Space::kRestricted, root);
    set_global_pages_if_buggy();
    g_enabled = true;
}

void init_cpu() {
    me() = Cpu{};
    if (g_enabled) set_global_pages_if_buggy();
}

bool enabled() { return g_enabled; }
State state() { return me().state; }
bool in_restricted() { return me().state != State::kUnrestricted; }
const Counters& counters() { return me().counters; }
const Counters& counters_of(uint32_t cpu) { return g_cpu[cpu].counters; }
State state_of(uint32_t cpu) { return *static_cast<volatile const State*>(&g_cpu[cpu].state); }

void enter() {
    const uint64_t flags = x86::irq_save();
    do_enter(reinterpret_cast<uint64_t>(__builtin_return_address(0)));
    x86::irq_restore(flags);
}

void relax() {
    Cpu& c = me();
    if (c.state == State::kRestrictedTense) c.state = State::kRestrictedRelaxed;
}

void exit(ExitReason reason) {
    const uint64_t flags = x86::irq_save();
    do_exit(reason, reinterpret_cast<uint64_t>(__builtin_return_address(0)));
    x86::irq_restore(flags);
}

void restore_after_interrupt(State before) {
    // Interrupts are off (interrupt gate).
    if (before == State::kRestrictedTense && me().state == State::kUnrestricted)
        do_enter(reinterpret_cast<uint64_t>(__builtin_return_address(0)));
}

bool handle_page_fault(const x86::TrapFrame& frame, uint64_t cr2) {
    if (!g_enabled || me().state == State::kUnrestricted) return false;
    if (frame.error_code & (kPfPresent | kPfUser)) return false;  // a protection fault, or user
    if ((x86::read_cr3() & ~x86::kCr3PcidMask) != rmap::root()) return false;
    const mm::Translation t = mm::kernel_page_table().translate(cr2);
    if (!t.present || ((frame.error_code & kPfWrite) && !t.writable)) return false;
    do_exit(ExitReason::kPageFault, frame.rip);
    return true;
}

void prepare_return_to_user() { exit(ExitReason::kReturnToUser); }

}  // namespace asi
