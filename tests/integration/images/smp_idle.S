/* Every vCPU waits for an interrupt with `sti; hlt` and nothing ever sends one (no IPI, no
 * timer armed): a guest hang that asi-emu must detect, not spin on. */
.globl _start
.text
_start:
  sti
  hlt
  jmp _start
