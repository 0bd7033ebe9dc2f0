/*
 * IDT entry stubs, one per vector (SDM vol. 3A 6.14, interrupt and exception handling in
 * 64-bit mode). The CPU has pushed SS, RSP, RFLAGS, CS, RIP and, for some exceptions, an
 * error code. Each stub makes the layout uniform (a zero error code where the CPU pushes
 * none), pushes its vector number and jumps to trap_common, which saves the GPRs into a
 * TrapFrame and calls trap_dispatch(TrapFrame*) in C++. IRETQ returns to whatever CS:RIP and
 * SS:RSP the frame holds when the dispatcher returns, which is how fixups and context
 * abandonment work.
 *
 * Exceptions with an error code (SDM vol. 3A 6.15, table 6-1 / the per-vector pages):
 * #DF(8), #TS(10), #NP(11), #SS(12), #GP(13), #PF(14), #AC(17), #CP(21), #VC(29), #SX(30).
 * Hardware interrupts and INT n never push one.
 *
 * GS: SWAPGS on entry from CPL3 and before IRETQ to CPL3 (arch/x86/percpu.h).
 */
#include "arch/x86/asm_defs.h"
#include "arch/x86/entry_macros.inc"

	.text
	.p2align 4
trap_common:
	/* From CPL3: SWAPGS first, so that GS.base is this CPU's per-CPU header (percpu.h).
	 * Stack here: vector, error code, RIP, CS (at 24), RFLAGS, RSP, SS. */
	testb $3, 24(%rsp)
	jz 1f
	swapgs
1:	PUSH_GPRS
	/* Stack: 15 GPRs + vector + error code + 5-qword hardware frame = 176 bytes above a
	 * 16-byte aligned RSP, so RSP is 16-byte aligned at the call as the SysV ABI requires. */
	movq %rsp, %rdi
	cld                         /* the ABI's DF=0 on function entry; RFLAGS.DF is restored by IRETQ */
	call trap_dispatch
	POP_GPRS
	addq $16, %rsp              /* vector and error code */
	/* To CPL3 (per the frame as the dispatcher left it: a fixup may have redirected a user
	 * frame to the kernel): give user mode its GS.base back. */
	testb $3, 8(%rsp)
	jz 2f
	swapgs
2:	iretq

/* 256 stubs; trap_stub_table[v] is the address of vector v's stub. */
	.set vec, 0
	.rept 256
	.text
	.p2align 4
1:
	.if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp trap_common
	.section .rodata
	.balign 8
	.if vec == 0
	.globl trap_stub_table
trap_stub_table:
	.endif
	.quad 1b
	.set vec, vec + 1
	.endr
