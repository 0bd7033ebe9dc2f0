# Jumps into its data segment: CPL 0 code outside the scanned text (exit 3).
.globl _start
.text
_start:
  lea code_in_data(%rip), %rax
  jmp *%rax
.data
code_in_data:
  nop
  cli
  hlt
