// The boot-info block (asi_abi::BootInfo): adopted from the loader (asi-emu) or built from
// the PVH start info (QEMU), copied into the kernel image and validated before use.
#pragma once
#include <stdint.h>

#include "abi/asi_emu_abi.h"

namespace boot {

// Copies the loader's block from physical address `pa` (identity-mapped by every boot path)
// into the kernel and validates it; panics on a bad block.
void adopt_boot_info(uint64_t pa);

const asi_abi::BootInfo& info();
uint64_t loader_block_phys();   // where the loader's block was (kept out of the allocator)
bool booted_via_pvh();
const char* memory_type_name(uint32_t type);

}  // namespace boot

// Called from pvh_entry64 on the early page tables: converts the hvm_start_info at
// `start_info_pa` into a BootInfo and returns the BootInfo's physical address.
extern "C" uint64_t pvh_build_boot_info(uint64_t start_info_pa);
