// The warm-up before a measured workload: drives every ASI path of the page allocator once,
// in a fixed order, within the first few hundred allocations of any run, after the
// restricted space has been entered -- so that each asi.bug= mistake is reached in a
// default run, and the workload itself starts from a mixed, realistic state.
//
// freetype with ASI on (all pageblocks start sensitive, page_allocator.h):
//   A. nonsensitive max-order blocks until memory runs out: every whole pageblock changes
//      to nonsensitive (zero + map, no flush); each is read while restricted, so the CPU
//      may cache restricted translations of all of them -- with several CPUs, every other
//      CPU enters ASI and reads one word of each too, and stays inside; then all are freed;
//   B. two sensitive pageblocks: a change to sensitive each (unmap + flush), a secret
//      written into every page (ASI #PF exit), freed: their frames now hold residue. With
//      several CPUs the first change happens while the others are inside ASI with the
//      block cached (the shootdown must interrupt them); they then read every nonsensitive
//      pageblock again and leave ASI, the second change happens while they are outside (no
//      IPI: they must flush when they come back), and they re-enter. This is where the
//      asi.bug=shootdown-* mistakes show (mm/asi/fault_injection.h);
//   C. nonsensitive pageblocks until those two change back (zero the residue, then map);
// any policy:
//   D. a kernel pageblock whose first page is sealed read-only (2 MiB split, PT from the
//      allocator), read while restricted, unsealed (collapse: flush, then free the PT).
#pragma once
#include <stdint.h>

#include "kernel/workload_hooks.h"

namespace kernel_workload {

struct WarmupStats {
    uint64_t allocations = 0;
    uint64_t pageblocks_made_nonsensitive = 0;  // phase A
};

// `sensitivity_changes`: run phases A-C (the freetype policy with ASI on).
WarmupStats asi_warmup(GuestHooks& hooks, bool sensitivity_changes);

}  // namespace kernel_workload
