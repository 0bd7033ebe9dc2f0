/*
 * 64-bit entry points.
 *
 * kernel_entry64 (ELF e_entry, asi-emu): 64-bit mode, CPL0, IF=0, RDI = physical address of
 * an asi_abi::BootInfo, boot page tables mapping [0, RAM) identity and the kernel window.
 * The GDT in use is unspecified, so load ours and reload every segment register before
 * anything else, then move to the kernel's own boot stack in .bss.
 *
 * pvh_entry64 (QEMU PVH, reached from pvh_entry.S on the early tables): converts the
 * hvm_start_info block (EBX) into a BootInfo and continues at kernel_entry64.
 */
#include "arch/x86/asm_defs.h"

#define BOOT_STACK_SIZE (32 * 1024)

	.section .text.entry, "ax"
	.code64
	.globl kernel_entry64
kernel_entry64:
	cli
	cld
	lgdt gdt_pointer(%rip)
	/* CS can only be reloaded by a far transfer: far return to the next instruction. */
	pushq $KERNEL_CS
	leaq 1f(%rip), %rax
	pushq %rax
	lretq
1:	movl $KERNEL_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	leaq boot_stack_top(%rip), %rsp
	xorl %ebp, %ebp          /* terminates the frame-pointer chain */
	/* RDI still holds the BootInfo physical address. */
	call kernel_main
2:	cli
	hlt
	jmp 2b

	.globl pvh_entry64
pvh_entry64:
	leaq boot_stack_top(%rip), %rsp
	xorl %ebp, %ebp
	movl %ebx, %edi          /* hvm_start_info physical address (zero-extended) */
	call pvh_build_boot_info /* returns the BootInfo's physical address */
	movq %rax, %rdi
	jmp kernel_entry64

	.section .bss
	.balign 4096
	.globl boot_stack_bottom, boot_stack_top
boot_stack_bottom:
	.skip BOOT_STACK_SIZE
boot_stack_top:
