#include "mm/early_frame_allocator.h"

#include "kernel/panic.h"
#include "lib/string.h"
#include "mm/phys.h"
#include "mm/pte.h"

namespace mm {
namespace {

constinit EarlyFrameAllocator g_early_frames{};
constexpr uint64_t kLowMemoryEnd = 1ull << 20;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }

}  // namespace

constinit uint64_t g_phys_window = 0;

void EarlyFrameAllocator::init(const asi_abi::BootInfo& info, uint64_t image_start,
                               uint64_t image_end, uint64_t boot_info_pa) {
    image_start_ = align_down(image_start, pte::k4K);
    image_end_ = align_up(image_end, pte::k4K);
    boot_info_start_ = align_down(boot_info_pa, pte::k4K);
    boot_info_end_ = align_up(boot_info_pa + sizeof(asi_abi::BootInfo), pte::k4K);
    range_count_ = 0;
    for (uint32_t i = 0; i < info.region_count; ++i) {
        const asi_abi::MemoryRegion& r = info.regions[i];
        if (r.type != asi_abi::kMemoryUsable) continue;
        uint64_t start = align_up(r.base, pte::k4K);
        const uint64_t end = align_down(r.base + r.length, pte::k4K);
        if (start < kLowMemoryEnd) start = kLowMemoryEnd;
        if (start >= end) continue;
        usable_bytes_ += end - start;
        // Keep the ranges sorted by start so that allocation proceeds upwards.
        uint32_t j = range_count_++;
        for (; j > 0 && ranges_[j - 1].start > start; --j) ranges_[j] = ranges_[j - 1];
        ranges_[j] = Range{start, end};
    }
    current_ = 0;
    cursor_ = range_count_ > 0 ? ranges_[0].start : 0;
}

bool EarlyFrameAllocator::excluded(uint64_t frame) const {
    return (frame >= image_start_ && frame < image_end_) ||
           (frame >= boot_info_start_ && frame < boot_info_end_);
}

uint64_t EarlyFrameAllocator::allocate() {
    while (current_ < range_count_) {
        const Range& r = ranges_[current_];
        if (cursor_ < r.start) cursor_ = r.start;
        while (cursor_ < r.end) {
            const uint64_t frame = cursor_;
            cursor_ += pte::k4K;
            if (frame + pte::k4K > limit_) return 0;
            if (excluded(frame)) continue;
            ++allocated_;
            return frame;
        }
        ++current_;
    }
    return 0;
}

EarlyFrameAllocator& early_frames() { return g_early_frames; }

uint64_t allocate_zeroed_frame() {
    const uint64_t pa = g_early_frames.allocate();
    if (pa == 0) panic("early frame allocator: out of memory after %lu frames", g_early_frames.allocated());
    memset(phys_to_virt(pa), 0, pte::k4K);
    return pa;
}

}  // namespace mm
