/*
 * 64-bit entry points.
 *
 * kernel_entry64 (ELF e_entry, asi-emu): 64-bit mode, CPL0, IF=0, RDI = physical address of
 * this vCPU's asi_abi::BootInfo, RSP = a small boot stack of its own, boot page tables
 * mapping [0, RAM) identity and the kernel window. With --smp N every vCPU starts here at
 * once (asi_emu_abi.h "SMP"). The GDT in use is unspecified, so load ours and reload every
 * segment register before anything else, then point GS.base at this CPU's per-CPU header
 * (arch/x86/percpu.h) so that C++ code can find its CPU.
 *
 *   CPU 0 (the bootstrap processor) moves to the kernel's boot stack in .bss and runs
 *   kernel_main.
 *   The others (application processors) wait on the loader's stack with PAUSE, touching
 *   nothing but ap_release, until the BSP has built the kernel address space and this CPU's
 *   stacks (kernel/smp.cpp). Then: EFER.NXE if the BSP set it (the kernel tables use XD,
 *   reserved without NXE: SDM vol. 3A 4.5), CR3 = the kernel root (PCIDE is still 0 here:
 *   PCID 0), RSP = the stack the BSP allocated, and ap_main(cpu). The loader's stack is not
 *   mapped by the kernel tables, so nothing touches the stack between the CR3 load and the
 *   RSP load.
 *
 * pvh_entry64 (QEMU PVH, reached from pvh_entry.S on the early tables): converts the
 * hvm_start_info block (EBX) into a BootInfo and continues at kernel_entry64 as CPU 0.
 */
#include "arch/x86/asm_defs.h"

#define BOOT_STACK_SIZE (32 * 1024)
#define EFER_MSR 0xc0000080

/* GS.base = &percpu_headers[id] with its self pointer and id filled in. \id: a 32-bit
 * register other than EAX/ECX/EDX (WRMSR takes ECX and EDX:EAX). */
.macro SETUP_PERCPU_GS id
	movl \id, %eax
	shlq $PERCPU_HEADER_SHIFT, %rax
	leaq percpu_headers(%rip), %rdx
	addq %rdx, %rax
	movq %rax, PERCPU_SELF(%rax)
	movl \id, PERCPU_CPU_ID(%rax)
	movq %rax, %rdx
	shrq $32, %rdx
	movl $MSR_GS_BASE, %ecx
	wrmsr
.endm

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
	movq %rdi, %r12                  /* BootInfo physical address (identity-mapped) */
	movl BOOT_INFO_CPU_ID(%r12), %ebx
	cmpl $MAX_CPUS, %ebx
	jae 3f                           /* more CPUs than this kernel supports: park it */
	SETUP_PERCPU_GS %ebx
	testl %ebx, %ebx
	jnz ap_wait
	leaq boot_stack_top(%rip), %rsp
	xorl %ebp, %ebp                  /* terminates the frame-pointer chain */
	movq %r12, %rdi
	call kernel_main
2:	cli
	hlt
	jmp 2b
3:	pause                            /* never released: spins (PAUSE) without parking */
	jmp 3b

ap_wait:
	pause
	cmpl $0, ap_release(%rip)        /* x86 loads are not reordered with later loads */
	je ap_wait
	cmpl $0, ap_boot_nxe(%rip)
	je 4f
	movl $EFER_MSR, %ecx
	rdmsr
	orl $(1 << 11), %eax             /* EFER.NXE */
	wrmsr
4:	movq ap_boot_cr3(%rip), %rax
	movq %rax, %cr3
	leaq ap_boot_stack_top(%rip), %rax
	movq (%rax,%rbx,8), %rsp
	xorl %ebp, %ebp
	movl %ebx, %edi
	call ap_main
	jmp 2b

	.globl pvh_entry64
pvh_entry64:
	leaq boot_stack_top(%rip), %rsp
	xorl %ebp, %ebp
	movl %ebx, %r12d                 /* hvm_start_info physical address */
	xorl %ebx, %ebx
	SETUP_PERCPU_GS %ebx             /* CPU 0: C++ below may already take a lock */
	movl %r12d, %edi                 /* zero-extended */
	call pvh_build_boot_info         /* returns the BootInfo's physical address */
	movq %rax, %rdi
	jmp kernel_entry64

	.section .bss
	.balign 4096
	.globl boot_stack_bottom, boot_stack_top
boot_stack_bottom:
	.skip BOOT_STACK_SIZE
boot_stack_top:
