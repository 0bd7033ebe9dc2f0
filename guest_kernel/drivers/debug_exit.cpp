#include "drivers/debug_exit.h"

#include "abi/asi_emu_abi.h"
#include "arch/x86/cpu.h"

namespace debug_exit {

void exit(uint32_t value) {
    x86::outl(asi_abi::kDebugExitPort, value);
    // No debug-exit device: stop here. With IF=0 only NMI/SMI can wake the CPU, and the
    // loop sends it back to hlt.
    for (;;) {
        x86::cli();
        x86::hlt();
    }
}

}  // namespace debug_exit
