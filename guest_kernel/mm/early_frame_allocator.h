// The boot-time physical frame allocator: a bump pointer over the usable regions of the
// memory map, in address order. It skips the first MiB (firmware and PVH start-of-day data
// live there), the kernel image and the loader's boot-info block. Frames are never freed: it
// feeds page tables, the page allocator's metadata and the restricted address space's
// preallocated tables until the page allocator takes over.
//
// Hand-over (mm/page_alloc_guest.cpp): retire() returns every frame it has not handed out,
// minus the excluded windows, as the page allocator's memory; from then on allocate()
// returns 0 and allocate_zeroed_frame() takes its frames from the frame source installed
// with set_frame_source() (the page allocator).
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
    // `count` physically contiguous frames (not zeroed), or 0. Frames skipped to find the
    // run stay unused until retire() hands them on.
    uint64_t allocate_contiguous(uint64_t count);
    // Frames must lie below `limit` (the reach of the current mapping of physical memory).
    void set_limit(uint64_t limit) { limit_ = limit; }

    // A usable range nobody owns yet, page-aligned.
    struct FreeRange {
        uint64_t base, length;
    };
    // Stops allocating and writes the usable memory it never handed out (skipped frames
    // included, excluded windows removed) to out[0..max); returns the number of ranges.
    uint32_t retire(FreeRange* out, uint32_t max);
    bool retired() const { return retired_; }

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
    // Frames skipped by allocate_contiguous(), handed on by retire(). Few: one run per call.
    static constexpr uint32_t kMaxSkipped = 8;
    Range skipped_[kMaxSkipped];
    uint32_t skipped_count_ = 0;
    bool retired_ = false;
};

EarlyFrameAllocator& early_frames();

// Allocates a frame and zeroes it through the current physical window; panics when memory
// is exhausted (nothing at boot can do without). After the hand-over the frame comes from
// the installed frame source (a nonsensitive kernel page of the page allocator).
uint64_t allocate_zeroed_frame();
using FrameSource = uint64_t (*)();  // a zeroed 4 KiB frame, 0 when out of memory
void set_frame_source(FrameSource source);

}  // namespace mm
