// The Global Descriptor Table (SDM vol. 3A 3.4.5, 3.5): flat 64-bit code and data segments
// and the TSS. Layout and selectors: arch/x86/asm_defs.h.
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

// Installs the TSS descriptor (tss::init() must have run) and loads TR.
void init();

}  // namespace x86::gdt
