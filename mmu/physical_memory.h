// Guest RAM as the page walker sees it: one host buffer, guest physical address 0 at data[0].
//
// The walker reads paging-structure entries at their physical addresses (SDM vol. 3A 4.5:
// each entry is located through CR3 or a parent entry's physical address), so every access
// here is by physical address and bounds-checked: a table outside RAM is a walker outcome
// (WalkStatus::TableOutsideRam), never undefined behaviour on the host.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>

namespace mmu {

struct PhysicalMemory {
    uint8_t* data = nullptr;
    uint64_t size = 0;

    // True when [pa, pa + len) lies inside RAM. Written so that pa + len cannot wrap.
    bool contains(uint64_t pa, uint64_t len) const {
        return pa <= size && len <= size - pa;
    }

    // Paging-structure entries are 8-byte aligned by construction (table base is 4 KiB
    // aligned, index * 8), but callers may read any address: memcpy keeps it alignment-safe.
    std::optional<uint64_t> read_u64(uint64_t pa) const {
        if (!contains(pa, sizeof(uint64_t))) return std::nullopt;
        uint64_t v;
        std::memcpy(&v, data + pa, sizeof v);
        return v;
    }

    bool write_u64(uint64_t pa, uint64_t v) {
        if (!contains(pa, sizeof(uint64_t))) return false;
        std::memcpy(data + pa, &v, sizeof v);
        return true;
    }
};

}  // namespace mmu
