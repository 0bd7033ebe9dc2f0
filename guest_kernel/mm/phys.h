// Reaching physical memory from the kernel. Before the kernel's own page tables are loaded,
// physical memory is reached through the boot tables' identity mapping; afterwards only
// through the direct map (PAGE_OFFSET + PA, asi_abi::kDirectMapBase). There is no identity
// mapping once the kernel's CR3 is loaded.
#pragma once
#include <stdint.h>

#include "abi/asi_emu_abi.h"

namespace mm {

// VA = PA + g_phys_window: 0 on the boot tables, kDirectMapBase on the kernel's.
extern uint64_t g_phys_window;

inline void* phys_to_virt(uint64_t pa) { return reinterpret_cast<void*>(pa + g_phys_window); }
inline uint64_t direct_map_va(uint64_t pa) { return asi_abi::kDirectMapBase + pa; }

}  // namespace mm
