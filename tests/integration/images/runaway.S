# Spins forever with interrupts off: only --max-insns ends it (exit 4).
.globl _start
.text
_start:
  cli
1:
  inc %rax
  jmp 1b
