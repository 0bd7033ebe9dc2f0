// set_memory_ro() / set_memory_rw() for one direct-map page, mirrored into ASI's restricted
// direct map (series "x86/mm/pat: mirror direct map changes to ASI"), as a kernel seals a
// page it must not write again (Linux: BPF images, module data).
//
// Rules (Linux's change_page_attr, SDM vol. 3A 4.10.2.3 and 4.10.4):
//   * A page inside a 2 MiB leaf needs its own PTE: the leaf is split into a page table from
//     the page allocator (split_large_page(); GFP_KERNEL, nonsensitive) mapping the same
//     frames, and the PDE links it. A nonsensitive pageblock has the same 2 MiB leaf in both
//     roots, so both PDEs link the one new table. Making a page read-only needs an
//     invalidation in every PCID that may cache it; after a change of page size the SDM
//     wants the old translations gone as well: the whole 2 MiB range is flushed.
//   * When the last sealed page of a split block is writable again, the table is uniform
//     and the 2 MiB leaf comes back (Linux 6.16's cpa_collapse_large_pages()). The table
//     may only be freed once no CPU and no PCID can hold a paging-structure-cache entry
//     pointing to it (SDM 4.10.3): flush both PCIDs first, then free. asi.bug=
//     free-table-before-flush frees first (R5).
//   * A sealed page stays allocated: its pageblock cannot change sensitivity meanwhile
//     (a change takes a whole free pageblock), so a split PDE never meets map/unmap.
// Tables this code split carry kSplitMark in their PDE (an ignored bit, SDM table 4-17).
// SMP: one spinlock serialises the entry edits (split, seal, unseal, collapse) and the
// statistics; the TLB shootdowns (mm/tlb_shootdown.h: every CPU, both PCIDs) and the page
// allocator calls happen after it is released, since both may wait for other CPUs. The
// function returns only once every CPU has dropped the old translation.
#pragma once
#include <stdint.h>

namespace mm {

// False when the page cannot be sealed (no memory for a page table).
bool set_direct_map_ro(uint64_t pa);
void set_direct_map_rw(uint64_t pa);
// Whether the direct map maps pa read-only (the kernel's tables).
bool direct_map_is_ro(uint64_t pa);

struct SetMemoryStats {
    uint64_t sealed = 0;
    uint64_t splits = 0;
    uint64_t collapses = 0;
};
const SetMemoryStats& set_memory_stats();

}  // namespace mm
