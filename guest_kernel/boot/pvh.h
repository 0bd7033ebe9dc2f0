// The Xen HVM direct boot ABI ("PVH") start-of-day structures handed over in EBX
// (xen/include/public/arch-x86/hvm/start_info.h). Version 1 adds the memory map.
#pragma once
#include <stdint.h>

namespace pvh {

constexpr uint32_t kStartInfoMagic = 0x336ec578;  // "xEn3" with 0x80 set in the 'E'

struct StartInfo {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;   // NUL-terminated, 0 if none
    uint64_t rsdp_paddr;
    // version >= 1:
    uint64_t memmap_paddr;    // array of MemmapEntry
    uint32_t memmap_entries;
    uint32_t reserved;
};
static_assert(sizeof(StartInfo) == 56);

// E820-style entry.
struct MemmapEntry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;  // kE820Ram, ...
    uint32_t reserved;
};
static_assert(sizeof(MemmapEntry) == 24);

constexpr uint32_t kE820Ram = 1;

}  // namespace pvh
