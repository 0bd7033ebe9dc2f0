// isa-debug-exit (port 0xf4, asi_abi::kDebugExitPort): ends the run with status v.
// QEMU exits with (v << 1) | 1; asi-emu exits 0 for v == 0 and 1 otherwise.
#pragma once
#include <stdint.h>

namespace debug_exit {

[[noreturn]] void exit(uint32_t value);

}  // namespace debug_exit
