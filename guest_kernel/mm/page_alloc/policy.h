// The ASI policy interface: what differs between allocator designs. One PageAllocator runs
// under one policy, chosen at boot from the command line (asi.policy=freetype|rfc,
// asi=off), so the interface is a small class with virtual hooks. The default bodies are
// asi=off's behaviour (no restricted direct map at all); a policy overrides what it needs.
// No hook is pure: a pure virtual would need __cxa_pure_virtual, which the freestanding
// guest does not have, and there is no virtual destructor because nothing is deleted.
//
// Hooks run without the zone lock held unless stated; they may take it through
// ZoneLockGuard<Arch>(alloc.arch()), and they reach machine effects only through the
// allocator's policy services (PageAllocator: zero_secret_pages, map_pages, unmap_pages,
// map_pageblocks, unmap_pageblocks, flush_restricted, release_to_buddy), which count them
// in Metrics and emit the informational tracepoints.
//
// Adding a policy:
//   1. Write policy_<name>.h with `template <class Arch> class <Name>Policy final :
//      public AsiPolicy<Arch>` overriding name() and the hooks whose behaviour differs.
//   2. Add a member for it to PolicySet (policies.h) and its name to PolicySet::by_name.
//   3. Add its expectations to tests/unit/page_alloc/ (the fake Arch checks the restricted
//      mapping and TLB rules for every policy whose checks_restricted_mapping() is true).
#pragma once
#include <stdint.h>

#include "freetype.h"

namespace page_alloc {

template <class Arch>
class PageAllocator;

template <class Arch>
class AsiPolicy {
public:
    virtual const char* name() const { return "off"; }

    // Free lists, per-CPU lists and pageblocks are split by sensitivity (the series'
    // freetypes). When false every pageblock is nonsensitive and a request's sensitivity
    // only decides what the policy does with the pages it is handed.
    virtual bool splits_by_sensitivity() const { return false; }

    // page_asi_mapping_bad(): at allocation (after prepare_allocated) and at free (before
    // intercept_free) a sensitive page must be absent from the restricted direct map and a
    // nonsensitive one present. False disables the check (asi=off has no such map).
    virtual bool checks_restricted_mapping() const { return false; }

    // Whether a free page of a pageblock with sensitivity `s` is mapped in the restricted
    // direct map right after init. The guest builds its restricted map from this; the
    // allocator checks nothing at init.
    virtual bool free_page_mapped_at_init(Sensitivity s) const {
        (void)s;
        return false;
    }

    // The normal path and the migratetype fallback failed for `order` pages of freetype
    // `ft`. Return the pfn of a kIsolated block of exactly `order` pages whose pageblocks
    // carry ft, or kNoPfn. `noblock`: ALLOC_NOBLOCK (the caller may be atomic).
    virtual uint64_t alloc_slowpath(PageAllocator<Arch>& alloc, uint32_t order, Freetype ft,
                                    bool noblock) {
        (void)alloc, (void)order, (void)ft, (void)noblock;
        return kNoPfn;
    }

    // The block left the free lists and is about to be handed out with sensitivity `s`
    // (after __GFP_ZERO zeroing, before the mapping check and the allocation tracepoint).
    virtual void prepare_allocated(PageAllocator<Arch>& alloc, uint64_t pfn, uint32_t order,
                                   Sensitivity s) {
        (void)alloc, (void)pfn, (void)order, (void)s;
    }

    // A block allocated with sensitivity `s` is being freed (after the free tracepoint and
    // the mapping check). Return true to keep it; the policy must later give it back with
    // PageAllocator::release_to_buddy. False: it goes to the pcp or buddy lists now.
    virtual bool intercept_free(PageAllocator<Arch>& alloc, uint64_t pfn, uint32_t order,
                                Sensitivity s) {
        (void)alloc, (void)pfn, (void)order, (void)s;
        return false;
    }

    // Deferred work (the RFC's worker). Called by PageAllocator::run_deferred_work(), which
    // the guest calls periodically, and on the reclaim path of blocking allocations.
    // Returns the number of pages it made allocatable.
    virtual uint64_t run_deferred_work(PageAllocator<Arch>& alloc) {
        (void)alloc;
        return 0;
    }

    // Pages held back by intercept_free and not yet released.
    virtual uint64_t deferred_pages() const { return 0; }

protected:
    AsiPolicy() = default;
    ~AsiPolicy() = default;
    AsiPolicy(const AsiPolicy&) = default;
    AsiPolicy& operator=(const AsiPolicy&) = default;
};

}  // namespace page_alloc
