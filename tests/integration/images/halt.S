# hlt with interrupts off and nothing to wake the CPU: a hung guest (exit 3).
.globl _start
.text
_start:
  cli
  hlt
