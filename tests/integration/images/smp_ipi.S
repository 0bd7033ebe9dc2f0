/*
 * IPIs between vCPUs. Every vCPU loads a GDT and an IDT with a handler for vector 0x40 that
 * counts per CPU and writes the x2APIC EOI. The application processors announce themselves
 * and wait for interrupts with `sti; hlt` (AP_CLI: `cli; hlt`, which nothing can wake).
 * CPU 0 waits for them (PAUSE loop), sends each one fixed IPI 0x40 through the ICR, then
 * waits (PAUSE loop; BSP_PARKS: `sti; hlt`, which nothing wakes) until every AP counted one,
 * and exits with 0 through isa-debug-exit.
 */
#include "smp_common.inc"

.text
.globl _start
_start:
  smp_setup
  set_gate 0x40, ipi_handler
  smp_finish_setup
  test %r12d, %r12d
  jnz ap

  /* BSP: wait until the N-1 APs are ready. */
  lea -1(%r13), %r14d
1:
  cmpl ready_count(%rip), %r14d
  je 2f
  pause
  jmp 1b
2:
  /* One fixed IPI, vector 0x40, to each AP by x2APIC ID. */
  mov $1, %ebx
3:
  cmp %r13d, %ebx
  jae 4f
  mov $MSR_X2APIC_ICR, %ecx
  mov $0x40, %eax
  mov %ebx, %edx
  wrmsr
  inc %ebx
  jmp 3b
4:
  /* Wait for every AP's counter. */
  mov $1, %ebx
  leaq counts(%rip), %rsi
5:
  cmp %r13d, %ebx
  jae 7f
6:
  cmpq $0, (%rsi,%rbx,8)
  jne 8f
#ifdef BSP_PARKS
  sti
  hlt
#else
  pause
#endif
  jmp 6b
8:
  inc %ebx
  jmp 5b
7:
  exit_with 0
  cli
  hlt

ap:
  lock incl ready_count(%rip)
9:
#ifdef AP_CLI
  cli
#else
  sti
#endif
  hlt
  jmp 9b

ipi_handler:
  push %rax
  push %rcx
  push %rdx
  push %rsi
  mov $MSR_X2APIC_ID, %ecx
  rdmsr
  leaq counts(%rip), %rsi
  lock incq (%rsi,%rax,8)
  wrmsr_imm MSR_X2APIC_EOI, 0
  pop %rsi
  pop %rdx
  pop %rcx
  pop %rax
  iretq

smp_tables
  .balign 8
ready_count:
  .long 0
  .balign 8
counts:
  .skip 64 * 8
