// The kernel's default job (no test=, no lkdtm=): the warm-up (kernel/asi_warmup.h), then
// the workload selected on the command line on the kernel's page allocator, with each CPU
// in the restricted address space between operations (kernel/workload_hooks.h), then a
// summary of what it cost (counters of the allocator, the TLB code and ASI, latencies, and
// an estimate in cycles from kernel/cost_model.h), in total and per CPU.
//
// SMP: CPU 0 runs the warm-up (the others take part where it says so), then every online
// CPU runs its own instance of the workload at the same time: its own live table, seed
// seed + cpu, ops / N operations (the first ops % N CPUs one more), allocating and freeing
// on its own per-CPU lists. CPU 0 waits for all, checks the allocator and reports; the run
// ends only through CPU 0.
#pragma once
#include <stdint.h>

#include "kernel/boot_config.h"

namespace kernel_workload {

// Returns the exit value: asi_abi::kGuestExitSuccess when the allocator's self-checks
// (page_asi_mapping_bad(), the zone invariants) found nothing.
uint32_t run(const config::BootConfig& config);

}  // namespace kernel_workload
