// asi.policy=rfc: the January 2025 RFC ("[PATCH RFC v2] Address Space Isolation",
// 20250110-asi-rfc-v2) as summarised in the LSF/MM/BPF 2025 proposal "Page allocation for
// ASI": "we've simply kept all free pages unmapped from the restricted address space. The
// allocator itself is largely unchanged; at the very end of allocation we map pages (if
// appropriate) ... When ASI-mapped pages are freed, they go onto a queue that is then freed
// asynchronously from a context that's able to batch up the TLB flushes before making them
// available for re-allocation. Reclaim is then made aware of this asynchronous process so
// that __GFP_DIRECT_RECLAIM allocations can block on it."
//
// Rules as implemented:
//   * free memory is not split by sensitivity and every free page is absent from the
//     restricted direct map;
//   * a nonsensitive allocation zeroes the frames that may hold secrets (formerly
//     sensitive: the RFC's admitted zeroing cost) and then maps its pages at 4 KiB
//     granularity; a sensitive allocation maps nothing;
//   * a freed nonsensitive block is still mapped and possibly cached by any CPU, so it is
//     queued (kDeferred), not freed; the worker (run_deferred_work) unmaps every queued
//     block, issues one flush for the whole batch, and only then frees the blocks;
//   * a freed sensitive block is already unmapped and goes straight back;
//   * a blocking allocation that finds no memory runs the worker itself and retries
//     (PageAllocator step 4). The flush covers the batch's pfn bounding range; whether the
//     guest turns that into INVLPGs or one single-context INVPCID is the Arch's choice.
// The admitted costs this lets us measure: pointless shootdowns for pages unmapped and
// soon mapped again, the worker's bursts, no reuse by sensitivity, zeroing.
#pragma once
#include <stdint.h>

#include "arch.h"
#include "freetype.h"
#include "metrics.h"
#include "page.h"
#include "page_allocator.h"
#include "page_list.h"
#include "policy.h"

namespace page_alloc {

template <class Arch>
class RfcPolicy final : public AsiPolicy<Arch> {
public:
    const char* name() const override { return "rfc"; }
    bool splits_by_sensitivity() const override { return false; }
    bool checks_restricted_mapping() const override { return true; }
    bool free_page_mapped_at_init(Sensitivity) const override { return false; }

    void prepare_allocated(PageAllocator<Arch>& alloc, uint64_t pfn, uint32_t order,
                           Sensitivity s) override {
        if (s == Sensitivity::kSensitive) return;
        const uint64_t n = 1ull << order;
        alloc.zero_secret_pages(pfn, n);
        alloc.map_pages(pfn, n);
    }

    bool intercept_free(PageAllocator<Arch>& alloc, uint64_t pfn, uint32_t order,
                        Sensitivity s) override {
        if (s == Sensitivity::kSensitive) return false;
        BuddyZone<Arch>& zone = alloc.zone();
        const uint64_t n = 1ull << order;
        for (uint64_t i = 1; i < n; ++i) zone.page(pfn + i).set_state(PageState::kDeferredTail);
        zone.page(pfn).set_state(PageState::kDeferred);
        {
            ZoneLockGuard<Arch> lock(alloc.arch());
            queue_.push_back(zone.pages(), zone.index(pfn));
            __atomic_store_n(&queued_pages_, queued_pages_ + n, __ATOMIC_RELAXED);
        }
        bump(alloc.mutable_metrics().deferred_queued_pages, n);
        return true;
    }

    uint64_t run_deferred_work(PageAllocator<Arch>& alloc) override {
        BuddyZone<Arch>& zone = alloc.zone();
        PageList batch;
        uint64_t pages;
        {
            ZoneLockGuard<Arch> lock(alloc.arch());
            batch = queue_;
            pages = queued_pages_;
            queue_ = PageList{};
            __atomic_store_n(&queued_pages_, 0, __ATOMIC_RELAXED);
        }
        if (batch.empty()) return 0;
        uint64_t lo = ~0ull, hi = 0;
        for (uint32_t idx = batch.head; idx != kNilIndex; idx = zone.pages()[idx].next) {
            const uint64_t pfn = zone.pfn_of(idx);
            const uint64_t n = 1ull << zone.pages()[idx].order;
            alloc.unmap_pages(pfn, n);
            if (pfn < lo) lo = pfn;
            if (pfn + n > hi) hi = pfn + n;
        }
        alloc.flush_restricted(lo, hi - lo);
        {
            ZoneLockGuard<Arch> lock(alloc.arch());
            for (uint32_t idx = batch.head; idx != kNilIndex;) {
                const uint32_t next = zone.pages()[idx].next;
                zone.free_block(zone.pfn_of(idx), zone.pages()[idx].order);
                idx = next;
            }
        }
        Metrics& m = alloc.mutable_metrics();
        bump(m.deferred_batches);
        bump(m.deferred_unmapped_pages, pages);
        return pages;
    }

    uint64_t deferred_pages() const override {
        return __atomic_load_n(&queued_pages_, __ATOMIC_RELAXED);
    }

private:
    PageList queue_;  // kDeferred heads, protected by the zone lock
    uint64_t queued_pages_ = 0;
};

}  // namespace page_alloc
