#include "kernel/panic.h"

#include <stdarg.h>

#include "abi/asi_emu_abi.h"
#include "arch/x86/cpu.h"
#include "drivers/debug_exit.h"
#include "lib/printf.h"

void panic(const char* fmt, ...) {
    x86::cli();
    kprintf("Kernel panic - not syncing: ");
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf("\n");
    debug_exit::exit(asi_abi::kGuestExitFailure);
}
