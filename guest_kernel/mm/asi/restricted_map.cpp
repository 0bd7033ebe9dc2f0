#include "mm/asi/restricted_map.h"

#include "abi/asi_emu_abi.h"
#include "kernel/panic.h"
#include "mm/early_frame_allocator.h"
#include "mm/kernel_mappings.h"
#include "mm/phys.h"
#include "mm/pte.h"

namespace asi::rmap {
namespace {

namespace pte = mm::pte;

struct State {
    Options options;
    uint64_t root = 0;
    uint64_t end = 0;  // direct map end (bytes of physical memory covered)
    Stats stats;
};
constinit State g{};

constexpr uint64_t kLink = pte::kPresent | pte::kWritable;  // upper-level entries (as the kernel's)
constexpr unsigned kDirectMapPml4 = pte::pml4_index(asi_abi::kDirectMapBase);
static_assert(kDirectMapPml4 >= 256, "the direct map lives in the kernel half");

uint64_t* table(uint64_t entry) { return static_cast<uint64_t*>(mm::phys_to_virt(entry & pte::kAddrMask)); }

uint64_t new_table() {
    ++g.stats.table_frames;
    return mm::allocate_zeroed_frame();
}

bool present(uint64_t e) { return (e & pte::kPresent) != 0; }
bool huge(uint64_t e) { return (e & pte::kHuge) != 0; }

uint64_t global_bit() { return g.options.global_entries ? pte::kGlobal : 0; }

// The kernel's PD entry for the direct-map address of pa (0 when none).
uint64_t kernel_pde(uint64_t pa) {
    const uint64_t* slot = mm::kernel_page_table().leaf(mm::direct_map_va(pa), 2);
    return slot != nullptr ? *slot : 0;
}

// The kernel's leaf for frame pa as a 4 KiB entry (a 2 MiB leaf is cut down; PS is bit 7,
// which in a PTE would be PAT, so it goes).
uint64_t kernel_pte(uint64_t pa) {
    const uint64_t pde = kernel_pde(pa);
    if (!present(pde)) return 0;
    if (huge(pde)) return (pa & pte::kAddrMask) | (pde & ~pte::kAddrMask2M & ~pte::kHuge & ~0x1ff000ull);
    return table(pde)[pte::pt_index(mm::direct_map_va(pa))];
}

uint64_t* pte_slot(uint64_t pa) {
    const uint64_t pde = *pde_slot(pa);
    if (!present(pde) || huge(pde)) panic("asi: restricted PDE %#lx for %#lx links no page table", pde, pa);
    return &table(pde)[pte::pt_index(mm::direct_map_va(pa))];
}

}  // namespace

uint64_t absent_entry(uint64_t entry, bool is_huge) {
    const uint64_t mask = is_huge ? pte::kAddrMask2M : pte::kAddrMask;
    const uint64_t frame = entry & mask;
    const uint64_t flags = entry & ~mask & ~pte::kPresent & ~pte::kGlobal;
    return (g.options.l1tf_invert ? (~frame & mask) : frame) | flags;
}

void build(const Options& options) {
    VERIFY(g.root == 0);
    g.options = options;
    g.end = mm::kernel_map_stats().direct_map_end;
    VERIFY(g.end <= (512ull << 30));  // one PML4 entry of direct map
    g.root = new_table();
    uint64_t* pml4 = table(g.root);
    const uint64_t* kernel_pml4 = table(mm::kernel_root());
    for (unsigned i = 256; i < 512; ++i)
        if (i != kDirectMapPml4) pml4[i] = kernel_pml4[i];

    const uint64_t pdpt = new_table();
    pml4[kDirectMapPml4] = pdpt | kLink;
    for (uint64_t gib = 0; gib < g.end; gib += pte::k1G) {
        const uint64_t pd = new_table();
        table(pdpt)[pte::pdpt_index(mm::direct_map_va(gib))] = pd | kLink;
        if (!options.page_granular) continue;
        for (uint64_t block = gib; block < gib + pte::k1G && block < g.end; block += pte::k2M) {
            if (!present(kernel_pde(block))) continue;
            table(pd)[pte::pd_index(mm::direct_map_va(block))] = new_table() | kLink;
        }
    }
}

void populate(bool (*owned)(uint64_t pa), bool (*mapped_at_init)(uint64_t pa)) {
    VERIFY(g.root != 0);
    for (uint64_t block = 0; block < g.end; block += pte::k2M) {
        const uint64_t kpde = kernel_pde(block);
        uint64_t* slot = pde_slot(block);
        if (!present(kpde)) continue;
        uint64_t n_owned = 0;
        for (uint64_t pa = block; pa < block + pte::k2M; pa += pte::k4K) n_owned += owned(pa);
        if (n_owned == 0) {
            // Nothing of the allocator's: kernel memory, mapped as in the kernel's tables.
            *slot = kpde;
            ++g.stats.shared_blocks;
            continue;
        }
        if (g.options.page_granular) {
            uint64_t* pt = table(*slot);
            for (uint64_t pa = block; pa < block + pte::k2M; pa += pte::k4K) {
                const uint64_t e = kernel_pte(pa);
                uint64_t& r = pt[pte::pt_index(mm::direct_map_va(pa))];
                if (!present(e) || !owned(pa)) r = e;
                else if (mapped_at_init(pa)) r = e, ++g.stats.present_at_init;
                else r = absent_entry(e, false);
            }
            ++g.stats.own_blocks;
            continue;
        }
        if (n_owned < pte::k2M / pte::k4K) {
            // A partly owned pageblock never changes sensitivity (page.h, kPbPinned) and
            // starts nonsensitive: it shares the kernel's entry.
            for (uint64_t pa = block; pa < block + pte::k2M; pa += pte::k4K)
                if (owned(pa) && !mapped_at_init(pa)) panic("asi: pinned pageblock %#lx starts unmapped", block);
            *slot = kpde;
            g.stats.present_at_init += n_owned;
            ++g.stats.shared_blocks;
            continue;
        }
        // A whole pageblock of the allocator: RAM only, no image, so a 2 MiB kernel leaf.
        if (!huge(kpde)) panic("asi: pageblock %#lx is not mapped with a 2 MiB page", block);
        const bool map = mapped_at_init(block);
        *slot = map ? kpde : absent_entry(kpde, true);
        if (map) g.stats.present_at_init += pte::k2M / pte::k4K;
        ++g.stats.own_blocks;
    }
}

bool built() { return g.root != 0; }
const Options& options() { return g.options; }
uint64_t root() { return g.root; }
const Stats& stats() { return g.stats; }

uint64_t* pde_slot(uint64_t pa) {
    const uint64_t va = mm::direct_map_va(pa);
    VERIFY(pa < g.end);
    const uint64_t e4 = table(g.root)[pte::pml4_index(va)];
    const uint64_t e3 = table(e4)[pte::pdpt_index(va)];
    VERIFY(present(e4) && present(e3) && !huge(e3));
    return &table(e3)[pte::pd_index(va)];
}

bool is_mapped(uint64_t pa) {
    if (pa >= g.end) return false;
    const uint64_t pde = *pde_slot(pa);
    if (!present(pde)) return false;
    if (huge(pde)) return true;
    return present(table(pde)[pte::pt_index(mm::direct_map_va(pa))]);
}

bool all_mapped_as(uint64_t pa, uint64_t count, bool mapped) {
    constexpr uint64_t kAll[8] = {~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull};
    const uint64_t end = pa + count * pte::k4K;
    while (pa < end) {
        if ((pa & (pte::k2M - 1)) != 0 || end - pa < pte::k2M) {
            if (is_mapped(pa) != mapped) return false;
            pa += pte::k4K;
            continue;
        }
        uint64_t bits[8];
        pageblock_mapped(pa, kAll, bits);
        for (uint64_t word : bits)
            if (word != (mapped ? ~0ull : 0)) return false;
        pa += pte::k2M;
    }
    return true;
}

void pageblock_mapped(uint64_t pa, const uint64_t frames[8], uint64_t mapped[8]) {
    VERIFY((pa & (pte::k2M - 1)) == 0);
    for (unsigned w = 0; w < 8; ++w) mapped[w] = 0;
    if (pa >= g.end) return;
    const uint64_t pde = *pde_slot(pa);
    if (!present(pde)) return;
    if (huge(pde)) {
        for (unsigned w = 0; w < 8; ++w) mapped[w] = frames[w];
        return;
    }
    const uint64_t* entries = table(pde);
    for (unsigned w = 0; w < 8; ++w)
        for (uint64_t bits = frames[w]; bits != 0; bits &= bits - 1) {
            const unsigned b = static_cast<unsigned>(__builtin_ctzll(bits));
            if (present(entries[w * 64 + b])) mapped[w] |= uint64_t{1} << b;
        }
}

bool split_pageblock(uint64_t pa, uint64_t pt) {
    VERIFY((pa & (pte::k2M - 1)) == 0 && (pt & (pte::k4K - 1)) == 0);
    uint64_t* slot = pde_slot(pa);
    const uint64_t leaf = *slot;
    if (!present(leaf) || !huge(leaf)) return false;
    const uint64_t flags = leaf & ~pte::kAddrMask2M & ~pte::kHuge & ~0x1ff000ull;
    uint64_t* entries = table(pt);
    for (uint64_t i = 0; i < pte::k2M / pte::k4K; ++i) entries[i] = (pa + i * pte::k4K) | flags;
    *slot = pt | kLink;
    return true;
}

uint64_t collapse_pageblock(uint64_t pa) {
    VERIFY((pa & (pte::k2M - 1)) == 0);
    uint64_t* slot = pde_slot(pa);
    const uint64_t link = *slot;
    if (!present(link) || huge(link)) return 0;
    constexpr uint64_t kHardware = pte::kAccessed | pte::kDirty;  // set by the CPU (SDM 4.8)
    const uint64_t* entries = table(link);
    const uint64_t flags = entries[0] & ~pte::kAddrMask & ~kHardware;
    if (!(flags & pte::kPresent)) return 0;
    for (uint64_t i = 0; i < pte::k2M / pte::k4K; ++i)
        if ((entries[i] & ~kHardware) != ((pa + i * pte::k4K) | flags)) return 0;
    *slot = pa | flags | pte::kHuge;
    return link & pte::kAddrMask;
}

void map_pageblock(uint64_t pa) {
    VERIFY((pa & (pte::k2M - 1)) == 0);
    uint64_t* slot = pde_slot(pa);
    const uint64_t e = *slot;
    if (!huge(e)) panic("asi: map_pageblock(%#lx): PDE %#lx is not a 2 MiB entry", pa, e);
    *slot = pa | (e & ~pte::kAddrMask2M) | pte::kPresent | global_bit();
}

void unmap_pageblock(uint64_t pa) {
    VERIFY((pa & (pte::k2M - 1)) == 0);
    uint64_t* slot = pde_slot(pa);
    const uint64_t e = *slot;
    if (!present(e) || !huge(e)) panic("asi: unmap_pageblock(%#lx): PDE %#lx is not a present 2 MiB leaf", pa, e);
    *slot = absent_entry(e, true);
}

void map_pages(uint64_t pa, uint64_t count) {
    for (uint64_t i = 0; i < count; ++i, pa += pte::k4K) {
        uint64_t* slot = pte_slot(pa);
        *slot = pa | (*slot & ~pte::kAddrMask) | pte::kPresent | global_bit();
    }
}

void unmap_pages(uint64_t pa, uint64_t count) {
    for (uint64_t i = 0; i < count; ++i, pa += pte::k4K) {
        uint64_t* slot = pte_slot(pa);
        if (!present(*slot)) panic("asi: unmap_pages(%#lx): PTE %#lx is not present", pa, *slot);
        *slot = absent_entry(*slot, false);
    }
}

}  // namespace asi::rmap
