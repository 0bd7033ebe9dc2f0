# Register-only work: 20M iterations of a 6-instruction loop body, then exit 0.
.globl _start
.text
_start:
  mov $20000000, %ecx
  xor %eax, %eax
  mov $1, %ebx
1:
  add %rbx, %rax
  xor %rax, %rbx
  rol $3, %rax
  imul $7, %rbx, %rbx
  dec %ecx
  jnz 1b
  xor %eax, %eax
  mov $0xf4, %dx
  outl %eax, %dx
  cli
  hlt
