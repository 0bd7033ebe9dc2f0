/*
 * Cross-modifying user code (SDM vol. 3A 8.1.3; README "SMP", "Cross-modifying code"), for
 * --smp 2. Each vCPU's Unicorn engine keeps its own translated blocks, so code another vCPU
 * writes is only seen once asi-emu notices that the frame changed (at a slice start, CPUID or
 * MOV to CR3).
 *
 * Both vCPUs load the page tables below: identity [0, 1 GiB) and the kernel window with 2 MiB
 * supervisor pages (one page directory, shared), and two user pages outside every static
 * window: USER_CODE_VA -> frame user_code, USER_DATA_VA -> frame user_data (U=1, RW).
 * CPU 1 loads a TSS (RSP0) and enters CPL 3 (IRETQ) at USER_CODE_VA, with RBX =
 * USER_DATA_VA; the user code spins forever without CPUID or any system call:
 *     mov $1, %eax; mov %eax, RESULT(%rbx); incq COUNT(%rbx); jmp back
 * CPU 0 waits (PAUSE, which gives CPU 1 the next slice) until RESULT is 1, then changes the
 * immediate to 2 through its kernel-window alias of the frame, and waits (bounded) until
 * RESULT is 2: exit value 0. Still 1 after WAIT_ROUNDS rounds: exit value 1 (CPU 1 runs stale
 * code). Variants (a #define and an #include, see xmodify_*.S) write elsewhere instead, and
 * CPU 1 must then keep publishing 1 without any of its translations being dropped:
 *   XMOD_DATA_ONLY   the same change to a decoy copy of the code in a frame nothing executes,
 *                    and a store to the user data page (user-visible, but not code);
 *   XMOD_SAME_BYTES  rewrites the code's immediate with the value it already holds.
 * Exit values: 0 pass; 1 the new code was not picked up (or, in a variant, RESULT changed);
 * 2 BootInfo cpu_id mismatch (smp_common.inc); 3 an exception (every vector 0-31 goes to
 * fault_handler); 4 CPU 1 did not run after the write (variants); 5 CPU 1's user code never
 * published its first value.
 */
#include "smp_common.inc"

#define KERNEL_BASE 0xffffffff80000000
#define USER_CODE_VA 0x0000008000000000 /* PML4[1]: outside every static window */
#define USER_DATA_VA (USER_CODE_VA + 0x1000)
#define PTE_KERNEL 0x3  /* P | RW */
#define PTE_USER 0x7    /* P | RW | U/S */
#define PTE_LARGE 0x83  /* P | RW | PS (2 MiB) */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x18
#define SEL_UCODE 0x20
#define SEL_TSS 0x28
#define RESULT 0   /* offsets in the user data page */
#define COUNT 8
#define SPARE 16
#define WAIT_ROUNDS 256
#define NEAR_MISS_ROUNDS 8

.text
.globl _start
_start:
  smp_setup
  /* Every exception vector ends the run with exit value 3. */
  leaq fault_handler(%rip), %rax
  leaq idt(%rip), %rbx
  mov $32, %ecx
1:
  mov %ax, (%rbx)
  movw $SEL_KCODE, 2(%rbx)
  movw $0x8e00, 4(%rbx)
  mov %rax, %rdx
  shr $16, %rdx
  mov %dx, 6(%rbx)
  shr $16, %rdx
  mov %edx, 8(%rbx)
  movl $0, 12(%rbx)
  add $16, %rbx
  dec %ecx
  jnz 1b
  smp_finish_setup

  /* The image's own page tables (PA = kernel-window VA - KERNEL_BASE). */
  leaq pml4(%rip), %rax
  movabs $KERNEL_BASE, %rcx
  sub %rcx, %rax
  mov %rax, %cr3

  cmp $1, %r12d
  je user_cpu
  ja park

  /* ---- CPU 0 ---- */
  mov $WAIT_ROUNDS, %ecx
2:
  cmpl $1, user_data + RESULT(%rip)
  je 3f
  pause
  dec %ecx
  jnz 2b
  exit_with 5
3:
  mov user_data + COUNT(%rip), %r14  /* CPU 1's iterations before the write */
#if defined(XMOD_DATA_ONLY)
  movl $2, decoy_imm(%rip)
  movl $2, user_data + SPARE(%rip)
#elif defined(XMOD_SAME_BYTES)
  movl $1, user_imm(%rip)
#else
  movl $2, user_imm(%rip)  /* the kernel-window alias of the user code frame */
#endif

#if defined(XMOD_DATA_ONLY) || defined(XMOD_SAME_BYTES)
  /* Give CPU 1 some slices after the write; it must still publish 1. */
  mov $NEAR_MISS_ROUNDS, %ecx
4:
  pause
  dec %ecx
  jnz 4b
  cmp user_data + COUNT(%rip), %r14
  jne 5f
  exit_with 4
5:
  cmpl $1, user_data + RESULT(%rip)
  jne fail
  exit_with 0
  jmp park
#else
  mov $WAIT_ROUNDS, %ecx
4:
  cmpl $2, user_data + RESULT(%rip)
  je 5f
  pause
  dec %ecx
  jnz 4b
  jmp fail
5:
  exit_with 0
  jmp park
#endif

fail:
  exit_with 1
park:
  cli
  hlt
  jmp park

  /* ---- CPU 1: TSS, then CPL 3 at USER_CODE_VA ---- */
user_cpu:
  leaq tss(%rip), %rax
  movw $0x67, gdt_tss(%rip)        /* limit 15:0 */
  mov %ax, gdt_tss + 2(%rip)       /* base 15:0 */
  mov %rax, %rdx
  shr $16, %rdx
  mov %dl, gdt_tss + 4(%rip)       /* base 23:16 */
  movb $0x89, gdt_tss + 5(%rip)    /* present, DPL 0, available 64-bit TSS */
  movb $0, gdt_tss + 6(%rip)       /* limit 19:16, flags */
  mov %dh, gdt_tss + 7(%rip)       /* base 31:24 */
  shr $32, %rax
  mov %eax, gdt_tss + 8(%rip)      /* base 63:32 */
  movl $0, gdt_tss + 12(%rip)
  mov $SEL_TSS, %ax
  ltr %ax
  movabs $USER_DATA_VA, %rbx
  pushq $(SEL_UDATA | 3)
  movabs $(USER_DATA_VA + 0x1000), %rax
  push %rax
  pushq $0x2                       /* RFLAGS: IF=0 */
  pushq $(SEL_UCODE | 3)
  movabs $USER_CODE_VA, %rax
  push %rax
  iretq

fault_handler:
  exit_with 3
  jmp park

.data
  .balign 16
gdt:
  .quad 0
  .quad 0x00af9a000000ffff  /* 0x08: 64-bit code, DPL 0 */
  .quad 0x00cf92000000ffff  /* 0x10: data, DPL 0 */
  .quad 0x00cff2000000ffff  /* 0x18: data, DPL 3 */
  .quad 0x00affa000000ffff  /* 0x20: 64-bit code, DPL 3 */
gdt_tss:
  .quad 0, 0                /* 0x28: 64-bit TSS, filled in by CPU 1 */
gdt_end:
  .balign 16
gdt_pointer:
  .word gdt_end - gdt - 1
  .quad gdt
  .balign 16
idt_pointer:
  .word 256 * 16 - 1
  .quad idt
  .balign 16
tss:
  .long 0
  .quad kernel_stack_top    /* RSP0 */
  .skip 0x68 - 12
  .balign 16
kernel_stack:
  .skip 4096
kernel_stack_top:

  .balign 4096
idt:
  .skip 256 * 16

  .balign 4096
pml4:
  .quad pdpt_low - KERNEL_BASE + PTE_KERNEL
  .quad pdpt_user - KERNEL_BASE + PTE_USER
  .skip 509 * 8
  .quad pdpt_high - KERNEL_BASE + PTE_KERNEL
  .balign 4096
pdpt_low:                   /* identity [0, 1 GiB) */
  .quad pd_low - KERNEL_BASE + PTE_KERNEL
  .skip 511 * 8
  .balign 4096
pdpt_high:                  /* KERNEL_BASE + [0, 1 GiB) */
  .skip 510 * 8
  .quad pd_low - KERNEL_BASE + PTE_KERNEL
  .quad 0
  .balign 4096
pd_low:
  .set large_pa, 0
  .rept 512
  .quad large_pa + PTE_LARGE
  .set large_pa, large_pa + 0x200000
  .endr
  .balign 4096
pdpt_user:
  .quad pd_user - KERNEL_BASE + PTE_USER
  .skip 511 * 8
  .balign 4096
pd_user:
  .quad pt_user - KERNEL_BASE + PTE_USER
  .skip 511 * 8
  .balign 4096
pt_user:
  .quad user_code - KERNEL_BASE + PTE_USER  /* USER_CODE_VA */
  .quad user_data - KERNEL_BASE + PTE_USER  /* USER_DATA_VA */
  .skip 510 * 8

  /* Frame F: CPU 1 runs it at USER_CODE_VA; CPU 0 writes it through the kernel window. */
  .balign 4096
user_code:
0:
  .byte 0xb8                /* mov $imm32, %eax */
user_imm:
  .long 1
  mov %eax, RESULT(%rbx)
  incq COUNT(%rbx)
  jmp 0b
  .balign 4096

  /* The same bytes in a frame nothing maps as code (XMOD_DATA_ONLY writes here). */
decoy_code:
0:
  .byte 0xb8
decoy_imm:
  .long 1
  mov %eax, RESULT(%rbx)
  incq COUNT(%rbx)
  jmp 0b
  .balign 4096

user_data:                  /* USER_DATA_VA: RESULT, COUNT, SPARE; the user stack above */
  .skip 4096
