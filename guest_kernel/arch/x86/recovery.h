// Abandoning a context: run a function so that an exception it provokes on purpose (a #DF on
// the IST stack, a fault in user mode) can end it and continue in the caller, like a
// longjmp performed by the trap handler through IRETQ.
#pragma once
#include <stdint.h>

#include "arch/x86/trap_frame.h"

namespace x86::recovery {

// Callee-saved registers (SysV ABI) and the point to resume at. Layout used by recovery.S.
struct ResumeContext {
    uint64_t rbx, rbp, r12, r13, r14, r15;
    uint64_t rsp;     // RSP after call_with_recovery returns
    uint64_t rip;     // its return address
    uint64_t rflags;
};

using Fn = void (*)(void* arg);

constexpr uint64_t vector_bit(unsigned vector) { return 1ull << vector; }

// Runs fn(arg). Returns false when fn returns normally; true when a kernel exception whose
// vector is in `vector_mask`, or a user-mode trap that the user-trap hook abandons, ended it.
// Not nestable.
bool run(Fn fn, void* arg, uint64_t vector_mask);

bool armed();
bool armed_for(uint64_t vector);
// Rewrites `frame` so that IRETQ continues in the armed run() (which then returns true), at
// CPL0 with the kernel's segments, and disarms it.
void resume(TrapFrame& frame);

}  // namespace x86::recovery

extern "C" uint64_t call_with_recovery(x86::recovery::ResumeContext* ctx, x86::recovery::Fn fn, void* arg);
