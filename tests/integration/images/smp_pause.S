/* Every vCPU executes PAUSE 1000 times, then exits with 0 (the first one to finish ends the
 * run). With other vCPUs each PAUSE ends the vCPU's time slice; alone, it does nothing. */
.globl _start
.text
_start:
  mov $1000, %ecx
1:
  pause
  dec %ecx
  jnz 1b
  xor %eax, %eax
  mov $0xf4, %dx
  outl %eax, %dx
  cli
  hlt
