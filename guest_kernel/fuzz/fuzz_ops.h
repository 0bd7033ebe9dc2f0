// The fuzz mode's operations (fuzz/fuzz_program.h's table), each run on the calling CPU:
// the driver (fuzz/fuzz_mode.cpp) calls execute() on the CPU the operation names, one
// operation at a time machine-wide, so the state here (the live table, the counters) has
// exactly one user at any moment and needs no lock.
//
// Allocations use the kernel's page allocator on the calling CPU's per-CPU lists, owner 0
// (the kernel). Touches reuse the workload's patterns (kernel/workload_hooks.h). The check
// is the allocator's own verify() (zone invariants; a broken one panics) plus
// page_asi_mapping_bad(): every free frame must be mapped in the restricted direct map iff
// its pageblock's free pages are (the policy's rule, which both ASI policies keep at all
// times), every live frame iff it is nonsensitive. A mismatch is reported through the
// allocator's Arch (bad_page: printed and counted in bad_pages()).
//
// The check costs what the program can have changed, not the zone's size: prepare() checks
// the whole zone once, before the program, and notes the pageblocks whose free pages can
// move without an operation naming them (per-CPU lists, blocks a policy holds back, blocks
// off every list); each allocation and free notes the pageblocks of the largest-order block
// around it (buddies merge and split only inside it). The check walks free-block tails and
// free frames in those pageblocks only (their page descriptors in one pass, then the
// restricted PT entries of the free frames alone), and the other free blocks' alignment and
// pageblock freetype there too; every free list is walked in full (links, tail, count, and
// each head's state, order and list), and so is every live block.
#pragma once
#include <stdint.h>

#include "fuzz/fuzz_program.h"
#include "mm/page_alloc/page.h"

namespace fuzz_mode {

struct OpStats {
    uint64_t allocs = 0;          // successful allocations
    uint64_t alloc_failures = 0;  // the allocator said no
    uint64_t skipped = 0;         // allocations not tried: the live table was full
    uint64_t frees = 0;
    uint64_t touched_pages = 0;
    uint64_t interrupts = 0;      // interrupt operations that sent a self-IPI
    uint64_t checks = 0;          // check operations that ran (0 or 1)
    uint64_t checked_pageblocks = 0;  // pageblocks the check walked page by page
};

// Before the first operation (CPU 0): checks the starting state in full, and notes the
// pageblocks a program can change without naming them.
void prepare();

// Runs op on this CPU (IF=0, process context).
void execute(const fuzz_program::FuzzOp& op);

// The check operation's walk, without its once-per-program limit (self-tests): returns the
// number of bad pages it reported.
uint64_t check_now();
// Whether a frame in state s is free as page_asi_mapping_bad() sees it (on a buddy list,
// inside a free block, or on a per-CPU list).
bool frame_is_free(page_alloc::PageState s);
// Whether the check walks the pageblock of frame pa page by page.
bool pageblock_changed_at(uint64_t pa);
const OpStats& op_stats();

}  // namespace fuzz_mode
