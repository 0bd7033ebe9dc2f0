/*
 * Assembly helpers for the self tests.
 */
#include "arch/x86/asm_defs.h"

/* overflow_stack(top): switch RSP to `top` and push until the stack runs into its unmapped
 * guard page. The faulting PUSH raises #PF; delivering that #PF needs the same stack
 * (no privilege change, no IST for #PF), so the delivery faults too and the CPU raises #DF
 * (SDM vol. 3A 6.15, table 6-5: #PF while delivering #PF), which the IDT sends to IST1.
 * Never returns: the #DF handler abandons this context. */
	.text
	.globl overflow_stack
overflow_stack:
	movq %rdi, %rsp
1:	pushq $0x5a5a5a5a
	jmp 1b

/*
 * The user-mode test program (test_user_mode.cpp): data in .rodata, copied into a user page
 * and executed there at CPL3. Position independent: it finds the supervisor-only page
 * RIP-relatively, at the fixed offset of test_user_mode.cpp's layout (code page, stack page,
 * supervisor-only page).
 */
#define USER_SUPERVISOR_PAGE_OFFSET 0x2000

	.section .rodata
	.balign 16
	.globl user_program_start, user_program_end, user_program_offsets
user_program_start:
	/* 1. SYSCALL with a marker in RAX/RDI; the kernel returns a value in RAX. */
	movl $0x5157, %eax
	movq $0x1111, %rdi
	syscall
user_after_syscall:
	/* 2. INT 0x80 through the DPL3 gate; hand the syscall's return value back in RSI. */
	movq %rax, %rsi
	movl $0x80, %eax
	int $0x80
user_after_int80:
	/* 3. Read a present supervisor-only page: #PF with error code P|U (SDM vol. 3A 4.7).
	 * The page follows the stack page, which follows this code page. */
	leaq user_program_start(%rip), %rbx
	addq $USER_SUPERVISOR_PAGE_OFFSET, %rbx
user_fault:
	movq (%rbx), %rax
	/* Not reached: the kernel abandons this context on the fault. */
	ud2
user_program_end:

	.balign 8
user_program_offsets:
	.quad user_after_syscall - user_program_start
	.quad user_after_int80 - user_program_start
	.quad user_fault - user_program_start
