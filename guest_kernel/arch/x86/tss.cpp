#include "arch/x86/tss.h"

#include "arch/x86/asm_defs.h"
#include "arch/x86/percpu.h"
#include "kernel/panic.h"

namespace x86::tss {
namespace {

constinit Tss64 g_tss[percpu::kMaxCpus]{};
constinit CpuStacks g_stacks[percpu::kMaxCpus]{};

// CPU 0's stacks live in .bss. The CPU aligns RSP down to 16 bytes before pushing an
// interrupt frame in 64-bit mode (SDM vol. 3A 6.14.2); page alignment keeps each stack on
// its own pages.
alignas(4096) constinit char g_entry_stack[kStackSize]{};
alignas(4096) constinit char g_double_fault_stack[kStackSize]{};
alignas(4096) constinit char g_nmi_stack[kStackSize]{};

StackRange range_of(char (&stack)[kStackSize]) {
    const uint64_t bottom = reinterpret_cast<uint64_t>(stack);
    return StackRange{bottom, bottom + kStackSize};
}

}  // namespace

void init() {
    init_cpu(0, CpuStacks{range_of(g_entry_stack), range_of(g_double_fault_stack), range_of(g_nmi_stack)});
}

void init_cpu(uint32_t cpu, const CpuStacks& stacks) {
    VERIFY(cpu < percpu::kMaxCpus);
    g_stacks[cpu] = stacks;
    Tss64& tss = g_tss[cpu];
    tss.rsp[0] = stacks.entry.top;
    tss.ist[IST_DOUBLE_FAULT - 1] = stacks.double_fault.top;
    tss.ist[IST_NMI - 1] = stacks.nmi.top;
    // No I/O permission bitmap: with IOPL=0, every port access from CPL3 is #GP.
    tss.iomap_base = sizeof(Tss64);
}

const Tss64& get() { return g_tss[percpu::cpu_id()]; }
const Tss64& get(uint32_t cpu) { return g_tss[cpu]; }

StackRange entry_stack() { return g_stacks[percpu::cpu_id()].entry; }

StackRange ist_stack(unsigned ist) {
    const CpuStacks& s = g_stacks[percpu::cpu_id()];
    switch (ist) {
        case IST_DOUBLE_FAULT: return s.double_fault;
        case IST_NMI: return s.nmi;
        default: panic("no stack for IST%u", ist);
    }
}

}  // namespace x86::tss
