/*
 * SYSCALL (SDM vol. 3A 5.8.8): RCX = user RIP, R11 = user RFLAGS, CS = STAR[47:32],
 * SS = STAR[47:32] + 8, RIP = LSTAR, RFLAGS &= ~FMASK, CPL = 0. RSP is still the user's:
 * switch to the kernel stack before touching the stack. Then build the same TrapFrame as
 * an interrupt from CPL3 (vector SYSCALL_FRAME_VECTOR) and return with IRETQ.
 *
 * SWAPGS first: GS.base becomes this CPU's per-CPU header (arch/x86/percpu.h), which holds
 * the kernel stack for SYSCALL and a slot for the user RSP during the switch (SYSCALL runs
 * with IF=0, FMASK, so nothing can use the slot in between).
 */
#include "arch/x86/asm_defs.h"
#include "arch/x86/entry_macros.inc"

	.text
	.globl syscall_entry
syscall_entry:
	swapgs
	movq %rsp, %gs:PERCPU_USER_RSP
	movq %gs:PERCPU_KERNEL_RSP, %rsp
	pushq $USER_DS                  /* SS */
	pushq %gs:PERCPU_USER_RSP       /* RSP */
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
	testb $3, 8(%rsp)               /* the dispatcher may have redirected the frame to CPL0 */
	jz 1f
	swapgs
1:	iretq

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
	swapgs                          /* user GS.base in, the kernel's to IA32_KERNEL_GS_BASE */
	iretq
