#include "boot/boot_info.h"

#include "boot/pvh.h"
#include "kernel/image.h"
#include "kernel/panic.h"
#include "lib/string.h"

namespace boot {
namespace {

using asi_abi::BootInfo;
using asi_abi::MemoryRegion;

constinit BootInfo g_info{};
constinit BootInfo g_pvh_info{};  // built by pvh_build_boot_info on the PVH path
constinit uint64_t g_loader_block_phys = 0;
constinit bool g_via_pvh = false;

void append_region(BootInfo& bi, uint64_t base, uint64_t length, uint32_t type) {
    if (length == 0) return;
    if (bi.region_count >= asi_abi::kMaxMemoryRegions)
        panic("PVH memory map has more than %u regions", asi_abi::kMaxMemoryRegions);
    bi.regions[bi.region_count++] = MemoryRegion{base, length, type, 0};
}

void sort_regions(BootInfo& bi) {
    for (uint32_t i = 1; i < bi.region_count; ++i) {
        MemoryRegion r = bi.regions[i];
        uint32_t j = i;
        for (; j > 0 && bi.regions[j - 1].base > r.base; --j) bi.regions[j] = bi.regions[j - 1];
        bi.regions[j] = r;
    }
}

}  // namespace

const BootInfo& info() { return g_info; }
uint64_t loader_block_phys() { return g_loader_block_phys; }
bool booted_via_pvh() { return g_via_pvh; }

const char* memory_type_name(uint32_t type) {
    switch (type) {
        case asi_abi::kMemoryUsable: return "usable";
        case asi_abi::kMemoryReserved: return "reserved";
        case asi_abi::kMemoryKernelImage: return "kernel-image";
        case asi_abi::kMemoryBootData: return "boot-data";
        default: return "unknown";
    }
}

void adopt_boot_info(uint64_t pa) {
    // Every boot path identity-maps the block (asi-emu: [0, RAM); PVH early tables: 1 GiB).
    const auto* src = reinterpret_cast<const BootInfo*>(pa);
    if (src->magic != asi_abi::kBootInfoMagic)
        panic("BootInfo at %#lx: bad magic %#lx", pa, src->magic);
    if (src->version != asi_abi::kBootInfoVersion)
        panic("BootInfo: version %u, this kernel speaks %u", src->version, asi_abi::kBootInfoVersion);
    if (src->size != sizeof(BootInfo))
        panic("BootInfo: size %u, expected %u", src->size, unsigned(sizeof(BootInfo)));
    memcpy(&g_info, src, sizeof(BootInfo));
    g_loader_block_phys = pa;
    g_via_pvh = (pa == image::virt_to_phys(&g_pvh_info));
    if (g_info.region_count > asi_abi::kMaxMemoryRegions)
        panic("BootInfo: %u memory regions (max %u)", g_info.region_count, asi_abi::kMaxMemoryRegions);
    if (g_info.cmdline_length >= asi_abi::kMaxCmdline)
        panic("BootInfo: command line length %u (max %u)", g_info.cmdline_length, asi_abi::kMaxCmdline - 1);
    g_info.cmdline[g_info.cmdline_length] = '\0';
    if (g_info.cpu_count == 0 || g_info.cpu_id >= g_info.cpu_count)
        panic("BootInfo: cpu_id %u of %u", g_info.cpu_id, g_info.cpu_count);
}

}  // namespace boot

extern "C" uint64_t pvh_build_boot_info(uint64_t start_info_pa) {
    using namespace boot;
    const auto* si = reinterpret_cast<const pvh::StartInfo*>(start_info_pa);
    if (si->magic != pvh::kStartInfoMagic) panic("PVH: bad hvm_start_info magic %#x", si->magic);
    if (si->version < 1) panic("PVH: hvm_start_info version %u has no memory map", si->version);

    asi_abi::BootInfo& bi = g_pvh_info;
    memset(&bi, 0, sizeof(bi));
    bi.magic = asi_abi::kBootInfoMagic;
    bi.version = asi_abi::kBootInfoVersion;
    bi.size = sizeof(asi_abi::BootInfo);
    bi.cpu_count = 1;
    bi.cpu_id = 0;
    bi.rng_seed = 0;

    // The image's frames are E820 RAM too: carve them out as KernelImage (page-rounded
    // by the linker script), like asi-emu's loader reports them.
    const uint64_t img_start = image::start_phys();
    const uint64_t img_end = image::end_phys();
    const auto* map = reinterpret_cast<const pvh::MemmapEntry*>(si->memmap_paddr);
    for (uint32_t i = 0; i < si->memmap_entries; ++i) {
        const uint64_t base = map[i].addr;
        const uint64_t end = map[i].addr + map[i].size;
        if (map[i].type != pvh::kE820Ram) {
            append_region(bi, base, map[i].size, asi_abi::kMemoryReserved);
            continue;
        }
        if (end <= img_start || base >= img_end) {
            append_region(bi, base, map[i].size, asi_abi::kMemoryUsable);
            continue;
        }
        if (base < img_start) append_region(bi, base, img_start - base, asi_abi::kMemoryUsable);
        if (end > img_end) append_region(bi, img_end, end - img_end, asi_abi::kMemoryUsable);
    }
    append_region(bi, img_start, img_end - img_start, asi_abi::kMemoryKernelImage);
    sort_regions(bi);

    if (si->cmdline_paddr != 0) {
        const char* cmd = reinterpret_cast<const char*>(si->cmdline_paddr);
        uint32_t n = 0;
        while (n < asi_abi::kMaxCmdline - 1 && cmd[n] != '\0') {
            bi.cmdline[n] = cmd[n];
            ++n;
        }
        bi.cmdline[n] = '\0';
        bi.cmdline_length = n;
    }
    return image::virt_to_phys(&bi);
}
