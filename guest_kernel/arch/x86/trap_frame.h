// The register state saved on every kernel entry (IDT vector or SYSCALL). The entry stub
// pushes the GPRs below the vector number and error code; above them is the frame the CPU
// pushed (SDM vol. 3A 6.14.2, figure 6-9): in 64-bit mode always SS:RSP, RFLAGS, CS:RIP,
// whatever the privilege change, on a stack aligned to 16 bytes.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/asm_defs.h"

namespace x86 {

struct TrapFrame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector;      // IDT vector, or SYSCALL_FRAME_VECTOR
    uint64_t error_code;  // pushed by the CPU for vectors with an error code, else 0 by the stub
    // Hardware frame (IRETQ pops these).
    uint64_t rip;
    uint64_t cs;
    uint64_t rflags;
    uint64_t rsp;
    uint64_t ss;

    bool from_user() const { return (cs & 3) == 3; }
};
static_assert(sizeof(TrapFrame) == TRAP_FRAME_SIZE);
static_assert(offsetof(TrapFrame, vector) == 15 * 8);
static_assert(offsetof(TrapFrame, rip) == 17 * 8);

}  // namespace x86
