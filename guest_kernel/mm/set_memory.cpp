#include "mm/set_memory.h"

#include "kernel/panic.h"
#include "mm/asi/asi.h"
#include "mm/asi/fault_injection.h"
#include "mm/asi/restricted_map.h"
#include "mm/kernel_mappings.h"
#include "mm/kernel_page_allocator.h"
#include "mm/phys.h"
#include "mm/pte.h"
#include "mm/tlb.h"

namespace mm {
namespace {

constexpr uint64_t kSplitMark = 1ull << 9;  // PDE bit 9: ignored by the walk (SDM table 4-17)
constexpr uint64_t kEntries = pte::k2M / pte::k4K;
// Bits the CPU sets on its own (SDM 4.8): ignored when comparing entries.
constexpr uint64_t kHardwareBits = pte::kAccessed | pte::kDirty;

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

void flush_block(uint64_t pa, uint64_t pages) {
    const uint64_t va = direct_map_va(pa);
    tlb::flush_range(tlb::Space::kUnrestricted, va, pages);
    if (asi::enabled()) tlb::flush_range(tlb::Space::kRestricted, va, pages);
}

// split_large_page(): a PT mapping the 2 MiB leaf's frames with its flags.
bool split(const Slots& s, uint64_t block) {
    const uint64_t leaf = *s.kernel;
    const uint64_t pt = alloc_pages(0, page_alloc::GFP_KERNEL);
    if (pt == 0) return false;
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
    return true;
}

// The 2 MiB leaf a split PT amounts to, or 0 when its entries are not uniform.
uint64_t uniform_leaf(uint64_t pde, uint64_t block) {
    const uint64_t* entries = table(pde);
    const uint64_t flags = entries[0] & ~pte::kAddrMask & ~kHardwareBits;
    for (uint64_t i = 0; i < kEntries; ++i)
        if ((entries[i] & ~kHardwareBits) != ((block + i * pte::k4K) | flags)) return 0;
    return block | flags | pte::kHuge;
}

void collapse(const Slots& s, uint64_t block) {
    const uint64_t link = *s.kernel;
    const uint64_t leaf = uniform_leaf(link, block);
    if (leaf == 0) return;
    const bool shared = s.restricted != nullptr && present(*s.restricted) && !huge(*s.restricted) &&
                        (*s.restricted & pte::kAddrMask) == (link & pte::kAddrMask);
    *s.kernel = leaf;
    if (shared) *s.restricted = leaf;
    const uint64_t pt = link & pte::kAddrMask;
    if (asi::bug(asi::Bug::kFreeTableBeforeFlush)) free_pages(pt, 0);  // the mistake
    // Both PCIDs may hold a PDE-cache entry naming the table (SDM 4.10.3.1): gone before the
    // table frame may be reused.
    tlb::flush_all_now(tlb::Space::kUnrestricted);
    if (asi::enabled()) tlb::flush_all_now(tlb::Space::kRestricted);
    if (!asi::bug(asi::Bug::kFreeTableBeforeFlush)) free_pages(pt, 0);
    ++g_stats.collapses;
}

}  // namespace

bool set_direct_map_ro(uint64_t pa) {
    pa &= ~(pte::k4K - 1);
    const uint64_t block = pa & ~(pte::k2M - 1);
    Slots s = slots(pa);
    const bool split_now = huge(*s.kernel);
    if (split_now && !split(s, block)) return false;
    const unsigned i = pte::pt_index(direct_map_va(pa));
    table(*s.kernel)[i] &= ~pte::kWritable;
    if (uint64_t* r = restricted_own_pte(s, pa)) *r &= ~pte::kWritable;
    // After a split, the old 2 MiB translations of the whole block; else just this page.
    if (split_now) flush_block(block, kEntries);
    else flush_block(pa, 1);
    ++g_stats.sealed;
    return true;
}

void set_direct_map_rw(uint64_t pa) {
    pa &= ~(pte::k4K - 1);
    const uint64_t block = pa & ~(pte::k2M - 1);
    Slots s = slots(pa);
    VERIFY(!huge(*s.kernel));
    const unsigned i = pte::pt_index(direct_map_va(pa));
    table(*s.kernel)[i] |= pte::kWritable;
    if (uint64_t* r = restricted_own_pte(s, pa)) *r |= pte::kWritable;
    // R/W 0 -> 1 needs no invalidation (SDM 4.10.4.3) but a stale read-only entry would give
    // a spurious write fault, which this kernel does not expect.
    flush_block(pa, 1);
    if (*s.kernel & kSplitMark) collapse(s, block);
}

bool direct_map_is_ro(uint64_t pa) {
    const Translation t = kernel_page_table().translate(direct_map_va(pa));
    return t.present && !t.writable;
}

const SetMemoryStats& set_memory_stats() { return g_stats; }

}  // namespace mm
