/*
 * SYSCALL (SDM vol. 3A 5.8.8): RCX = user RIP, R11 = user RFLAGS, CS = STAR[47:32],
 * SS = STAR[47:32] + 8, RIP = LSTAR, RFLAGS &= ~FMASK, CPL = 0. RSP is still the user's:
 * switch to the kernel stack before touching the stack. Then build the same TrapFrame as
 * an interrupt from CPL3 (vector SYSCALL_FRAME_VECTOR) and return with IRETQ.
 *
 * One CPU for now: the user RSP is parked in a global. With several CPUs this becomes a
 * per-CPU slot reached through SWAPGS.
 */
#include "arch/x86/asm_defs.h"
#include "arch/x86/entry_macros.inc"

	.text
	.globl syscall_entry
syscall_entry:
	movq %rsp, syscall_user_rsp(%rip)
	movq syscall_kernel_rsp(%rip), %rsp
	pushq $USER_DS                  /* SS */
	pushq syscall_user_rsp(%rip)    /* RSP */
	pushq %r11                      /* RFLAGS */
	pushq $USER_CS                  /* CS */
	pushq %rcx                      /* RIP */
	pushq $0                        /* error code */
	pushq $SYSCALL_FRAME_VECTOR
	PUSH_GPRS
	movq %rsp, %rdi
	call syscall_dispatch
	POP_GPRS
	addq $16, %rsp
	iretq

/* enter_user(rip, rsp): IRETQ to CPL3 (SDM vol. 2A IRET: a return to an outer privilege level
 * pops SS:RSP and nulls DS/ES/FS/GS whose DPL is below the new CPL). */
	.globl enter_user
enter_user:
	pushq $USER_DS
	pushq %rsi
	pushq $0x2                      /* RFLAGS: reserved bit 1; IF=0, IOPL=0 */
	pushq $USER_CS
	pushq %rdi
	xorl %eax, %eax                 /* no kernel values reach user mode */
	xorl %ebx, %ebx
	xorl %ecx, %ecx
	xorl %edx, %edx
	xorl %esi, %esi
	xorl %edi, %edi
	xorl %ebp, %ebp
	xorl %r8d, %r8d
	xorl %r9d, %r9d
	xorl %r10d, %r10d
	xorl %r11d, %r11d
	xorl %r12d, %r12d
	xorl %r13d, %r13d
	xorl %r14d, %r14d
	xorl %r15d, %r15d
	iretq

	.data
	.balign 8
	.globl syscall_kernel_rsp, syscall_user_rsp
syscall_kernel_rsp:
	.quad 0
syscall_user_rsp:
	.quad 0
