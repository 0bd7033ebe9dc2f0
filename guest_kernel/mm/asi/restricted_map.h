// ASI's restricted address space: its root and its direct map.
//
// Shape (series "mm: ASI direct map management", patches "x86/mm/asi: set up
// asi_nonsensitive_pgd" and "x86/mm/pat: mirror direct map changes to ASI"):
//   * kernel half: every PML4 entry of the kernel root is copied, except the direct map's,
//     so the kernel image, the vmalloc area and everything else nonsensitive share the
//     kernel's PDPTs and below (a later change there is seen by both roots);
//   * user half: empty (user mappings are per process, none are shared);
//   * direct map: its own PDPT and PDs, preallocated at boot down to 2 MiB; with
//     page_granular (asi.policy=rfc) also a PT for every 2 MiB block, so that no change of
//     sensitivity ever allocates a page table. A 2 MiB block holding no page-allocator frame
//     shares the kernel's entry (the same 2 MiB leaf, or the same PT).
//   * invariant: a frame the page allocator owns is present here exactly when the allocator
//     says it is nonsensitive (page_asi_mapping_bad() checks it on every allocation and free).
//
// Not-present encoding: an entry made not present keeps its flags and, like Linux since the
// L1TF fix (arch/x86/include/asm/pgtable-invert.h), the bitwise inverse of its frame number,
// so that a speculative L1D access through it (L1 Terminal Fault, CVE-2018-3620) names no
// real memory. asi.l1tf_invert=off keeps the frame number instead.
//
// Every table edit here is a store through the unrestricted direct map (the tables are early
// frames, nonsensitive and mapped in both spaces). None flushes: the callers know what the
// change needs (SDM vol. 3A 4.10.4.3: not-present -> present needs no invalidation).
#pragma once
#include <stdint.h>

namespace asi::rmap {

struct Options {
    bool page_granular = false;   // PTs for every 2 MiB block (rfc)
    bool l1tf_invert = true;      // invert the frame number of not-present entries
    bool global_entries = false;  // asi.bug=global-restricted: mapped entries get G=1
};

// Step 1, before the early frame allocator retires: the root and the direct map's tables.
void build(const Options& options);
// Step 2, once the page allocator exists: the direct map's entries. owned(pa): the page
// allocator owns the frame; mapped_at_init(pa): it must start present.
void populate(bool (*owned)(uint64_t pa), bool (*mapped_at_init)(uint64_t pa));

bool built();
uint64_t root();
const Options& options();

// Whether the restricted direct map maps frame pa (a walk of the restricted tables).
bool is_mapped(uint64_t pa);
// Whether is_mapped() is `mapped` for every frame of [pa, pa + count * 4 KiB): one PD entry
// (and, when it links a PT, its entries) per whole pageblock, a walk per frame elsewhere.
bool all_mapped_as(uint64_t pa, uint64_t count, bool mapped);
// The same for the frames of the pageblock at pa (2 MiB aligned) that `frames` selects,
// from one read of its PD entry and, when that links a PT, of the selected PT entries: bit i
// of mapped[i / 64] is is_mapped(pa + i * 4 KiB) where bit i of frames[i / 64] is set, 0
// elsewhere.
void pageblock_mapped(uint64_t pa, const uint64_t frames[8], uint64_t mapped[8]);
// _PAGE_PRESENT of the 2 MiB entry of the pageblock at pa (2 MiB aligned).
void map_pageblock(uint64_t pa);
void unmap_pageblock(uint64_t pa);
// The same for 4 KiB entries (the pageblock's PDE must link a PT).
void map_pages(uint64_t pa, uint64_t count);
void unmap_pages(uint64_t pa, uint64_t count);

// The restricted PD entry for the direct-map address of pa (for set_memory.cpp).
uint64_t* pde_slot(uint64_t pa);

// Gives the present 2 MiB leaf of the pageblock at pa a page table of its own: `pt` (a
// frame the caller owns) gets 512 entries mapping the same frames, and the PDE links it.
// The caller flushes (SDM 4.10.2.3: after a change of page size the old translations
// should go). Returns false when the entry is not a present 2 MiB leaf.
bool split_pageblock(uint64_t pa, uint64_t pt);
// The reverse, when every entry of the pageblock's PT is present and uniform: the PDE is a
// 2 MiB leaf again; returns the PT frame, which the caller may free only after flushing the
// restricted PCID's paging-structure caches (SDM 4.10.3). 0 when not possible.
uint64_t collapse_pageblock(uint64_t pa);

// The entry an absent mapping of `entry` (a present leaf; huge: a 2 MiB PDE) gets.
uint64_t absent_entry(uint64_t entry, bool huge);

struct Stats {
    uint64_t table_frames = 0;   // preallocated (early frames)
    uint64_t shared_blocks = 0;  // 2 MiB blocks that reuse the kernel's entry
    uint64_t own_blocks = 0;     // 2 MiB blocks with an entry (or PT) of their own
    uint64_t present_at_init = 0;  // 4 KiB frames of the allocator present at init
};
const Stats& stats();

}  // namespace asi::rmap
