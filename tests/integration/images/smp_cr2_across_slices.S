/* CR2 survives the end of a time slice (SDM 4.7: CR2 holds the linear address of the last
 * #PF until software or another #PF changes it). CPU 0 reads an address the boot page tables
 * do not map; its #PF handler executes PAUSE first, which with another vCPU ends the slice,
 * and only then reads CR2: exit value 0 when CR2 still holds the faulting address, 1 when
 * it changed. The other vCPUs spin in a PAUSE loop. */
#include "smp_common.inc"

#define FAULT_ADDRESS 0x0000500000000040

.globl _start
.text
_start:
  smp_setup
  set_gate 14, page_fault
  smp_finish_setup
  test %r12d, %r12d
  jnz spin
  movabs $FAULT_ADDRESS, %rax
  mov (%rax), %rbx
  exit_with 3                /* the read cannot succeed */
spin:
  pause
  jmp spin

page_fault:
  pause
  pause
  mov %cr2, %rax
  movabs $FAULT_ADDRESS, %rbx
  cmp %rbx, %rax
  jne 1f
  exit_with 0
1:
  exit_with 1
  cli
  hlt

smp_tables
