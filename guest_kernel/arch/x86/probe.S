/*
 * Probe helpers. The marked instruction (label 1) is the only one that may fault; its
 * __ex_table entry sends the fault to label 2, which returns false. A fault leaves RSP as it
 * was at the faulting instruction, so the fixup can simply return.
 */
#include "arch/x86/asm_defs.h"
#include "arch/x86/extable_asm.h"

	.text

	.globl probe_read_u8
probe_read_u8:                /* (addr, out) */
1:	movb (%rdi), %al
	movb %al, (%rsi)
	movl $1, %eax
	ret
2:	xorl %eax, %eax
	ret
	EXTABLE_ENTRY(1b, 2b)

	.globl probe_read_u64
probe_read_u64:               /* (addr, out) */
1:	movq (%rdi), %rax
	movq %rax, (%rsi)
	movl $1, %eax
	ret
2:	xorl %eax, %eax
	ret
	EXTABLE_ENTRY(1b, 2b)

	.globl probe_write_u8
probe_write_u8:               /* (addr, value) */
1:	movb %sil, (%rdi)
	movl $1, %eax
	ret
2:	xorl %eax, %eax
	ret
	EXTABLE_ENTRY(1b, 2b)

	.globl probe_write_u64
probe_write_u64:              /* (addr, value) */
1:	movq %rsi, (%rdi)
	movl $1, %eax
	ret
2:	xorl %eax, %eax
	ret
	EXTABLE_ENTRY(1b, 2b)

	.globl probe_load_ds
probe_load_ds:                /* (selector) */
1:	movw %di, %ds
	movl $KERNEL_DS, %eax
	movw %ax, %ds
	movl $1, %eax
	ret
2:	xorl %eax, %eax
	ret
	EXTABLE_ENTRY(1b, 2b)

	.globl probe_invpcid
probe_invpcid:                /* (type, desc) */
1:	invpcid (%rsi), %rdi
	movl $1, %eax
	ret
2:	xorl %eax, %eax
	ret
	EXTABLE_ENTRY(1b, 2b)
