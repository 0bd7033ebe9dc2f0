// The kernel address space: the kernel image at 0xffffffff80000000 + PA with 4 KiB pages and
// per-segment permissions, and the direct map at PAGE_OFFSET + PA (asi_abi::kDirectMapBase)
// over all RAM with 2 MiB pages, except the 2 MiB blocks that hold the kernel image: those are
// mapped with 4 KiB pages so that the image's text and rodata frames are read-only through
// the direct map too, as Linux does for the kernel text alias. No global pages (CR4.PGE=0),
// no identity mapping.
#pragma once
#include <stdint.h>

#include "mm/page_table.h"
#include "mm/phys.h"

namespace mm {

// Page-table memory of the running kernel: table frames from the early frame allocator,
// edited through the current physical window (identity before the switch, direct map after).
struct KernelPhysMemory {
    uint64_t* table(uint64_t pa) { return static_cast<uint64_t*>(phys_to_virt(pa)); }
    uint64_t allocate_table();
};
using KernelPageTable = PageTable<KernelPhysMemory>;

// PCID of the kernel address space when CR4.PCIDE is on (0 is left unused so that a stray
// PCIDE=0 CR3 load cannot alias the kernel's TLB entries).
constexpr uint64_t kKernelPcid = 1;

struct KernelMapStats {
    uint64_t image_pages;    // 4 KiB image mappings
    uint64_t direct_2m;      // 2 MiB direct-map pages
    uint64_t direct_4k;      // 4 KiB direct-map pages
    uint64_t table_frames;   // page-table frames allocated
    uint64_t direct_map_end; // highest RAM address mapped + 1
};

// Builds the tables (needs x86::detect_features() and the early frame allocator).
void build_kernel_address_space();
// Loads them: EFER.NXE (if NX), CR0.WP, CR4.PGE=0, CR3, then CR4.PCIDE and the PCID.
void activate_kernel_address_space();
// The same on an application processor, whose entry code already set EFER.NXE and loaded the
// kernel root with PCID 0 (kernel/smp.h).
void activate_kernel_address_space_on_ap();

KernelPageTable& kernel_page_table();
uint64_t kernel_root();
uint64_t kernel_pcid();   // kKernelPcid with PCIDE, else 0
uint64_t kernel_cr3();    // root | PCID: the value loaded into CR3
uint64_t nx_flag();       // pte::kNoExecute when EFER.NXE is on, else 0
const KernelMapStats& kernel_map_stats();

}  // namespace mm
