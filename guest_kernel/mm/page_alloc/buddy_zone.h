// The buddy allocator proper: one zone, free lists per (order, freetype), pageblock flags,
// splitting, merging and Linux's migratetype fallback. No machine effects: every function
// here runs under the zone lock (the caller's), and the only Arch member used is panic().
//
// Sources: Linux mm/page_alloc.c (__free_one_page, expand, __rmqueue_smallest,
// __rmqueue_claim/__rmqueue_steal, try_to_claim_block, as of 6.15); the September 2025
// series "mm: ASI direct map management": free lists indexed by freetype, no merging
// across sensitivities, and a sensitivity change takes a block of at least pageblock order
// from the other sensitivity's lists (take_for_sensitivity_change below; the effects and
// the relabelling are done by the freetype policy with the lock dropped).
#pragma once
#include <stdint.h>

#include "freetype.h"
#include "gfp.h"
#include "metrics.h"
#include "page.h"
#include "page_list.h"
#include "verify.h"

namespace page_alloc {

// A range of physical memory in bytes, as the boot memory map gives it.
struct PhysRange {
    uint64_t base;
    uint64_t length;
};

// The pfn span a zone's metadata must cover: aligned to a max-order block so that buddy
// arithmetic (pfn ^ (1 << order)) never leaves it.
struct ZoneSpan {
    uint64_t base_pfn = 0;
    uint64_t pages = 0;
};

inline ZoneSpan zone_span_for(const PhysRange* ranges, uint32_t count) {
    uint64_t lo = ~0ull, hi = 0;
    for (uint32_t i = 0; i < count; ++i) {
        uint64_t first = (ranges[i].base + kPageSize - 1) >> kPageShift;
        uint64_t end = (ranges[i].base + ranges[i].length) >> kPageShift;
        if (end <= first) continue;
        if (first < lo) lo = first;
        if (end > hi) hi = end;
    }
    if (hi == 0) return {};
    lo &= ~(kMaxOrderPages - 1);
    hi = (hi + kMaxOrderPages - 1) & ~(kMaxOrderPages - 1);
    return {lo, hi - lo};
}

template <class Arch>
class BuddyZone {
public:
    // `split`: free lists are split by sensitivity (freetype policy). Otherwise every
    // pageblock is nonsensitive and only the nonsensitive lists are used.
    void setup(Arch* arch, Metrics* metrics, Page* pages, uint64_t base_pfn, uint64_t span,
               bool split) {
        arch_ = arch;
        metrics_ = metrics;
        pages_ = pages;
        base_pfn_ = base_pfn;
        span_ = span;
        split_ = split;
        nr_free_ = 0;
        usable_ = 0;
        for (auto& by_order : free_)
            for (auto& list : by_order) list = PageList{};
        PA_VERIFY(*arch_, (base_pfn & (kMaxOrderPages - 1)) == 0);
        PA_VERIFY(*arch_, (span & (kMaxOrderPages - 1)) == 0);
        PA_VERIFY(*arch_, span < kNilIndex);
        for (uint64_t i = 0; i < span; ++i) pages_[i] = Page{};
    }

    // Hands the frames of `ranges` to the zone. Whole pageblocks start with sensitivity
    // `whole`; partly usable ones are pinned at `partial` (see page.h, kPbPinned).
    void add_ranges(const PhysRange* ranges, uint32_t count, Sensitivity whole,
                    Sensitivity partial) {
        for (uint32_t r = 0; r < count; ++r) {
            uint64_t first = (ranges[r].base + kPageSize - 1) >> kPageShift;
            uint64_t end = (ranges[r].base + ranges[r].length) >> kPageShift;
            for (uint64_t pfn = first; pfn < end; ++pfn) {
                PA_VERIFY(*arch_, contains(pfn));
                PA_VERIFY(*arch_, page(pfn).state() == PageState::kReserved);  // no overlap
                page(pfn).set_state(PageState::kFreeTail);
                ++usable_;
            }
        }
        for (uint64_t pb = base_pfn_; pb < base_pfn_ + span_; pb += kPageblockPages) {
            uint64_t n = 0;
            for (uint64_t pfn = pb; pfn < pb + kPageblockPages; ++pfn)
                n += page(pfn).state() != PageState::kReserved;
            Page& head = page(pb);
            head.pageblock = 0;
            if (n == 0) continue;
            Sensitivity s = n == kPageblockPages ? whole : partial;
            head.pageblock = Page::kPbUsable | (n == kPageblockPages ? 0 : Page::kPbPinned);
            head.set_pb(Migratetype::kMovable, split_ ? s : Sensitivity::kNonsensitive);
        }
        // __free_pages_core(): free each range in the largest aligned blocks that fit.
        for (uint32_t r = 0; r < count; ++r) {
            uint64_t pfn = (ranges[r].base + kPageSize - 1) >> kPageShift;
            uint64_t end = (ranges[r].base + ranges[r].length) >> kPageShift;
            while (pfn < end) {
                uint32_t order = kMaxOrder;
                while (order > 0 && ((pfn & ((1ull << order) - 1)) != 0 ||
                                     pfn + (1ull << order) > end))
                    --order;
                free_block(pfn, order);
                pfn += 1ull << order;
            }
        }
    }

    bool contains(uint64_t pfn) const { return pfn >= base_pfn_ && pfn - base_pfn_ < span_; }
    Page& page(uint64_t pfn) { return pages_[pfn - base_pfn_]; }
    const Page& page(uint64_t pfn) const { return pages_[pfn - base_pfn_]; }
    uint32_t index(uint64_t pfn) const { return static_cast<uint32_t>(pfn - base_pfn_); }
    uint64_t pfn_of(uint32_t idx) const { return base_pfn_ + idx; }
    Page* pages() { return pages_; }
    Page& pageblock_head(uint64_t pfn) { return page(pfn & ~(kPageblockPages - 1)); }
    const Page& pageblock_head(uint64_t pfn) const {
        return page(pfn & ~(kPageblockPages - 1));
    }
    // The freetype of the list that free pages of pfn's pageblock belong on.
    Freetype block_freetype(uint64_t pfn) const { return pageblock_head(pfn).pb_freetype(); }
    bool splits_by_sensitivity() const { return split_; }

    uint64_t base_pfn() const { return base_pfn_; }
    uint64_t span() const { return span_; }
    uint64_t usable_pages() const { return usable_; }
    uint64_t nr_free() const { return nr_free_; }
    uint64_t nr_free(uint32_t order, Freetype ft) const {
        return static_cast<uint64_t>(free_[order][ft.value].count) << order;
    }
    uint64_t nr_free(Freetype ft) const {
        uint64_t n = 0;
        for (uint32_t o = 0; o < kNrOrders; ++o) n += nr_free(o, ft);
        return n;
    }

    // Sets the flag word of every pageblock in [pfn, pfn + 2^order) (order >= pageblock
    // order), or of pfn's pageblock.
    void set_pageblocks(uint64_t pfn, uint32_t order, Migratetype mt, Sensitivity s) {
        uint64_t first = pfn & ~(kPageblockPages - 1);
        uint64_t end = order >= kPageblockOrder ? pfn + (1ull << order) : first + kPageblockPages;
        for (uint64_t pb = first; pb < end; pb += kPageblockPages) {
            PA_VERIFY(*arch_, s == Sensitivity::kNonsensitive || split_);
            PA_VERIFY(*arch_, s == pageblock_head(pb).pb_sensitivity() || !pageblock_head(pb).pb_pinned());
            pageblock_head(pb).set_pb(mt, s);
        }
    }

    // __free_one_page(): merge with free buddies and put the result on its list. The block's
    // pages may be in any state but kBuddy/kPcp (they are not on a list).
    void free_block(uint64_t pfn, uint32_t order) {
        PA_VERIFY(*arch_, (pfn & ((1ull << order) - 1)) == 0);
        // Every page, the head included: after merging, the head may be a buddy's page.
        for (uint64_t i = 0; i < (1ull << order); ++i) page(pfn + i).set_state(PageState::kFreeTail);
        const Freetype ft = block_freetype(pfn);
        while (order < kMaxOrder) {
            uint64_t buddy = pfn ^ (1ull << order);
            if (!contains(buddy)) break;
            Page& b = page(buddy);
            if (b.state() != PageState::kBuddy || b.order != order) break;
            if (order >= kPageblockOrder) {
                const Page& mine = pageblock_head(pfn);
                const Page& theirs = pageblock_head(buddy);
                // Series: a free block never spans two sensitivities.
                if (mine.pb_sensitivity() != theirs.pb_sensitivity()) break;
                // Linux: merging across migratetypes relabels the buddy's pageblocks.
                if (theirs.pb_migratetype() != mine.pb_migratetype())
                    set_pageblocks(buddy, order, mine.pb_migratetype(), mine.pb_sensitivity());
            } else {
                PA_VERIFY(*arch_, b.list_freetype() == ft);
            }
            del_free(buddy, order, b.list_freetype());
            b.set_state(PageState::kFreeTail);
            pfn &= ~(1ull << order);
            ++order;
        }
        add_free(pfn, order, ft);
    }

    // __rmqueue_smallest(): the smallest free block of freetype ft of at least `order`,
    // split down to `order`. The returned head is kIsolated.
    uint64_t rmqueue_smallest(uint32_t order, Freetype ft) {
        for (uint32_t o = order; o < kNrOrders; ++o) {
            PageList& list = free_[o][ft.value];
            if (list.empty()) continue;
            uint64_t pfn = pfn_of(list.head);
            take(pfn, o, ft, order);
            return pfn;
        }
        return kNoPfn;
    }

    // __rmqueue_claim() then __rmqueue_steal(): other migratetypes of the same sensitivity.
    uint64_t rmqueue_fallback(uint32_t order, Freetype start) {
        const Migratetype start_mt = start.migratetype();
        const Sensitivity s = start.sensitivity();
        // Claim: the largest block first, and take over its whole pageblock if allowed.
        for (int o = kMaxOrder; o >= static_cast<int>(order); --o) {
            for (Migratetype fmt : kFallbacks[static_cast<int>(start_mt)]) {
                Freetype fb = Freetype::make(fmt, s);
                if (free_[o][fb.value].empty()) continue;
                if (!should_try_claim(static_cast<uint32_t>(o), start_mt)) goto steal;
                uint64_t pfn = pfn_of(free_[o][fb.value].head);
                if (try_claim_block(pfn, static_cast<uint32_t>(o), start, fb)) {
                    bump(metrics_->fallback_allocs);
                    return rmqueue_smallest(order, start);
                }
            }
        }
    steal:
        // Steal: the smallest block, leaving its pageblock's migratetype alone.
        for (uint32_t o = order; o < kNrOrders; ++o) {
            for (Migratetype fmt : kFallbacks[static_cast<int>(start_mt)]) {
                Freetype fb = Freetype::make(fmt, s);
                if (free_[o][fb.value].empty()) continue;
                uint64_t pfn = pfn_of(free_[o][fb.value].head);
                take(pfn, o, fb, order);
                bump(metrics_->fallback_allocs);
                return pfn;
            }
        }
        return kNoPfn;
    }

    // Series, sensitivity change, first step (zone lock held): take a block of
    // max(order, pageblock_order) from the other sensitivity's lists, preferring the wanted
    // migratetype, then Linux's fallback order, smallest block first so that as little
    // memory as possible changes sensitivity. Returns its pfn (head kIsolated, order set)
    // or kNoPfn. The pageblocks keep their old flags until the caller relabels them.
    uint64_t take_for_sensitivity_change(uint32_t order, Freetype wanted) {
        const uint32_t cur = order > kPageblockOrder ? order : kPageblockOrder;
        const Sensitivity other = opposite(wanted.sensitivity());
        const Migratetype mt = wanted.migratetype();
        const Migratetype pref[3] = {mt, kFallbacks[static_cast<int>(mt)][0],
                                     kFallbacks[static_cast<int>(mt)][1]};
        for (uint32_t o = cur; o < kNrOrders; ++o) {
            for (Migratetype m : pref) {
                Freetype ft = Freetype::make(m, other);
                if (free_[o][ft.value].empty()) continue;
                uint64_t pfn = pfn_of(free_[o][ft.value].head);
                take(pfn, o, ft, cur);
                return pfn;
            }
        }
        return kNoPfn;
    }

    // expand(): split an isolated block of order `high` at pfn down to `low`, putting the
    // upper halves on the list of freetype ft.
    void expand(uint64_t pfn, uint32_t low, uint32_t high, Freetype ft) {
        while (high > low) {
            --high;
            add_free(pfn + (1ull << high), high, ft);
        }
        page(pfn).order = static_cast<uint8_t>(low);
    }

    // Every invariant of page.h, by a walk over the whole zone. For tests and guest
    // self-tests; O(span). Pages on pcp lists or held by a policy are counted by the caller.
    void verify_zone(uint64_t expected_outside_buddy) {
        verify_zone(expected_outside_buddy, [](uint64_t, uint32_t) { return true; });
    }

    // The same, scoped: every list is walked with its links (next, prev, tail) and count,
    // and every head's state, order and list; a free block (pfn, order) gets the rest
    // (alignment, its pageblock's freetype, its tail pages) only where in_scope(pfn, order)
    // says so. O(free blocks) plus what is in scope, instead of O(span): the in-emulator
    // fuzzer's check, which knows which pageblocks a program can have changed.
    template <class InScope>
    void verify_zone(uint64_t expected_outside_buddy, InScope&& in_scope) {
        uint64_t listed = 0;
        for (uint32_t o = 0; o < kNrOrders; ++o) {
            for (uint32_t f = 0; f < kNrFreetypes; ++f) {
                const PageList& list = free_[o][f];
                uint32_t n = 0, prev = kNilIndex;
                for (uint32_t idx = list.head; idx != kNilIndex; prev = idx, idx = pages_[idx].next, ++n) {
                    PA_VERIFY(*arch_, idx < span_);
                    const Page& p = pages_[idx];
                    PA_VERIFY(*arch_, p.prev == prev);
                    PA_VERIFY(*arch_, p.state() == PageState::kBuddy && p.order == o);
                    PA_VERIFY(*arch_, p.list_freetype().value == f);
                    listed += 1ull << o;
                    const uint64_t pfn = pfn_of(idx);
                    if (!in_scope(pfn, o)) continue;
                    PA_VERIFY(*arch_, (pfn & ((1ull << o) - 1)) == 0);
                    PA_VERIFY(*arch_, block_freetype(pfn).value == f);
                    PA_VERIFY(*arch_, f < kNrMigratetypes || split_);
                    // A block of pageblock order or more starts a pageblock (aligned above), so
                    // its pageblock heads are every kPageblockPages-th page.
                    const Page* block = &p;
                    for (uint64_t i = 1; i < (1ull << o); ++i)
                        PA_VERIFY(*arch_, block[i].state() == PageState::kFreeTail);
                    for (uint64_t i = kPageblockPages; i < (1ull << o); i += kPageblockPages)
                        PA_VERIFY(*arch_, block[i].pageblock == block[0].pageblock);
                }
                PA_VERIFY(*arch_, list.tail == prev && n == list.count);
            }
        }
        PA_VERIFY(*arch_, listed == nr_free_);
        PA_VERIFY(*arch_, nr_free_ + expected_outside_buddy <= usable_);
    }

private:
    static bool should_try_claim(uint32_t order, Migratetype start) {
        // should_try_claim_block(): large blocks, or unmovable/reclaimable requests, which
        // would otherwise pollute movable pageblocks one page at a time.
        return order >= kPageblockOrder / 2 || start == Migratetype::kReclaimable ||
               start == Migratetype::kUnmovable;
    }

    // try_to_claim_block(): take over the pageblock of the free block at pfn if at least
    // half of it is free or already used by compatible allocations.
    bool try_claim_block(uint64_t pfn, uint32_t order, Freetype start, Freetype fb) {
        if (order >= kPageblockOrder) {
            del_free(pfn, order, fb);
            set_pageblocks(pfn, order, start.migratetype(), start.sensitivity());
            add_free(pfn, order, start);
            bump(metrics_->pageblocks_claimed, 1ull << (order - kPageblockOrder));
            return true;
        }
        const uint64_t pb = pfn & ~(kPageblockPages - 1);
        uint64_t free_pages = 0, movable_pages = 0;
        for (uint64_t p = pb; p < pb + kPageblockPages;) {
            const Page& pg = page(p);
            if (pg.state() == PageState::kBuddy) {
                free_pages += 1ull << pg.order;
                p += 1ull << pg.order;
            } else if (pg.state() == PageState::kAllocHead) {
                if (gfp_migratetype(pg.gfp) == Migratetype::kMovable)
                    movable_pages += 1ull << pg.order;
                p += 1ull << pg.order;
            } else {
                ++p;
            }
        }
        const Migratetype block_mt = pageblock_head(pb).pb_migratetype();
        uint64_t alike = 0;
        if (start.migratetype() == Migratetype::kMovable) alike = movable_pages;
        else if (block_mt == Migratetype::kMovable)
            alike = kPageblockPages - (free_pages + movable_pages);
        if (free_pages + alike < kPageblockPages / 2) return false;
        // __move_freepages_block().
        for (uint64_t p = pb; p < pb + kPageblockPages;) {
            Page& pg = page(p);
            if (pg.state() != PageState::kBuddy) {
                ++p;
                continue;
            }
            uint32_t o = pg.order;
            PA_VERIFY(*arch_, pg.list_freetype() == fb);
            del_free(p, o, fb);
            add_free(p, o, start);
            p += 1ull << o;
        }
        set_pageblocks(pb, 0, start.migratetype(), start.sensitivity());
        bump(metrics_->pageblocks_claimed);
        return true;
    }

    // Removes the free block of order `have` at pfn from list ft, isolates it and splits it
    // down to `want`.
    void take(uint64_t pfn, uint32_t have, Freetype ft, uint32_t want) {
        del_free(pfn, have, ft);
        page(pfn).set_state(PageState::kIsolated);
        expand(pfn, want, have, ft);
    }

    void add_free(uint64_t pfn, uint32_t order, Freetype ft) {
        Page& p = page(pfn);
        p.set_state(PageState::kBuddy);
        p.order = static_cast<uint8_t>(order);
        p.set_list_freetype(ft);
        free_[order][ft.value].push_front(pages_, index(pfn));
        nr_free_ += 1ull << order;
    }

    void del_free(uint64_t pfn, uint32_t order, Freetype ft) {
        Page& p = page(pfn);
        PA_VERIFY(*arch_, p.state() == PageState::kBuddy && p.order == order);
        PA_VERIFY(*arch_, p.list_freetype() == ft);
        free_[order][ft.value].remove(pages_, index(pfn));
        nr_free_ -= 1ull << order;
    }

    Arch* arch_ = nullptr;
    Metrics* metrics_ = nullptr;
    Page* pages_ = nullptr;
    uint64_t base_pfn_ = 0;
    uint64_t span_ = 0;
    uint64_t usable_ = 0;
    uint64_t nr_free_ = 0;
    bool split_ = false;
    PageList free_[kNrOrders][kNrFreetypes];
};

}  // namespace page_alloc
