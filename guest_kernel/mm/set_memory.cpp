#include "mm/set_memory.h"

#include "kernel/panic.h"
#include "mm/asi/asi.h"
#include "mm/asi/fault_injection.h"
#include "mm/asi/restricted_map.h"
#include "mm/kernel_mappings.h"
#include "mm/kernel_page_allocator.h"
#include "mm/phys.h"
#include "mm/pte.h"
#include "lib/spinlock.h"
#include "mm/tlb.h"
#include "mm/tlb_shootdown.h"

namespace mm {
namespace {

constexpr uint64_t kSplitMark = 1ull << 9;  // PDE bit 9: ignored by the walk (SDM table 4-17)
constexpr uint64_t kEntries = pte::k2M / pte::k4K;
// Bits the CPU sets on its own (SDM 4.8): ignored when comparing entries.
constexpr uint64_t kHardwareBits = pte::kAccessed | pte::kDirty;

constinit SpinLock g_lock;  // the entries this file edits, and g_stats
constinit SetMemoryStats g_stats{};

uint64_t* table(uint64_t entry) { return static_cast<uint64_t*>(phys_to_virt(entry & pte::kAddrMask)); }
bool present(uint64_t e) { return (e & pte::kPresent) != 0; }
bool huge(uint64_t e) { return (e & pte::kHuge) != 0; }

// The PD entries of both roots for the direct-map address of pa (restricted: nullptr when
// ASI is off).
struct Slots {
    uint64_t* kernel;
    uint64_t* restricted;
};
Slots slots(uint64_t pa) {
    Slots s{kernel_page_table().leaf(direct_map_va(pa), 2), nullptr};
    VERIFY(s.kernel != nullptr && present(*s.kernel));
    if (asi::enabled()) s.restricted = asi::rmap::pde_slot(pa);
    return s;
}

// The restricted PT for pa when it is not the kernel's (rfc's own tables), else nullptr.
uint64_t* restricted_own_pte(const Slots& s, uint64_t pa) {
    if (s.restricted == nullptr || !present(*s.restricted) || huge(*s.restricted)) return nullptr;
    if ((*s.restricted & pte::kAddrMask) == (*s.kernel & pte::kAddrMask)) return nullptr;
    return &table(*s.restricted)[pte::pt_index(direct_map_va(pa))];
}

// Both PCIDs (the restricted one only with ASI on), every CPU.
void flush_block(uint64_t pa, uint64_t pages) { tlb::flush_kernel_range_all_cpus(direct_map_va(pa), pages); }

// split_large_page(): `pt` (a frame from the allocator) maps the 2 MiB leaf's frames with
// its flags. Under g_lock.
void split(const Slots& s, uint64_t block, uint64_t pt) {
    const uint64_t leaf = *s.kernel;
    uint64_t* entries = table(pt);
    const uint64_t flags = leaf & ~pte::kAddrMask2M & ~pte::kHuge & ~kHardwareBits & ~0x1ff000ull;
    for (uint64_t i = 0; i < kEntries; ++i) entries[i] = (block + i * pte::k4K) | flags;
    const uint64_t link = pt | pte::kPresent | pte::kWritable | kSplitMark;
    // A nonsensitive pageblock: the restricted PDE is the same leaf (G aside) and shares it.
    const uint64_t ignore = pte::kGlobal | kHardwareBits;
    const bool share = s.restricted != nullptr && (*s.restricted & ~ignore) == (leaf & ~ignore);
    *s.kernel = link;
    if (share) *s.restricted = link;
    ++g_stats.splits;
}

// The 2 MiB leaf a split PT amounts to, or 0 when its entries are not uniform.
uint64_t uniform_leaf(uint64_t pde, uint64_t block) {
    const uint64_t* entries = table(pde);
    const uint64_t flags = entries[0] & ~pte::kAddrMask & ~kHardwareBits;
    for (uint64_t i = 0; i < kEntries; ++i)
        if ((entries[i] & ~kHardwareBits) != ((block + i * pte::k4K) | flags)) return 0;
    return block | flags | pte::kHuge;
}

// The 2 MiB leaf back in both PDEs when the split PT is uniform; returns the PT frame, which
// the caller frees after the flush (0: no collapse). Under g_lock.
uint64_t collapse(const Slots& s, uint64_t block) {
    const uint64_t link = *s.kernel;
    const uint64_t leaf = uniform_leaf(link, block);
    if (leaf == 0) return 0;
    const bool shared = s.restricted != nullptr && present(*s.restricted) && !huge(*s.restricted) &&
                        (*s.restricted & pte::kAddrMask) == (link & pte::kAddrMask);
    *s.kernel = leaf;
    if (shared) *s.restricted = leaf;
    ++g_stats.collapses;
    return link & pte::kAddrMask;
}

}  // namespace

bool set_direct_map_ro(uint64_t pa) {
    pa &= ~(pte::k4K - 1);
    const uint64_t block = pa & ~(pte::k2M - 1);
    // A table for a split, allocated before the lock (the allocator may wait for other CPUs).
    uint64_t pt = 0;
    {
        SpinLockGuard lock(g_lock);
        if (huge(*slots(pa).kernel)) pt = 1;
    }
    if (pt != 0) {
        pt = alloc_pages(0, page_alloc::GFP_KERNEL);
        if (pt == 0) return false;
    }
    bool split_now = false;
    {
        SpinLockGuard lock(g_lock);
        Slots s = slots(pa);
        if (huge(*s.kernel)) {
            split(s, block, pt);
            pt = 0;
            split_now = true;
        }
        const unsigned i = pte::pt_index(direct_map_va(pa));
        table(*s.kernel)[i] &= ~pte::kWritable;
        if (uint64_t* r = restricted_own_pte(s, pa)) *r &= ~pte::kWritable;
        ++g_stats.sealed;
    }
    if (pt != 0) free_pages(pt, 0);  // another CPU split the block meanwhile
    // After a split, the old 2 MiB translations of the whole block; else just this page.
    if (split_now) flush_block(block, kEntries);
    else flush_block(pa, 1);
    return true;
}

void set_direct_map_rw(uint64_t pa) {
    pa &= ~(pte::k4K - 1);
    const uint64_t block = pa & ~(pte::k2M - 1);
    uint64_t freed_table = 0;
    {
        SpinLockGuard lock(g_lock);
        Slots s = slots(pa);
        VERIFY(!huge(*s.kernel));
        const unsigned i = pte::pt_index(direct_map_va(pa));
        table(*s.kernel)[i] |= pte::kWritable;
        if (uint64_t* r = restricted_own_pte(s, pa)) *r |= pte::kWritable;
        if (*s.kernel & kSplitMark) freed_table = collapse(s, block);
    }
    if (freed_table == 0) {
        // R/W 0 -> 1 needs no invalidation (SDM 4.10.4.3) but a stale read-only entry would
        // give a spurious write fault, which this kernel does not expect.
        flush_block(pa, 1);
        return;
    }
    if (asi::bug(asi::Bug::kFreeTableBeforeFlush)) free_pages(freed_table, 0);  // the mistake
    // Every PCID of every CPU may hold a PDE-cache entry naming the table (SDM 4.10.3.1):
    // gone before the table frame may be reused. This also drops the page's old entry.
    tlb::flush_all_now_all_cpus();
    if (!asi::bug(asi::Bug::kFreeTableBeforeFlush)) free_pages(freed_table, 0);
}

bool direct_map_is_ro(uint64_t pa) {
    const Translation t = kernel_page_table().translate(direct_map_va(pa));
    return t.present && !t.writable;
}

const SetMemoryStats& set_memory_stats() { return g_stats; }  // a snapshot

}  // namespace mm
