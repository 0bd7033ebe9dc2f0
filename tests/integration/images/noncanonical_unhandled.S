# A #GP (non-canonical access) with no IDT loaded at all: delivery fails three times over
# into a triple fault. Exercises the synthesised #GP path of the backend (DESIGN 4.2).
.globl _start
.text
_start:
  lidt idt_descriptor(%rip)
  movabs $0x8000000000000000, %rbx
  mov (%rbx), %rax
  cli
  hlt
.data
idt_descriptor:
  .word 0
  .quad 0
