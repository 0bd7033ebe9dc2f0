// The kernel's page allocator: the allocator core (mm/page_alloc/) over all usable memory
// the early frame allocator never handed out, under the policy chosen at boot, and the
// restricted address space built to match it.
//
// Boot order (init_page_allocator):
//   1. the page metadata array (20 bytes per frame of the zone's span) is carved from early
//      memory, as Linux's memblock-allocated mem_map;
//   2. with ASI on, the restricted root and every table of its direct map are allocated
//      from early memory (mm/asi/restricted_map.h), so no sensitivity change ever needs one;
//   3. the early allocator retires and hands its unused memory to the page allocator;
//   4. the restricted direct map is filled from the allocator's restricted_mapped_at_init(),
//      registered and ASI turned on;
//   5. allocate_zeroed_frame() (kernel page tables, test pages) draws on the page allocator.
#pragma once
#include <stdint.h>

#include "mm/guest_arch.h"
#include "mm/page_alloc/gfp.h"
#include "mm/page_alloc/page_allocator.h"

namespace mm {

using KernelPageAllocator = page_alloc::PageAllocator<GuestArch>;

struct PageAllocConfig {
    bool asi = true;                  // asi=on|off
    const char* policy = "freetype";  // asi.policy (only with asi=on)
    bool l1tf_invert = true;          // asi.l1tf_invert
};

void init_page_allocator(const PageAllocConfig& config);
bool page_allocator_ready();
KernelPageAllocator& page_allocator();
GuestArch& page_allocator_arch();

// On the calling CPU (its per-CPU lists). Returns the physical address, or 0 when the
// allocation failed (frame 0 is never the allocator's: the first MiB stays with the firmware).
uint64_t alloc_pages(uint32_t order, page_alloc::gfp_t gfp, uint64_t owner = 0);
void free_pages(uint64_t pa, uint32_t order);

struct PageAllocLayout {
    uint64_t metadata_pa = 0;
    uint64_t metadata_bytes = 0;
    uint32_t ranges = 0;
    uint64_t first_pa = 0;  // lowest and highest+1 byte handed to the allocator
    uint64_t end_pa = 0;
};
const PageAllocLayout& page_alloc_layout();

}  // namespace mm
