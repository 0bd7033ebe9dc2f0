#include "kernel/panic.h"

#include <stdarg.h>

#include "abi/asi_emu_abi.h"
#include "arch/x86/cpu.h"
#include "arch/x86/percpu.h"
#include "drivers/debug_exit.h"
#include "lib/printf.h"

void panic(const char* fmt, ...) {
    x86::cli();
    console_bust();
    kprintf("Kernel panic - not syncing: ");
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf(" (CPU %u)\n", x86::percpu::cpu_id());
    debug_exit::exit(asi_abi::kGuestExitFailure);
}
