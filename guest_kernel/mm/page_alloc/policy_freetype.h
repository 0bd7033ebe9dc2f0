// asi.policy=freetype (the default): the September 2025 series "mm: ASI direct map
// management" (Brendan Jackman), patches "mm/asi: encode sensitivity in freetypes and
// pageblocks" and "mm/asi: support changing pageblock sensitivity".
//
// Free memory is indexed by freetype = migratetype x sensitivity; each pageblock carries a
// sensitivity flag that matches the restricted direct map: a sensitive pageblock's 2 MiB
// entry is not present, a nonsensitive one's is. Allocations are served from free memory
// of their own sensitivity (normal path, then migratetype fallback), so in the common case
// an allocation touches no page table, flushes nothing and zeroes nothing.
//
// Only when both fail does a pageblock change sensitivity (alloc_slowpath):
//   1. under the zone lock, take a free block of max(order, pageblock_order) from the
//      other sensitivity's lists (BuddyZone::take_for_sensitivity_change), and drop the
//      lock: the shootdown below waits for other CPUs and cannot run under a spinlock;
//   2a. becoming nonsensitive: zero every frame that may hold secrets (kSecret; we zero
//       exactly those, not the whole block: frames never handed out sensitive since their
//       last zeroing cannot hold user data), then set _PAGE_PRESENT on each pageblock's
//       restricted entry. Going from non-present to present needs no TLB flush (SDM vol.
//       3A 4.10.2.2: no TLB entry is created for a not-present translation; 4.10.4.3:
//       changing P from 0 to 1 needs no invalidation);
//   2b. becoming sensitive: clear _PAGE_PRESENT on each pageblock's restricted entry, then
//       flush the restricted PCID's translations of the whole block on every CPU that may
//       cache them (one flush for the block) -- before any of its pages is handed out;
//   3. retake the lock, set the pageblock flags (the wanted migratetype and sensitivity)
//      and free the remainder of the block to the new freetype's lists.
// A caller without __GFP_DIRECT_RECLAIM (ALLOC_NOBLOCK: possibly atomic) may not do 2b,
// which waits for a shootdown; its allocation fails instead. It may do 2a, as in the
// series: zeroing and mapping need no other CPU.
#pragma once
#include <stdint.h>

#include "../../abi/asi_emu_abi.h"
#include "arch.h"
#include "freetype.h"
#include "metrics.h"
#include "page_allocator.h"
#include "planted_bug.h"
#include "policy.h"

namespace page_alloc {

template <class Arch>
class FreetypePolicy final : public AsiPolicy<Arch> {
public:
    const char* name() const override { return "freetype"; }
    bool splits_by_sensitivity() const override { return true; }
    bool checks_restricted_mapping() const override { return true; }
    bool free_page_mapped_at_init(Sensitivity s) const override {
        return s == Sensitivity::kNonsensitive;
    }

    uint64_t alloc_slowpath(PageAllocator<Arch>& alloc, uint32_t order, Freetype ft,
                            bool noblock) override {
        Metrics& m = alloc.mutable_metrics();
        const Sensitivity to = ft.sensitivity();
        if (to == Sensitivity::kSensitive && noblock) {
            bump(m.noblock_refusals);
            return kNoPfn;
        }
        uint64_t pfn;
        {
            ZoneLockGuard<Arch> lock(alloc.arch());
            pfn = alloc.zone().take_for_sensitivity_change(order, ft);
        }
        if (pfn == kNoPfn) return kNoPfn;
        const uint32_t cur = alloc.zone().page(pfn).order;
        const uint64_t pages = 1ull << cur;
        if (to == Sensitivity::kNonsensitive) {
#if ASI_GUEST_PLANTED_BUG
            alloc.planted_forget_large_secrets(pfn, pages);  // planted_bug.h
#endif
            alloc.zero_secret_pages(pfn, pages);
            alloc.map_pageblocks(pfn, cur);
        } else {
            alloc.unmap_pageblocks(pfn, cur);
            alloc.flush_restricted(pfn, pages);
        }
        {
            ZoneLockGuard<Arch> lock(alloc.arch());
            alloc.zone().set_pageblocks(pfn, cur, ft.migratetype(), to);
            alloc.zone().expand(pfn, order, cur, ft);
        }
        bump(m.sensitivity_changes);
        bump(to == Sensitivity::kSensitive ? m.flips_to_sensitive : m.flips_to_nonsensitive,
             pages / kPageblockPages);
        for (uint64_t pb = 0; pb < pages; pb += kPageblockPages)
            alloc.arch().trace(asi_abi::kTracePageblockFlip, (pfn + pb) << kPageShift,
                               static_cast<uint64_t>(to), 0, 0);
        return pfn;
    }
};

}  // namespace page_alloc
