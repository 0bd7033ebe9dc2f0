/*
 * PVH entry (QEMU `-kernel`, Xen HVM direct boot ABI). The loader enters pvh_start32 in
 * 32-bit protected mode: paging off, flat 4 GiB CS/DS/ES/SS, interrupts off, EBX = physical
 * address of struct hvm_start_info, no stack. Everything here runs at physical addresses,
 * so every symbol reference is written PA(sym) = sym - KERNEL_VIRT_BASE.
 *
 * Steps (SDM vol. 3A 9.8.5, Initializing IA-32e mode):
 *   1. load a GDT with a 64-bit code segment;
 *   2. build early page tables: identity [0, 1 GiB) and the kernel window
 *      KERNEL_VIRT_BASE + [0, 1 GiB), with 2 MiB pages;
 *   3. CR4.PAE=1, CR3=PML4, EFER.LME=1, CR0.PG=1 (the CPU sets EFER.LMA);
 *   4. far jump to the 64-bit segment (still identity-mapped), then jump to the kernel
 *      window (pvh_entry64 in entry64.S).
 *
 * This code lives in the `boot32` PT_LOAD segment, which is deliberately not PF_X: asi-emu
 * disassembles PF_X segments as 64-bit code and boots through e_entry instead.
 */
#include "arch/x86/asm_defs.h"

#define PA(sym) ((sym) - KERNEL_VIRT_BASE)

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define EARLY_PAGE_PRESENT_RW 0x3
#define EARLY_PAGE_LARGE 0x80      /* PS: 2 MiB page in a PD entry */
#define CR0_PE 0x1
#define CR0_WP 0x10000
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100

	.section .boot32.text, "ax"
	.code32
	.globl pvh_start32
pvh_start32:
	cli
	cld
	lgdtl PA(pvh_gdt_pointer)
	movl $KERNEL_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss

	/* Zero the three early tables (the ELF loader zero-fills .bss; do not rely on it). */
	movl $PA(pvh_early_tables), %edi
	movl $(3 * 4096 / 4), %ecx
	xorl %eax, %eax
	rep stosl

	/* PML4[0] and PML4[511] -> PDPT; PDPT[0] (identity) and PDPT[510] (kernel window)
	 * -> PD; PD[i] -> 2 MiB page i. VA 0xffffffff80000000 = PML4 511, PDPT 510. */
	movl $(PA(pvh_early_pdpt) + EARLY_PAGE_PRESENT_RW), %eax
	movl %eax, PA(pvh_early_pml4)
	movl %eax, PA(pvh_early_pml4) + 511 * 8
	movl $(PA(pvh_early_pd) + EARLY_PAGE_PRESENT_RW), %eax
	movl %eax, PA(pvh_early_pdpt)
	movl %eax, PA(pvh_early_pdpt) + 510 * 8

	movl $PA(pvh_early_pd), %edi
	movl $(EARLY_PAGE_PRESENT_RW | EARLY_PAGE_LARGE), %eax
	movl $512, %ecx
1:	movl %eax, (%edi)
	movl $0, 4(%edi)
	addl $0x200000, %eax
	addl $8, %edi
	loop 1b

	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $PA(pvh_early_pml4), %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_WP | CR0_PE), %eax
	movl %eax, %cr0

	/* Now in compatibility mode; the far jump loads the 64-bit CS (L=1). EBX is preserved. */
	ljmpl $KERNEL_CS, $PA(pvh_long_mode)

	.code64
pvh_long_mode:
	movl $KERNEL_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movabsq $pvh_entry64, %rax
	jmpq *%rax

	.section .boot32.rodata, "a"
	.balign 8
pvh_gdt:
	.quad 0x0000000000000000   /* null */
	.quad 0x00af9a000000ffff   /* 0x08: code, DPL0, L=1 (64-bit), P */
	.quad 0x00cf92000000ffff   /* 0x10: data, DPL0, writable, 4 GiB, P */
pvh_gdt_end:
	.balign 8
pvh_gdt_pointer:
	.word pvh_gdt_end - pvh_gdt - 1
	.long PA(pvh_gdt)

	.section .bss
	.balign 4096
pvh_early_tables:
pvh_early_pml4:
	.skip 4096
pvh_early_pdpt:
	.skip 4096
pvh_early_pd:
	.skip 4096

/* Xen ELF note: name "Xen", type XEN_ELFNOTE_PHYS32_ENTRY, descriptor = physical address
 * of the 32-bit entry. Eight bytes like Linux's (_ASM_PTR on x86-64): QEMU reads the
 * descriptor of a 64-bit ELF as a 64-bit value. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4                  /* namesz */
	.long 8                  /* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.balign 4
	.quad PA(pvh_start32)
	.balign 4
