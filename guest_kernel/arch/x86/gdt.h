// The Global Descriptor Table (SDM vol. 3A 3.4.5, 3.5): flat 64-bit code and data segments
// and the TSS. Layout and selectors: arch/x86/asm_defs.h. Every CPU first loads gdt_table
// (kernel_entry64); CPU 0 keeps it, each other CPU then loads a copy of its own whose TSS
// descriptor names its own TSS (LTR marks a TSS descriptor busy, and a busy TSS cannot be
// loaded again: SDM vol. 3A 7.2.2).
#pragma once
#include <stdint.h>

#include "arch/x86/asm_defs.h"
#include "arch/x86/cpu.h"

extern "C" {
// Loaded by kernel_entry64 before anything else; the TSS slot is filled in by gdt::init().
extern uint64_t gdt_table[GDT_ENTRIES];
extern x86::DescriptorTablePointer gdt_pointer;
}

namespace x86::gdt {

// CPU 0: installs the TSS descriptor in gdt_table (tss::init() must have run) and loads TR.
void init();
// An application processor: its own GDT (tss::init_cpu() must have run), then LGDT and LTR.
void init_cpu(uint32_t cpu);

}  // namespace x86::gdt
