// Linux Kernel Dump Test Module, in miniature: `lkdtm=NAME` provokes a crash on purpose so
// that the harness (asi-emu or QEMU) can be tested against a misbehaving guest.
//   TRIPLE_FAULT     IDT limit 0, then UD2: #UD -> #GP -> #DF -> shutdown
//   INFINITE_LOOP    spin forever with interrupts off and no HLT
//   WRITE_KERN_TEXT  remap a kernel-text frame writable in the direct map and write to it
//   EXCEPTION        an unexpected #GP in the kernel: oops, exit value 1
//   BUG              UD2 with no fixup: oops, exit value 1
//   EXHAUST_STACK    overflow the kernel stack with no recovery armed: #DF oops, exit value 1
#pragma once
#include "lib/cmdline.h"

namespace lkdtm {

// Returns only for an unknown name (after listing the known ones).
void trigger(StringView name);

}  // namespace lkdtm
