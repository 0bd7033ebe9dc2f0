#include "mm/early_frame_allocator.h"

#include "kernel/panic.h"
#include "lib/string.h"
#include "mm/phys.h"
#include "mm/pte.h"

namespace mm {
namespace {

constinit EarlyFrameAllocator g_early_frames{};
constinit FrameSource g_frame_source = nullptr;
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
    if (retired_) return 0;
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

uint64_t EarlyFrameAllocator::allocate_contiguous(uint64_t count) {
    if (retired_ || count == 0) return 0;
    while (current_ < range_count_) {
        const Range& r = ranges_[current_];
        if (cursor_ < r.start) cursor_ = r.start;
        uint64_t start = cursor_;
        // Slide the window past excluded frames; give up on this range when it runs out.
        for (uint64_t f = start; f < r.end && f - start < count * pte::k4K; f += pte::k4K) {
            if (excluded(f)) start = f + pte::k4K;
        }
        const uint64_t end = start + count * pte::k4K;
        if (end <= r.end && end <= limit_) {
            if (start != cursor_) {
                if (skipped_count_ == kMaxSkipped) return 0;
                skipped_[skipped_count_++] = Range{cursor_, start};
            }
            cursor_ = end;
            allocated_ += count;
            return start;
        }
        if (end > limit_) return 0;
        if (cursor_ < r.end) {
            if (skipped_count_ == kMaxSkipped) return 0;
            skipped_[skipped_count_++] = Range{cursor_, r.end};
        }
        ++current_;
    }
    return 0;
}

uint32_t EarlyFrameAllocator::retire(FreeRange* out, uint32_t max) {
    retired_ = true;
    uint32_t n = 0;
    // Cut [start, end) around the excluded windows.
    auto emit = [&](uint64_t start, uint64_t end) {
        const Range cuts[] = {{image_start_, image_end_}, {boot_info_start_, boot_info_end_}};
        Range pieces[3] = {{start, end}};
        uint32_t count = 1;
        for (const Range& cut : cuts) {
            uint32_t next = 0;
            Range kept[3];
            for (uint32_t i = 0; i < count; ++i) {
                const Range p = pieces[i];
                if (cut.end <= p.start || cut.start >= p.end) {
                    kept[next++] = p;
                    continue;
                }
                if (p.start < cut.start) kept[next++] = Range{p.start, cut.start};
                if (cut.end < p.end) kept[next++] = Range{cut.end, p.end};
            }
            count = next;
            for (uint32_t i = 0; i < count; ++i) pieces[i] = kept[i];
        }
        for (uint32_t i = 0; i < count; ++i) {
            if (pieces[i].start >= pieces[i].end) continue;
            if (n == max) panic("early frame allocator: more than %u free ranges", max);
            out[n++] = FreeRange{pieces[i].start, pieces[i].end - pieces[i].start};
        }
    };
    for (uint32_t i = 0; i < skipped_count_; ++i) emit(skipped_[i].start, skipped_[i].end);
    for (uint32_t i = current_; i < range_count_; ++i) {
        const uint64_t start = i == current_ && cursor_ > ranges_[i].start ? cursor_ : ranges_[i].start;
        if (start < ranges_[i].end) emit(start, ranges_[i].end);
    }
    current_ = range_count_;
    return n;
}

EarlyFrameAllocator& early_frames() { return g_early_frames; }

void set_frame_source(FrameSource source) { g_frame_source = source; }

uint64_t allocate_zeroed_frame() {
    if (g_early_frames.retired()) {
        const uint64_t frame = g_frame_source != nullptr ? g_frame_source() : 0;
        if (frame == 0) panic("allocate_zeroed_frame: no frame source after the hand-over");
        return frame;
    }
    const uint64_t pa = g_early_frames.allocate();
    if (pa == 0) panic("early frame allocator: out of memory after %lu frames", g_early_frames.allocated());
    memset(phys_to_virt(pa), 0, pte::k4K);
    return pa;
}

}  // namespace mm
