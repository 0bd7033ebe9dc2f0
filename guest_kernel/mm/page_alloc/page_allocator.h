// The page allocator's API boundary: alloc_pages / free_pages over the buddy zone and the
// per-CPU lists, under an ASI policy, with the tracepoints the oracle takes as ground
// truth, the page_asi_mapping_bad() self-check and the cost metrics.
//
// Allocation (series "mm/asi: support changing pageblock sensitivity"):
//   1. normal path: the free list of the wanted freetype (per-CPU list for order 0);
//   2. fallback: other migratetypes of the same sensitivity, in Linux's fallback order;
//   3. the policy's slow path: for freetype, a change of sensitivity of >= 1 pageblock;
//   4. blocking callers only (__GFP_DIRECT_RECLAIM): drain every per-CPU list and run the
//      policy's deferred work (the rfc worker), then try 1-3 once more (Linux's direct
//      reclaim path drains pcp lists; the RFC makes reclaim wait for its worker).
// Then the block is prepared (__GFP_ZERO, the policy's mapping work), checked against the
// restricted direct map, marked as possibly holding secrets if sensitive, and reported by
// kTracePageAlloc (pa, order, gfp, owner) once every effect it needed is done.
//
// Free: kTracePageFree (pa, order, gfp at allocation, owner) first, then the checks, then
// the policy may keep the block (rfc); otherwise order 0 goes to the CPU's list, larger
// blocks to the buddy lists.
#pragma once
#include <stdint.h>

#include "../../abi/asi_emu_abi.h"
#include "arch.h"
#include "buddy_zone.h"
#include "freetype.h"
#include "gfp.h"
#include "metrics.h"
#include "page.h"
#include "pcp.h"
#include "planted_bug.h"
#include "policy.h"
#include "verify.h"

namespace page_alloc {

// kTraceTlbFlush's `a` argument: the kind in bits 0-7, the number of 4 KiB pages covered in
// bits 8-63. (The ABI header leaves flush kinds to the guest.)
constexpr uint64_t kTlbFlushRestrictedRange = 1;

template <class Arch>
struct AllocatorConfig {
    Page* pages = nullptr;  // metadata for the pfns [span.base_pfn, span.base_pfn + span.pages)
    ZoneSpan span;          // zone_span_for(ranges, range_count)
    const PhysRange* ranges = nullptr;
    uint32_t range_count = 0;
    uint32_t cpus = 1;
    uint32_t pcp_batch = 16;  // Linux computes ~63 from zone size; a small zone wants less
    uint32_t pcp_high = 64;
    AsiPolicy<Arch>* policy = nullptr;
    // Initial sensitivity of whole pageblocks (freetype). Sensitive means every free page
    // starts out of the restricted direct map, the state a fresh restricted map has; the
    // first nonsensitive allocations then change pageblocks by zero + map, with no flush.
    Sensitivity initial = Sensitivity::kSensitive;
    // Sensitivity of partly usable pageblocks, which never changes (page.h, kPbPinned).
    // Nonsensitive by default: their 2 MiB entry also maps memory the kernel keeps mapped.
    Sensitivity partial = Sensitivity::kNonsensitive;
};

template <class Arch>
class PageAllocator {
    static_assert(PageAllocArch<Arch>, "Arch does not model the page allocator's Arch policy");

public:
    static constexpr uint64_t kAllocFailed = ~0ull;

    void init(Arch& arch, const AllocatorConfig<Arch>& cfg) {
        arch_ = &arch;
        PA_VERIFY(arch, cfg.policy != nullptr && cfg.pages != nullptr);
        PA_VERIFY(arch, cfg.cpus >= 1 && cfg.cpus <= kMaxCpus);
        PA_VERIFY(arch, cfg.pcp_batch >= 1 && cfg.pcp_high >= cfg.pcp_batch);
        policy_ = cfg.policy;
        cpus_ = cfg.cpus;
        // In place: a Metrics temporary would put 4 KiB on the kernel stack.
        static_assert(__is_trivially_copyable(Metrics));
        __builtin_memset(static_cast<void*>(&metrics_), 0, sizeof(metrics_));
        zone_.setup(arch_, &metrics_, cfg.pages, cfg.span.base_pfn, cfg.span.pages,
                    policy_->splits_by_sensitivity());
        pcp_.setup(cfg.cpus, cfg.pcp_batch, cfg.pcp_high);
        ZoneLockGuard<Arch> lock(arch);
        zone_.add_ranges(cfg.ranges, cfg.range_count, cfg.initial, cfg.partial);
    }

    // Returns the physical address of 2^order contiguous, naturally aligned frames, or
    // kAllocFailed. `owner`: 0 for the kernel, else the process (reported, not interpreted).
    uint64_t alloc_pages(uint32_t cpu, uint32_t order, gfp_t gfp, uint64_t owner) {
        const uint64_t t0 = arch_->now();
        if (order > kMaxOrder || !gfp_valid(gfp) || cpu >= cpus_ || owner > 0xffffffffull) {
            bump(metrics_.invalid_requests);
            bump(metrics_.failures);
            return kAllocFailed;
        }
        const Sensitivity s = gfp_sensitivity(gfp);
        const Freetype ft = Freetype::make(
            gfp_migratetype(gfp), policy_->splits_by_sensitivity() ? s : Sensitivity::kNonsensitive);
        const bool noblock = (alloc_flags_for(gfp) & kAllocNoBlock) != 0;
        uint64_t pfn = try_alloc(cpu, order, ft, noblock);
        if (pfn == kNoPfn && !noblock) {
            drain_all_pcp();
            if (policy_->deferred_pages() != 0) policy_->run_deferred_work(*this);
            pfn = try_alloc(cpu, order, ft, noblock);
        }
        if (pfn == kNoPfn) {
            bump(metrics_.failures);
            return kAllocFailed;
        }
        const uint64_t pa = hand_out(pfn, order, gfp, owner);
        metrics_.alloc_cost.record(arch_->now() - t0);
        return pa;
    }

    void free_pages(uint32_t cpu, uint64_t pa, uint32_t order) {
        const uint64_t t0 = arch_->now();
        const uint64_t pfn = pa >> kPageShift;
        const uint64_t n = 1ull << order;
        PA_VERIFY(*arch_, cpu < cpus_ && order <= kMaxOrder && (pa & (kPageSize - 1)) == 0);
        PA_VERIFY(*arch_, zone_.contains(pfn) && zone_.contains(pfn + n - 1));
        Page& head = zone_.page(pfn);
        PA_VERIFY(*arch_, head.state() == PageState::kAllocHead);  // double or bad free
        PA_VERIFY(*arch_, head.order == order);
        for (uint64_t i = 1; i < n; ++i)
            PA_VERIFY(*arch_, zone_.page(pfn + i).state() == PageState::kAllocTail);
        const gfp_t gfp = head.gfp;
        const Sensitivity s = gfp_sensitivity(gfp);
        arch_->trace(asi_abi::kTracePageFree, pa, order, gfp, head.owner);
        if (policy_->splits_by_sensitivity()) verify_pageblock_sensitivity(pfn, order, s);
        check_restricted_mapping(pfn, n, s, false);
        bump(metrics_.frees);
        bump(metrics_.freed_pages, n);
        if (!policy_->intercept_free(*this, pfn, order, s)) {
            if (order == 0) {
                arch_->pcp_lock(cpu);
                pcp_.free(*arch_, zone_, metrics_, cpu, pfn);
                arch_->pcp_unlock(cpu);
            } else {
                release_to_buddy(pfn, order);
            }
        }
        metrics_.free_cost.record(arch_->now() - t0);
    }

    // The policy's deferred work (rfc: unmap queued pages, one TLB flush per batch).
    uint64_t run_deferred_work() { return policy_->run_deferred_work(*this); }

    void drain_pcp(uint32_t cpu) {
        PA_VERIFY(*arch_, cpu < cpus_);
        arch_->pcp_lock(cpu);
        pcp_.drain_all(*arch_, zone_, metrics_, cpu);
        arch_->pcp_unlock(cpu);
    }
    void drain_all_pcp() {
        for (uint32_t c = 0; c < cpus_; ++c) drain_pcp(c);
    }

    // ---- Queries (racy snapshots unless the caller holds the locks) ----------------------
    uint64_t nr_free_pages() const { return zone_.nr_free() + pcp_.total(); }
    uint64_t nr_free_buddy_pages(Freetype ft) const { return zone_.nr_free(ft); }
    uint64_t usable_pages() const { return zone_.usable_pages(); }
    uint64_t deferred_pages() const { return policy_->deferred_pages(); }
    uint32_t cpus() const { return cpus_; }
    uint64_t base_pfn() const { return zone_.base_pfn(); }
    uint64_t span_pages() const { return zone_.span(); }
    const Metrics& metrics() const { return metrics_; }
    const AsiPolicy<Arch>& policy() const { return *policy_; }
    const char* policy_name() const { return policy_->name(); }
    bool contains(uint64_t pa) const { return zone_.contains(pa >> kPageShift); }
    Sensitivity pageblock_sensitivity(uint64_t pa) const {
        return zone_.pageblock_head(pa >> kPageShift).pb_sensitivity();
    }
    Migratetype pageblock_migratetype(uint64_t pa) const {
        return zone_.pageblock_head(pa >> kPageShift).pb_migratetype();
    }
    bool pageblock_pinned(uint64_t pa) const {
        return zone_.pageblock_head(pa >> kPageShift).pb_pinned();
    }
    bool pageblock_usable(uint64_t pa) const {
        return zone_.pageblock_head(pa >> kPageShift).pb_usable();
    }
    PageState page_state(uint64_t pa) const { return zone_.page(pa >> kPageShift).state(); }
    bool page_may_hold_secret(uint64_t pa) const { return zone_.page(pa >> kPageShift).secret(); }
    // Whether the restricted direct map must map the (free) usable frame at pa right after
    // init: the guest builds its restricted map from this.
    bool restricted_mapped_at_init(uint64_t pa) const {
        return policy_->free_page_mapped_at_init(pageblock_sensitivity(pa));
    }

    // Checks every zone invariant (page.h). Takes all pcp locks and the zone lock.
    void verify() {
        verify([](uint64_t, uint32_t) { return true; });
    }
    // The same, scoped: a free block (pfn, order) is checked beyond its list links, state
    // and order only where in_scope(pfn, order) is true (BuddyZone::verify_zone).
    template <class InScope>
    void verify(InScope&& in_scope) {
        for (uint32_t c = 0; c < cpus_; ++c) arch_->pcp_lock(c);
        {
            ZoneLockGuard<Arch> lock(*arch_);
            zone_.verify_zone(pcp_.total() + policy_->deferred_pages(), in_scope);
        }
        for (uint32_t c = cpus_; c-- > 0;) arch_->pcp_unlock(c);
    }

    // ---- Policy services ------------------------------------------------------------------
    Arch& arch() { return *arch_; }
    BuddyZone<Arch>& zone() { return zone_; }
    Metrics& mutable_metrics() { return metrics_; }

    // A block the policy held back becomes free (takes the zone lock).
    void release_to_buddy(uint64_t pfn, uint32_t order) {
        ZoneLockGuard<Arch> lock(*arch_);
        zone_.free_block(pfn, order);
    }

    // Zeroes, in maximal runs, exactly the frames of [pfn, pfn + count) that may hold
    // secrets, and clears their kSecret bit. The frames must be owned by the caller.
    void zero_secret_pages(uint64_t pfn, uint64_t count) {
        uint64_t i = 0;
        while (i < count) {
            if (!zone_.page(pfn + i).secret()) {
                ++i;
                continue;
            }
            uint64_t run = i;
            while (run < count && zone_.page(pfn + run).secret()) zone_.page(pfn + run++).set_secret(false);
            zero(pfn + i, run - i);
            bump(metrics_.asi_zeroed_pages, run - i);
            i = run;
        }
    }

#if ASI_GUEST_PLANTED_BUG
    // The planted bug (planted_bug.h): forgets, without zeroing them, the secrets of the
    // frames of [pfn, pfn + count) last handed out in a large sensitive block.
    void planted_forget_large_secrets(uint64_t pfn, uint64_t count) {
        for (uint64_t i = 0; i < count; ++i)
            if (planted::skips_zeroing(zone_.page(pfn + i))) zone_.page(pfn + i).set_secret(false);
    }
#endif

    void map_pageblocks(uint64_t pfn, uint32_t order) {
        for (uint64_t pb = 0; pb < (1ull << order); pb += kPageblockPages)
            arch_->map_restricted_pageblock((pfn + pb) << kPageShift);
        bump(metrics_.restricted_mapped_pages, 1ull << order);
    }
    void unmap_pageblocks(uint64_t pfn, uint32_t order) {
        for (uint64_t pb = 0; pb < (1ull << order); pb += kPageblockPages)
            arch_->unmap_restricted_pageblock((pfn + pb) << kPageShift);
        bump(metrics_.restricted_unmapped_pages, 1ull << order);
    }
    void map_pages(uint64_t pfn, uint64_t count) {
        arch_->map_restricted_pages(pfn << kPageShift, count);
        bump(metrics_.restricted_mapped_pages, count);
    }
    void unmap_pages(uint64_t pfn, uint64_t count) {
        arch_->unmap_restricted_pages(pfn << kPageShift, count);
        bump(metrics_.restricted_unmapped_pages, count);
    }
    // One restricted-PCID flush of [pfn, pfn + count) on every CPU that may cache it.
    void flush_restricted(uint64_t pfn, uint64_t count) {
        const uint64_t pa = pfn << kPageShift;
        arch_->flush_restricted_tlb_all_cpus(pa, count);
        bump(metrics_.tlb_flushes);
        const uint64_t mask = cpus_ >= 64 ? ~0ull : (1ull << cpus_) - 1;
        arch_->trace(asi_abi::kTraceTlbFlush, kTlbFlushRestrictedRange | (count << 8),
                     arch_->restricted_pcid(), asi_abi::kDirectMapBase + pa, mask);
    }

private:
    uint64_t try_alloc(uint32_t cpu, uint32_t order, Freetype ft, bool noblock) {
        uint64_t pfn = kNoPfn;
        if (order == 0) {
            arch_->pcp_lock(cpu);
            pfn = pcp_.alloc(*arch_, zone_, metrics_, cpu, ft);
            arch_->pcp_unlock(cpu);
        } else {
            ZoneLockGuard<Arch> lock(*arch_);
            pfn = zone_.rmqueue_smallest(order, ft);
            if (pfn == kNoPfn) pfn = zone_.rmqueue_fallback(order, ft);
        }
        if (pfn == kNoPfn) pfn = policy_->alloc_slowpath(*this, order, ft, noblock);
        return pfn;
    }

    uint64_t hand_out(uint64_t pfn, uint32_t order, gfp_t gfp, uint64_t owner) {
        const uint64_t n = 1ull << order;
        const Sensitivity s = gfp_sensitivity(gfp);
        Page& head = zone_.page(pfn);
        PA_VERIFY(*arch_, head.state() == PageState::kIsolated && head.order == order);
        for (uint64_t i = 1; i < n; ++i) {
            Page& p = zone_.page(pfn + i);
            PA_VERIFY(*arch_, p.state() == PageState::kFreeTail);
            p.set_state(PageState::kAllocTail);
        }
        head.set_state(PageState::kAllocHead);
        head.gfp = static_cast<uint32_t>(gfp);
        head.owner = static_cast<uint32_t>(owner);
        if (policy_->splits_by_sensitivity()) verify_pageblock_sensitivity(pfn, order, s);
        if (gfp & kGfpZero) {
            for (uint64_t i = 0; i < n; ++i) zone_.page(pfn + i).set_secret(false);
            zero(pfn, n);
            bump(metrics_.gfp_zeroed_pages, n);
        }
        policy_->prepare_allocated(*this, pfn, order, s);
        check_restricted_mapping(pfn, n, s, true);
        if (s == Sensitivity::kSensitive) {
            for (uint64_t i = 0; i < n; ++i) zone_.page(pfn + i).set_secret(true);
#if ASI_GUEST_PLANTED_BUG
            for (uint64_t i = 0; i < n; ++i) planted::note_sensitive_handout(zone_.page(pfn + i), order);
#endif
            bump(metrics_.sensitive_allocs);
        }
        bump(metrics_.allocs);
        bump(metrics_.allocated_pages, n);
        const uint64_t pa = pfn << kPageShift;
        arch_->trace(asi_abi::kTracePageAlloc, pa, order, gfp, owner);
        return pa;
    }

    // Series invariant: a page's sensitivity is its pageblock's, from allocation to free
    // (a pageblock only changes sensitivity while wholly free).
    void verify_pageblock_sensitivity(uint64_t pfn, uint32_t order, Sensitivity s) {
        const uint64_t n = order >= kPageblockOrder ? (1ull << order) : 1;
        for (uint64_t i = 0; i < n; i += kPageblockPages)
            PA_VERIFY(*arch_, zone_.pageblock_head(pfn + i).pb_sensitivity() == s);
    }

    // page_asi_mapping_bad().
    void check_restricted_mapping(uint64_t pfn, uint64_t n, Sensitivity s, bool at_alloc) {
        if (!policy_->checks_restricted_mapping()) return;
        const bool want_mapped = s == Sensitivity::kNonsensitive;
        if (arch_->restricted_mapping_all(pfn << kPageShift, n, want_mapped)) return;
        for (uint64_t i = 0; i < n; ++i) {
            const uint64_t pa = (pfn + i) << kPageShift;
            if (arch_->is_mapped_restricted(pa) == want_mapped) continue;
            bump(metrics_.bad_pages);
            arch_->bad_page(pa, want_mapped
                                    ? (at_alloc ? "asi: nonsensitive page unmapped at allocation"
                                                : "asi: nonsensitive page unmapped at free")
                                    : (at_alloc ? "asi: sensitive page mapped at allocation"
                                                : "asi: sensitive page mapped at free"));
        }
    }

    void zero(uint64_t pfn, uint64_t count) {
        arch_->zero_pages(pfn << kPageShift, count);
        arch_->trace(asi_abi::kTracePagesZeroed, pfn << kPageShift, count, 0, 0);
    }

    Arch* arch_ = nullptr;
    AsiPolicy<Arch>* policy_ = nullptr;
    uint32_t cpus_ = 0;
    Metrics metrics_;
    BuddyZone<Arch> zone_;
    PerCpuPages<Arch> pcp_;
};

}  // namespace page_alloc
