/* A minimal guest for the host side of the fuzz protocol (asi_emu_abi.h "In-emulator
 * fuzzing"): it announces a 4 KiB buffer, waits for the program, then for each program byte
 * b increments the counter table[b] (a 2 KiB-stride table over 128 pages, so an input
 * dirties pages in proportion to its variety) and folds b into a running digest. It reports
 * kFuzzDone with RDI = the length, RSI = 2 (kFuzzCheckFailed) if the program starts with
 * 0xff, else 0, and R8 = the digest. Without a program it reports kFuzzNoProgram (1). */
#define FUZZ_PORT 0x0a52
#define MAGIC 0x4d474f52505a5546
#define WINDOW 0xffffffff80000000

.globl _start
.text
_start:
  leaq buffer(%rip), %rdi
  movabs $WINDOW, %rax
  sub %rax, %rdi              /* the buffer's physical address */
  mov $4096, %esi
  mov $1, %eax                /* kFuzzReady */
  mov $FUZZ_PORT, %dx
  outl %eax, %dx
  jmp 1f
1:
  leaq buffer(%rip), %rbx
  movabs $MAGIC, %rax
  cmp (%rbx), %rax
  jne no_program
  mov 8(%rbx), %ecx           /* length */
  xor %r8, %r8                /* digest */
  xor %r9, %r9                /* index */
  leaq table(%rip), %r10
2:
  cmp %rcx, %r9
  jae done
  movzbq 16(%rbx,%r9), %rax
  mov %rax, %r11
  shl $11, %r11               /* 2 KiB stride */
  incq (%r10,%r11)
  imul $31, %r8, %r8
  add %rax, %r8
  inc %r9
  jmp 2b
done:
  xor %esi, %esi
  test %ecx, %ecx
  jz 3f
  cmpb $0xff, 16(%rbx)
  jne 3f
  mov $2, %esi                /* kFuzzCheckFailed */
3:
  mov %rcx, %rdi
  jmp report
no_program:
  xor %edi, %edi
  mov $1, %esi                /* kFuzzNoProgram */
  xor %r8, %r8
report:
  mov $2, %eax                /* kFuzzDone */
  mov $FUZZ_PORT, %dx
  outl %eax, %dx
  jmp 4f
4:
  xor %eax, %eax
  mov $0xf4, %dx
  outl %eax, %dx
  cli
  hlt

.data
.balign 4096
buffer:
  .skip 4096
table:
  .skip 256 * 2048
