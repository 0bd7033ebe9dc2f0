// A small page-table editor for 4-level paging: map and unmap 4 KiB and 2 MiB pages, change
// permissions, walk. It is generic over a Memory policy so that the same code can edit the
// kernel's tables (through the direct map) and, later, be unit-tested on the host with a fake
// memory (Hedron's style):
//
//   struct Memory {
//       uint64_t* table(uint64_t pa);   // a pointer through which table frame `pa` is edited
//       uint64_t allocate_table();      // PA of a zeroed 4 KiB frame, 0 when out of memory
//   };
//
// The editor never flushes the TLB: the caller knows what the change requires (SDM vol. 3A
// 4.10.4.2/4.10.4.3: a change from not-present to present needs no invalidation; removing or
// restricting a translation does, on every CPU that may cache it).
#pragma once
#include <stdint.h>

#include "mm/pte.h"

namespace mm {

enum class MapError {
    kOk,
    kNonCanonical,
    kMisaligned,
    kAlreadyMapped,   // a leaf (or a larger page) is already there
    kNoMemory,
    kNotMapped,
};

struct Translation {
    bool present = false;
    uint64_t pa = 0;      // physical address of `va` itself
    uint64_t entry = 0;   // the leaf entry
    unsigned level = 0;   // 1 = 4 KiB PTE, 2 = 2 MiB PDE, 3 = 1 GiB PDPTE
    // Effective permissions: the AND of R/W and U/S, the OR of XD over every level (SDM 4.6).
    bool writable = false;
    bool user = false;
    bool no_execute = false;
};

template <typename Memory>
class PageTable {
public:
    constexpr PageTable(Memory& memory, uint64_t root_pa) : mem_(&memory), root_(root_pa) {}

    uint64_t root() const { return root_; }
    void set_root(uint64_t root_pa) { root_ = root_pa; }

    MapError map_4k(uint64_t va, uint64_t pa, uint64_t flags) {
        if (!pte::is_canonical(va)) return MapError::kNonCanonical;
        if ((va | pa) & (pte::k4K - 1)) return MapError::kMisaligned;
        uint64_t* pt = nullptr;
        if (MapError e = walk_create(va, 1, flags, &pt); e != MapError::kOk) return e;
        uint64_t& entry = pt[pte::pt_index(va)];
        if (entry & pte::kPresent) return MapError::kAlreadyMapped;
        entry = (pa & pte::kAddrMask) | flags | pte::kPresent;
        return MapError::kOk;
    }

    MapError map_2m(uint64_t va, uint64_t pa, uint64_t flags) {
        if (!pte::is_canonical(va)) return MapError::kNonCanonical;
        if ((va | pa) & (pte::k2M - 1)) return MapError::kMisaligned;
        uint64_t* pd = nullptr;
        if (MapError e = walk_create(va, 2, flags, &pd); e != MapError::kOk) return e;
        uint64_t& entry = pd[pte::pd_index(va)];
        if (entry & pte::kPresent) return MapError::kAlreadyMapped;
        entry = (pa & pte::kAddrMask2M) | flags | pte::kHuge | pte::kPresent;
        return MapError::kOk;
    }

    // Clears the 4 KiB leaf for `va`; *old receives the previous entry. Intermediate tables
    // stay (the paging-structure caches may still point at them: freeing one needs a flush).
    MapError unmap_4k(uint64_t va, uint64_t* old = nullptr) {
        uint64_t* entry = leaf(va, 1);
        if (entry == nullptr || !(*entry & pte::kPresent)) return MapError::kNotMapped;
        if (old != nullptr) *old = *entry;
        *entry = 0;
        return MapError::kOk;
    }

    // Creates the tables down to `level` (3: the PDPT, 2: the PD, 1: the PT) for `va`
    // without mapping anything, so that another root can share them from then on (Linux's
    // preallocate_vmalloc_pages()).
    MapError prepare(uint64_t va, unsigned level) {
        if (!pte::is_canonical(va)) return MapError::kNonCanonical;
        uint64_t* table = nullptr;
        return walk_create(va, level, 0, &table);
    }

    // Sets and clears flag bits of the 4 KiB leaf for `va`.
    MapError protect_4k(uint64_t va, uint64_t set, uint64_t clear) {
        uint64_t* entry = leaf(va, 1);
        if (entry == nullptr || !(*entry & pte::kPresent)) return MapError::kNotMapped;
        *entry = (*entry & ~clear) | set;
        return MapError::kOk;
    }

    // Pointer to the leaf entry of `va` at `level` (1: PTE, 2: PDE), or nullptr when a
    // table on the way is missing or a larger page maps `va`.
    uint64_t* leaf(uint64_t va, unsigned level) {
        uint64_t* table = mem_->table(root_);
        for (unsigned l = 4; l > level; --l) {
            const uint64_t e = table[index(va, l)];
            if (!(e & pte::kPresent) || (l <= 3 && (e & pte::kHuge))) return nullptr;
            table = mem_->table(e & pte::kAddrMask);
        }
        return &table[index(va, level)];
    }

    Translation translate(uint64_t va) {
        Translation t;
        if (!pte::is_canonical(va)) return t;
        bool writable = true, user = true, nx = false;
        uint64_t* table = mem_->table(root_);
        for (unsigned l = 4; l >= 1; --l) {
            const uint64_t e = table[index(va, l)];
            if (!(e & pte::kPresent)) return t;
            writable = writable && (e & pte::kWritable);
            user = user && (e & pte::kUser);
            nx = nx || (e & pte::kNoExecute);
            const bool is_leaf = (l == 1) || (l <= 3 && (e & pte::kHuge));
            if (is_leaf) {
                const uint64_t size = l == 1 ? pte::k4K : (l == 2 ? pte::k2M : pte::k1G);
                t.present = true;
                t.pa = (e & pte::kAddrMask & ~(size - 1)) | (va & (size - 1));
                t.entry = e;
                t.level = l;
                t.writable = writable;
                t.user = user;
                t.no_execute = nx;
                return t;
            }
            table = mem_->table(e & pte::kAddrMask);
        }
        return t;
    }

private:
    static unsigned index(uint64_t va, unsigned level) {
        switch (level) {
            case 4: return pte::pml4_index(va);
            case 3: return pte::pdpt_index(va);
            case 2: return pte::pd_index(va);
            default: return pte::pt_index(va);
        }
    }

    // Walks from the root down to the table at `level` (1: PT, 2: PD) for `va`, creating
    // missing tables. Non-leaf entries get P|RW, plus U/S when the leaf is a user page, since
    // the access rights are the combination over all levels (SDM 4.6.1): the leaf decides.
    MapError walk_create(uint64_t va, unsigned level, uint64_t leaf_flags, uint64_t** out) {
        const uint64_t link = pte::kPresent | pte::kWritable | (leaf_flags & pte::kUser);
        uint64_t* table = mem_->table(root_);
        for (unsigned l = 4; l > level; --l) {
            uint64_t& e = table[index(va, l)];
            if (e & pte::kPresent) {
                if (l <= 3 && (e & pte::kHuge)) return MapError::kAlreadyMapped;
                e |= link;  // widen only: never strip rights other mappings rely on
            } else {
                const uint64_t frame = mem_->allocate_table();
                if (frame == 0) return MapError::kNoMemory;
                e = frame | link;
            }
            table = mem_->table(e & pte::kAddrMask);
        }
        *out = table;
        return MapError::kOk;
    }

    Memory* mem_;
    uint64_t root_;
};

inline const char* map_error_name(MapError e) {
    switch (e) {
        case MapError::kOk: return "ok";
        case MapError::kNonCanonical: return "non-canonical address";
        case MapError::kMisaligned: return "misaligned";
        case MapError::kAlreadyMapped: return "already mapped";
        case MapError::kNoMemory: return "out of page-table memory";
        case MapError::kNotMapped: return "not mapped";
    }
    return "?";
}

}  // namespace mm
