// Brute-force reference for the TLB envelope, for tests only. After every event it creates
// every TLB entry and paging-structure-cache entry the architecture allows (SDM vol. 3A
// 4.10.2, 4.10.3: from the current CR3's tables and, through PS-cache entries of the current
// PCID, from the current content of the tables they point to) and applies each invalidation
// exactly as SDM 4.10.4.1 words it, entry by entry. Only usable on tiny tables: walks visit
// only the entry indices the test writes.
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <tuple>
#include <vector>

#include "cpu_model/tlb_types.h"
#include "mmu/address_space_index.h"
#include "mmu/physical_memory.h"
#include "mmu/pte.h"
#include "mmu/walker.h"

namespace cpu_model::testing {

struct RefTlb {
    Pcid pcid;
    uint64_t va, size, frame;
    bool global;
    auto operator<=>(const RefTlb&) const = default;
};

struct RefPs {
    Pcid pcid;
    int level;        // level of the cached entry: 4 PML4E, 3 PDPTE, 2 PDE
    uint64_t prefix;  // base of the region the entry controls
    uint64_t table;   // the table it points to
    auto operator<=>(const RefPs&) const = default;
};

class ReferenceTlb {
public:
    // slots[l-1]: the entry indices used in level-l tables.
    ReferenceTlb(const mmu::PhysicalMemory& mem, unsigned vcpus,
                 std::array<std::vector<unsigned>, 4> slots)
        : mem_(mem), v_(vcpus), slots_(std::move(slots)) {}

    struct Vcpu {
        bool pg = false, pge = false, pcide = false;
        uint64_t root = 0;
        Pcid pcid = 0;
        std::set<RefTlb> tlb;
        std::set<RefPs> ps;
    };
    const Vcpu& vcpu(unsigned v) const { return v_[v]; }

    void set_state(unsigned v, uint64_t cr0, uint64_t cr3, uint64_t cr4) {
        Vcpu& c = v_[v];
        c = Vcpu{};
        c.pg = cr0 & cr_bits::kCr0Pg;
        c.pge = cr4 & cr_bits::kCr4Pge;
        c.pcide = cr4 & cr_bits::kCr4Pcide;
        c.root = mmu::cr3_table_address(cr3);
        c.pcid = c.pcide ? Pcid(cr3 & 0xfff) : Pcid{0};
    }
    void mov_to_cr3(unsigned v, uint64_t value) {
        Vcpu& c = v_[v];
        const Pcid p = c.pcide ? Pcid(value & 0xfff) : Pcid{0};
        if (!(c.pcide && (value >> 63))) {
            std::erase_if(c.tlb, [&](const RefTlb& e) { return e.pcid == p && !e.global; });
            std::erase_if(c.ps, [&](const RefPs& e) { return e.pcid == p; });
        }
        c.root = mmu::cr3_table_address(value);
        c.pcid = p;
    }
    void mov_to_cr4(unsigned v, uint64_t cr4) {
        Vcpu& c = v_[v];
        const bool pge = cr4 & cr_bits::kCr4Pge, pcide = cr4 & cr_bits::kCr4Pcide;
        if (pge != c.pge || (c.pcide && !pcide)) {
            c.tlb.clear();
            c.ps.clear();
            if (!pcide) c.pcid = 0;
        }
        c.pge = pge;
        c.pcide = pcide;
    }
    void mov_to_cr0(unsigned v, uint64_t cr0) {
        Vcpu& c = v_[v];
        const bool pg = cr0 & cr_bits::kCr0Pg;
        if (c.pg && !pg) {
            c.tlb.clear();
            c.ps.clear();
        }
        c.pg = pg;
    }
    void invlpg(unsigned v, uint64_t va) {
        if (!mmu::is_canonical(va)) return;
        Vcpu& c = v_[v];
        std::erase_if(c.tlb, [&](const RefTlb& e) {
            return (e.pcid == c.pcid || e.global) && in(va, e.va, e.size);
        });
        std::erase_if(c.ps, [&](const RefPs& e) { return e.pcid == c.pcid; });
    }
    void invpcid(unsigned v, InvpcidType t, Pcid p, uint64_t va) {
        Vcpu& c = v_[v];
        switch (t) {
        case InvpcidType::IndividualAddress: address(c, p, va); break;
        case InvpcidType::SingleContext:
            std::erase_if(c.tlb, [&](const RefTlb& e) { return e.pcid == p && !e.global; });
            std::erase_if(c.ps, [&](const RefPs& e) { return e.pcid == p; });
            break;
        case InvpcidType::AllContextsAndGlobals:
            c.tlb.clear();
            c.ps.clear();
            break;
        case InvpcidType::AllContexts:
            std::erase_if(c.tlb, [&](const RefTlb& e) { return !e.global; });
            c.ps.clear();
            break;
        }
    }
    void page_fault(unsigned v, uint64_t va) {
        if (v_[v].pg) address(v_[v], v_[v].pcid, va);
    }

    // Creates everything that may be cached now.
    void saturate() {
        for (Vcpu& c : v_) {
            if (!c.pg) continue;
            walk(c, c.root, 4, 0);
            const std::vector<RefPs> own(c.ps.begin(), c.ps.end());
            for (const RefPs& e : own)
                if (e.pcid == c.pcid) walk(c, e.table, e.level - 1, e.prefix);
        }
    }

private:
    static bool in(uint64_t va, uint64_t base, uint64_t size) { return va - base < size; }

    void address(Vcpu& c, Pcid p, uint64_t va) {
        if (!mmu::is_canonical(va)) return;
        std::erase_if(c.tlb, [&](const RefTlb& e) {
            return e.pcid == p && !e.global && in(va, e.va, e.size);
        });
        std::erase_if(c.ps, [&](const RefPs& e) {
            return e.pcid == p && in(va, e.prefix, mmu::span_of(static_cast<mmu::PteLevel>(e.level)));
        });
    }

    void walk(Vcpu& c, uint64_t table, int level, uint64_t base) {
        const auto lv = static_cast<mmu::PteLevel>(level);
        for (unsigned i : slots_[level - 1]) {
            const auto raw = mem_.read_u64(table + i * 8);
            if (!raw || !(*raw & mmu::pte_bits::kPresent)) continue;
            const uint64_t va = mmu::canonical_va(base + i * mmu::span_of(lv));
            const uint64_t addr = mmu::entry_address(lv, *raw);
            if (mmu::entry_maps_page(lv, *raw)) {
                c.tlb.insert({c.pcid, va, mmu::span_of(lv), addr,
                              c.pge && (*raw & mmu::pte_bits::kGlobal)});
            } else {
                if (!c.ps.insert({c.pcid, level, va, addr}).second) continue;  // walked already
                walk(c, addr, level - 1, va);
            }
        }
    }

    const mmu::PhysicalMemory& mem_;
    std::vector<Vcpu> v_;
    std::array<std::vector<unsigned>, 4> slots_;
};

}  // namespace cpu_model::testing
