# Loads and stores: 5M iterations over a 64 KiB buffer (8-byte stride), then exit 0.
.globl _start
.text
_start:
  mov $5000000, %ecx
  lea buffer(%rip), %rsi
  xor %edi, %edi
1:
  mov (%rsi,%rdi,8), %rax
  add $1, %rax
  mov %rax, (%rsi,%rdi,8)
  inc %edi
  and $8191, %edi
  dec %ecx
  jnz 1b
  xor %eax, %eax
  mov $0xf4, %dx
  outl %eax, %dx
  cli
  hlt
.bss
.align 4096
buffer:
  .skip 65536
