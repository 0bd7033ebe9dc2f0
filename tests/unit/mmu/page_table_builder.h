// Test support: guest RAM in a std::vector and a tiny page-table builder over it.
// Tables are taken from a bump allocator starting at table_base; every write goes through
// PhysicalMemory so tests can observe exactly what a walk or the builder changed.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

#include "mmu/physical_memory.h"
#include "mmu/pte.h"

namespace mmu::testing {

class FakeRam {
public:
    explicit FakeRam(uint64_t bytes) : bytes_(bytes, 0) { mem_ = {bytes_.data(), bytes}; }
    FakeRam(const FakeRam&) = delete;
    FakeRam& operator=(const FakeRam&) = delete;

    PhysicalMemory& mem() { return mem_; }
    uint64_t read(uint64_t pa) const { return mem_.read_u64(pa).value(); }
    void write(uint64_t pa, uint64_t v) {
        if (!mem_.write_u64(pa, v)) throw std::out_of_range("FakeRam::write");
        if (on_write) on_write(pa, v);
    }
    // Called after every write, as the emulator's store hook reports guest stores.
    std::function<void(uint64_t pa, uint64_t v)> on_write;

private:
    std::vector<uint8_t> bytes_;
    PhysicalMemory mem_;
};

class PageTableBuilder {
public:
    // Flags given to new upper-level entries unless a test overrides them.
    static constexpr uint64_t kUpperFlags = pte_bits::kWritable | pte_bits::kUser;

    PageTableBuilder(FakeRam& ram, uint64_t table_base) : ram_(ram), next_(table_base) {}

    uint64_t alloc_table() {
        uint64_t pa = next_;
        next_ += kPageSize4K;
        for (unsigned i = 0; i < kEntriesPerTable; ++i) ram_.write(pa + i * 8, 0);
        return pa;
    }
    uint64_t new_root() { return alloc_table(); }

    // Physical address of the entry for va at `level`, creating missing tables above it
    // with upper_flags. Returns 0 when a large page is in the way.
    uint64_t entry_pa(uint64_t root, uint64_t va, PteLevel level,
                      uint64_t upper_flags = kUpperFlags) {
        uint64_t table = root & pte_bits::kAddressMask;
        for (int lv = 4; lv > static_cast<int>(level); --lv) {
            const auto l = static_cast<PteLevel>(lv);
            uint64_t epa = table + index_of(l, va) * 8;
            uint64_t e = ram_.read(epa);
            if (!(e & pte_bits::kPresent)) {
                uint64_t t = alloc_table();
                e = (t | upper_flags | pte_bits::kPresent) & ~pte_bits::kPageSize;
                ram_.write(epa, e);
            } else if (entry_maps_page(l, e)) {
                return 0;
            }
            table = entry_address(l, e);
        }
        return table + index_of(level, va) * 8;
    }

    // Maps one page of the given size (4K, 2M, 1G). flags are the leaf's extra bits.
    uint64_t map(uint64_t root, uint64_t va, uint64_t pa, uint64_t flags,
                 uint64_t size = kPageSize4K, uint64_t upper_flags = kUpperFlags) {
        PteLevel level = size == kPageSize1G   ? PteLevel::Pdpte
                         : size == kPageSize2M ? PteLevel::Pde
                                               : PteLevel::Pte;
        uint64_t epa = entry_pa(root, va, level, upper_flags);
        uint64_t e = 0;
        switch (level) {
        case PteLevel::Pte: e = Pte::page(pa, flags).raw(); break;
        case PteLevel::Pde: e = Pde::page(pa, flags).raw(); break;
        case PteLevel::Pdpte: e = Pdpte::page(pa, flags).raw(); break;
        case PteLevel::Pml4e: break;
        }
        ram_.write(epa, e);
        return epa;
    }

private:
    FakeRam& ram_;
    uint64_t next_;
};

}  // namespace mmu::testing
