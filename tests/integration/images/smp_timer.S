/*
 * The x2APIC timer. CPU 0 programs a periodic timer (vector 0x41, divide by 1, initial count
 * 50000) whose handler counts ticks and writes the EOI, waits with `sti; hlt` until it has
 * counted 5, and exits with 0. Every other vCPU parks for good with `cli; hlt`, so while
 * CPU 0 waits nobody runs and time jumps to its timer's deadline.
 * NO_EOI: the handler forgets the EOI, so from the second tick on the timer vector stays
 *   blocked in the IRR behind its own ISR bit (SDM 10.8.3.1): nothing can ever wake CPU 0.
 * MASKED: the LVT timer entry is masked: the timer counts down but interrupts nobody.
 */
#include "smp_common.inc"

#ifdef MASKED
#define LVT_VALUE (0x41 | (1 << 17) | (1 << 16))
#else
#define LVT_VALUE (0x41 | (1 << 17))
#endif

.text
.globl _start
_start:
  smp_setup
  set_gate 0x41, timer_handler
  smp_finish_setup
  test %r12d, %r12d
  jnz ap

  wrmsr_imm MSR_X2APIC_DIVIDE, 0xb
  wrmsr_imm MSR_X2APIC_LVT_TIMER, LVT_VALUE
  wrmsr_imm MSR_X2APIC_INIT_COUNT, 50000
1:
  sti
  hlt
  cmpq $5, ticks(%rip)
  jb 1b
  cli
  exit_with 0
  hlt

ap:
  cli
  hlt
  jmp ap

timer_handler:
  lock incq ticks(%rip)
#ifndef NO_EOI
  push %rax
  push %rcx
  push %rdx
  wrmsr_imm MSR_X2APIC_EOI, 0
  pop %rdx
  pop %rcx
  pop %rax
#endif
  iretq

smp_tables
  .balign 8
ticks:
  .quad 0
