# An IDT with limit 0: the #UD cannot be delivered (#GP, vector beyond the limit), nor can
# that #GP (#GP during #GP is a #DF, SDM 6.15 table 6-5), nor the #DF: a triple fault.
.globl _start
.text
_start:
  lidt idt_descriptor(%rip)
  ud2
.data
idt_descriptor:
  .word 0
  .quad 0
