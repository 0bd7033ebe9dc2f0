#include "mm/kernel_mappings.h"

#include "abi/asi_emu_abi.h"
#include "arch/x86/cpu.h"
#include "arch/x86/cpu_features.h"
#include "boot/boot_info.h"
#include "drivers/tracepoint.h"
#include "kernel/image.h"
#include "kernel/panic.h"
#include "mm/early_frame_allocator.h"
#include "mm/kernel_va.h"
#include "mm/pte.h"
#include "mm/tlb.h"

namespace mm {
namespace {

static_assert(kKernelPcid == tlb::kUnrestrictedPcid);

constinit KernelPhysMemory g_memory{};
constinit KernelPageTable g_page_table{g_memory, 0};
constinit uint64_t g_pcid = 0;
constinit uint64_t g_nx = 0;
constinit KernelMapStats g_stats{};

bool is_ram_type(uint32_t type) {
    return type == asi_abi::kMemoryUsable || type == asi_abi::kMemoryKernelImage ||
           type == asi_abi::kMemoryBootData;
}

bool region_covers(const asi_abi::MemoryRegion& r, uint64_t start, uint64_t end) {
    return is_ram_type(r.type) && r.base <= start && end <= r.base + r.length;
}

bool range_is_ram(uint64_t start, uint64_t end) {
    const asi_abi::BootInfo& bi = boot::info();
    for (uint32_t i = 0; i < bi.region_count; ++i) {
        if (region_covers(bi.regions[i], start, end)) return true;
    }
    return false;
}

bool is_ram_page(uint64_t pa) { return range_is_ram(pa, pa + pte::k4K); }

// Image frames that must stay read-only through every alias: boot32, text, rodata.
bool is_read_only_image_frame(uint64_t pa) {
    return pa >= image::virt_to_phys(__boot32_start) && pa < image::virt_to_phys(__rodata_end);
}

void check(MapError e, const char* what, uint64_t va) {
    if (e != MapError::kOk) panic("mapping %s at %#lx: %s", what, va, map_error_name(e));
}

void map_image() {
    struct Segment {
        const char* name;
        char* start;
        char* end;
        uint64_t flags;
    };
    // Text is the only executable range and is never writable (no W+X anywhere).
    const Segment segments[] = {
        {"boot32", __boot32_start, __boot32_end, g_nx},
        {"text", __text_start, __text_end, 0},
        {"rodata", __rodata_start, __rodata_end, g_nx},
        {"data", __data_start, __data_end, pte::kWritable | g_nx},
    };
    for (const Segment& s : segments) {
        for (char* va = s.start; va < s.end; va += pte::k4K) {
            const uint64_t v = reinterpret_cast<uint64_t>(va);
            check(g_page_table.map_4k(v, image::virt_to_phys(va), s.flags), s.name, v);
            ++g_stats.image_pages;
        }
    }
}

void map_direct() {
    const asi_abi::BootInfo& bi = boot::info();
    uint64_t end = 0;
    for (uint32_t i = 0; i < bi.region_count; ++i) {
        const asi_abi::MemoryRegion& r = bi.regions[i];
        if (is_ram_type(r.type) && r.base + r.length > end) end = r.base + r.length;
    }
    g_stats.direct_map_end = end & ~(pte::k4K - 1);
    const uint64_t img_start = image::start_phys();
    const uint64_t img_end = image::end_phys();
    const uint64_t data_flags = pte::kWritable | g_nx;  // the direct map is never executable
    for (uint64_t block = 0; block < g_stats.direct_map_end; block += pte::k2M) {
        const uint64_t block_end = block + pte::k2M;
        const bool holds_image = block < img_end && block_end > img_start;
        if (!holds_image && range_is_ram(block, block_end)) {
            check(g_page_table.map_2m(direct_map_va(block), block, data_flags), "direct map", block);
            ++g_stats.direct_2m;
            continue;
        }
        // Partly RAM (e.g. the first 2 MiB with its firmware holes), or the image's blocks.
        for (uint64_t pa = block; pa < block_end; pa += pte::k4K) {
            if (!is_ram_page(pa)) continue;
            const uint64_t flags = is_read_only_image_frame(pa) ? g_nx : data_flags;
            check(g_page_table.map_4k(direct_map_va(pa), pa, flags), "direct map", pa);
            ++g_stats.direct_4k;
        }
    }
}

}  // namespace

uint64_t KernelPhysMemory::allocate_table() {
    ++g_stats.table_frames;
    return allocate_zeroed_frame();
}

void build_kernel_address_space() {
    g_nx = x86::features().nx ? pte::kNoExecute : 0;
    g_page_table.set_root(g_memory.allocate_table());
    map_image();
    map_direct();
    // The first 512 GiB of the vmalloc area get their PDPT now, so that a root that copies
    // this one's kernel-half PML4 entries (ASI's restricted root) shares every later
    // vmalloc mapping (Linux: preallocate_vmalloc_pages()).
    check(g_page_table.prepare(kVmallocStart, 3), "vmalloc PDPT", kVmallocStart);
}

namespace {

// The paging controls every CPU runs with: CR0.WP, so that supervisor writes honour
// read-only pages (SDM vol. 3A 4.6.1); no global pages, as global translations would survive
// the switch into a restricted address space (ASI). Clearing PGE invalidates every TLB entry
// (SDM 4.10.4.1).
void set_paging_controls() {
    x86::write_cr0(x86::read_cr0() | x86::kCr0Wp);
    const uint64_t cr4 = x86::read_cr4();
    if (cr4 & x86::kCr4Pge) x86::write_cr4(cr4 & ~x86::kCr4Pge);
}

// CR4.PCIDE may go from 0 to 1 only with CR3[11:0] = 0 and in IA-32e mode (SDM vol. 3A
// 4.10.1); then the kernel gets its PCID. Bit 63 clear: the load invalidates the new PCID's
// entries (4.10.4.1).
void enter_kernel_pcid(uint64_t root) {
    x86::write_cr4(x86::read_cr4() | x86::kCr4Pcide);
    x86::write_cr3(root | kKernelPcid);
}

}  // namespace

void activate_kernel_address_space() {
    const x86::Features& f = x86::features();
    // XD bits are reserved (a walk that meets one raises #PF with RSVD) until EFER.NXE=1.
    if (f.nx) x86::wrmsr(x86::kMsrEfer, x86::rdmsr(x86::kMsrEfer) | x86::kEferNxe);
    set_paging_controls();

    const uint64_t root = g_page_table.root();
    g_pcid = f.pcid ? kKernelPcid : 0;
    tracepoint::emit(asi_abi::kTraceAddressSpaceRegister, root, g_pcid, asi_abi::kSpaceUnrestricted, 0);

    // Both the image window and the stack are mapped identically in the new tables.
    x86::write_cr3(root);
    g_phys_window = asi_abi::kDirectMapBase;
    early_frames().set_limit(~0ull);  // the direct map reaches all RAM
    if (f.pcid) enter_kernel_pcid(root);
    tlb::init(root, f.pcid, f.invpcid);
}

void activate_kernel_address_space_on_ap() {
    const x86::Features& f = x86::features();
    VERIFY((x86::read_cr3() & ~x86::kCr3PcidMask) == g_page_table.root());
    set_paging_controls();
    if (f.pcid) enter_kernel_pcid(g_page_table.root());
    tlb::init_cpu();
}

KernelPageTable& kernel_page_table() { return g_page_table; }
uint64_t kernel_root() { return g_page_table.root(); }
uint64_t kernel_pcid() { return g_pcid; }
uint64_t kernel_cr3() { return g_page_table.root() | g_pcid; }
uint64_t nx_flag() { return g_nx; }
const KernelMapStats& kernel_map_stats() { return g_stats; }

}  // namespace mm
