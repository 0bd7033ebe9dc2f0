// SYSCALL entry and the way back to user mode (SDM vol. 3A 5.8.8, fast system calls in
// 64-bit mode). The return path is IRETQ, not SYSRET: asi-emu cannot execute SYSRET
// (DESIGN 4.3), and IRETQ is correct for every frame anyway.
#pragma once
#include <stdint.h>

#include "arch/x86/trap_frame.h"

namespace x86::syscall {

// IA32_FMASK: RFLAGS bits SYSCALL clears. IF (no interrupt before the stack switch), TF,
// DF (the ABI's direction flag), AC (no user-controlled alignment checking / SMAP override), NT.
constexpr uint64_t kFmask = (1u << 9) | (1u << 8) | (1u << 10) | (1u << 18) | (1u << 14);

// Sets EFER.SCE, STAR, LSTAR and FMASK (per-CPU MSRs) when the CPU has SYSCALL, and this
// CPU's SYSCALL stack (its TSS.RSP0 stack). Needs tss::init() / tss::init_cpu() on this CPU.
void init();
bool enabled();

}  // namespace x86::syscall

extern "C" {
void syscall_entry();
void syscall_dispatch(x86::TrapFrame* frame);
// Enters CPL3 at rip with rsp, RFLAGS = 0x2 (IF=0), all other GPRs zero. Never returns; the
// kernel gets control back through traps and SYSCALL.
[[noreturn]] void enter_user(uint64_t rip, uint64_t rsp);
}
