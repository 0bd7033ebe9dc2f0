#include "emu/backend/root_validation.h"

#include "mmu/pte.h"

namespace emu::backend {
namespace {

uint64_t sign_extend_va(uint64_t va) { return (va & (1ull << 47)) ? (va | 0xffff000000000000ull) : va; }

bool walk_level(const mmu::PhysicalMemory& ram, uint64_t table, int level, uint64_t va_base,
                const std::function<void(uint64_t, uint64_t, uint64_t)>& fn) {
    const uint64_t span = 1ull << (12 + 9 * (level - 1));
    for (unsigned i = 0; i < mmu::kEntriesPerTable; ++i) {
        std::optional<uint64_t> e = ram.read_u64(table + i * 8ull);
        if (!e) return false;
        if (!(*e & mmu::pte_bits::kPresent)) continue;
        const uint64_t va = sign_extend_va(va_base + i * span);
        const bool leaf = level == 1 || ((level == 2 || level == 3) && (*e & mmu::pte_bits::kPageSize));
        if (leaf) {
            const uint64_t mask = level == 1   ? mmu::pte_bits::kAddressMask
                                  : level == 2 ? mmu::pte_bits::kAddress2MMask
                                               : mmu::pte_bits::kAddress1GMask;
            fn(va, *e & mask, span);
        } else if (!walk_level(ram, *e & mmu::pte_bits::kAddressMask, level - 1, va, fn)) {
            return false;
        }
    }
    return true;
}

}  // namespace

bool for_each_leaf(const mmu::PhysicalMemory& ram, uint64_t cr3,
                   const std::function<void(uint64_t, uint64_t, uint64_t)>& fn) {
    return walk_level(ram, cr3 & mmu::pte_bits::kAddressMask, 4, 0, fn);
}

}  // namespace emu::backend
