# Writes 1 to isa-debug-exit: a guest failure (exit 1, value 1 in --json).
.globl _start
.text
_start:
  mov $1, %eax
  mov $0xf4, %dx
  outl %eax, %dx
  cli
  hlt
