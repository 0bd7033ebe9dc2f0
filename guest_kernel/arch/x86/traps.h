// The C++ side of every kernel entry: trap_dispatch() for IDT vectors, shared policy for
// traps from user mode, and the oops report for exceptions nobody expected.
#pragma once
#include <stdint.h>

#include "arch/x86/extable.h"
#include "arch/x86/trap_frame.h"

namespace x86::traps {

enum class UserTrapAction {
    kReturnToUser,  // IRETQ back with the (possibly edited) frame
    kAbandon,       // drop the user context and resume the armed recovery context
};

// There are no user processes yet; a test that enters user mode installs a hook that sees
// every trap and SYSCALL from CPL3.
using UserTrapHook = UserTrapAction (*)(TrapFrame& frame, const ExceptionRecord& rec);
void set_user_trap_hook(UserTrapHook hook);

// Applies the hook's decision (or oopses when no hook is installed).
void handle_user_trap(TrapFrame& frame, const ExceptionRecord& rec);

ExceptionRecord record_of(const TrapFrame& frame, uint64_t cr2);

// Prints the oops report and ends the run with asi_abi::kGuestExitFailure.
[[noreturn]] void oops(const TrapFrame& frame, uint64_t cr2, const char* reason);

}  // namespace x86::traps

extern "C" void trap_dispatch(x86::TrapFrame* frame);
