#include "arch/x86/tss.h"

#include "arch/x86/asm_defs.h"
#include "kernel/panic.h"

namespace x86::tss {
namespace {

constexpr uint64_t kStackSize = 16 * 1024;

constinit Tss64 g_tss{};

// Stacks live in .bss. The CPU aligns RSP down to 16 bytes before pushing an interrupt
// frame in 64-bit mode (SDM vol. 3A 6.14.2); page alignment keeps each stack on its own pages.
alignas(4096) constinit char g_entry_stack[kStackSize]{};
alignas(4096) constinit char g_double_fault_stack[kStackSize]{};
alignas(4096) constinit char g_nmi_stack[kStackSize]{};

StackRange range_of(char (&stack)[kStackSize]) {
    const uint64_t bottom = reinterpret_cast<uint64_t>(stack);
    return StackRange{bottom, bottom + kStackSize};
}

}  // namespace

void init() {
    g_tss.rsp[0] = range_of(g_entry_stack).top;
    g_tss.ist[IST_DOUBLE_FAULT - 1] = range_of(g_double_fault_stack).top;
    g_tss.ist[IST_NMI - 1] = range_of(g_nmi_stack).top;
    // No I/O permission bitmap: with IOPL=0, every port access from CPL3 is #GP.
    g_tss.iomap_base = sizeof(Tss64);
}

const Tss64& get() { return g_tss; }

StackRange entry_stack() { return range_of(g_entry_stack); }

StackRange ist_stack(unsigned ist) {
    switch (ist) {
        case IST_DOUBLE_FAULT: return range_of(g_double_fault_stack);
        case IST_NMI: return range_of(g_nmi_stack);
        default: panic("no stack for IST%u", ist);
    }
}

}  // namespace x86::tss
