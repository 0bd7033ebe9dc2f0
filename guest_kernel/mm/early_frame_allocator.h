// The boot-time physical frame allocator: a bump pointer over the usable regions of the
// memory map, in address order. It skips the first MiB (firmware and PVH start-of-day data
// live there), the kernel image and the loader's boot-info block. Frames are never freed: it
// feeds page tables and test pages until the real page allocator exists.
#pragma once
#include <stdint.h>

#include "abi/asi_emu_abi.h"

namespace mm {

class EarlyFrameAllocator {
public:
    void init(const asi_abi::BootInfo& info, uint64_t image_start, uint64_t image_end,
              uint64_t boot_info_pa);
    // One 4 KiB frame (not zeroed), or 0 when no usable frame is left below the limit.
    uint64_t allocate();
    // Frames must lie below `limit` (the reach of the current mapping of physical memory).
    void set_limit(uint64_t limit) { limit_ = limit; }

    uint64_t allocated() const { return allocated_; }
    uint64_t usable_bytes() const { return usable_bytes_; }

private:
    bool excluded(uint64_t frame) const;

    struct Range {
        uint64_t start, end;  // page-aligned, [start, end)
    };
    Range ranges_[asi_abi::kMaxMemoryRegions];
    uint32_t range_count_ = 0;
    uint32_t current_ = 0;
    uint64_t cursor_ = 0;
    uint64_t limit_ = ~0ull;
    uint64_t image_start_ = 0, image_end_ = 0;
    uint64_t boot_info_start_ = 0, boot_info_end_ = 0;
    uint64_t allocated_ = 0;
    uint64_t usable_bytes_ = 0;
};

EarlyFrameAllocator& early_frames();

// Allocates a frame and zeroes it through the current physical window; panics when memory
// is exhausted (nothing at boot can do without).
uint64_t allocate_zeroed_frame();

}  // namespace mm
