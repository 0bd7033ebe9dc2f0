// Checks every leaf translation under a page-table root against what the backend can
// represent (MemoryWindows::check_leaf_mapping). Done when the guest loads a root for the
// first time; page-table-write tracking (the oracle's address-space index) keeps it current.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "mmu/physical_memory.h"

namespace emu::backend {

// Calls fn(va, pa, size) for each present leaf under the PML4 at cr3 (bits 51:12).
// Returns false if a table lies outside RAM.
bool for_each_leaf(const mmu::PhysicalMemory& ram, uint64_t cr3,
                   const std::function<void(uint64_t va, uint64_t pa, uint64_t size)>& fn);

}  // namespace emu::backend
