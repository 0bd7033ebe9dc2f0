# Writes its own code through the kernel-image window (which the boot page tables map
# writable): asi-emu keeps kernel text read-only in every window (exit 3).
.globl _start
.text
_start:
  movb $0x90, target(%rip)
target:
  nop
  cli
  hlt
