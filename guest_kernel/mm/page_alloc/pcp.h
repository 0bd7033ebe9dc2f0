// Per-CPU page lists (Linux's struct per_cpu_pages): order-0 pages cached per CPU so that
// most allocations and frees skip the zone lock. One list per freetype (series: "the
// per-CPU lists likewise" are indexed by freetype, so a pcp list never mixes
// sensitivities), refilled and drained `batch` pages at a time, drained when it holds more
// than `high` pages.
//
// Locking: every member taking a cpu requires pcp_lock(cpu), and takes the zone lock
// itself around buddy operations (lock order pcp -> zone).
#pragma once
#include <stdint.h>

#include "arch.h"
#include "buddy_zone.h"
#include "freetype.h"
#include "metrics.h"
#include "page.h"
#include "page_list.h"
#include "verify.h"

namespace page_alloc {

constexpr uint32_t kMaxCpus = 64;  // the TLB-flush tracepoint reports a 64-bit CPU mask

template <class Arch>
class PerCpuPages {
public:
    void setup(uint32_t cpus, uint32_t batch, uint32_t high) {
        cpus_ = cpus;
        batch_ = batch;
        high_ = high;
        for (auto& c : cpu_) c = Cpu{};
    }

    uint32_t cpus() const { return cpus_; }
    uint32_t count(uint32_t cpu) const { return cpu_[cpu].count; }
    uint32_t count(uint32_t cpu, Freetype ft) const { return cpu_[cpu].lists[ft.value].count; }
    uint64_t total() const {
        uint64_t n = 0;
        for (uint32_t c = 0; c < cpus_; ++c) n += cpu_[c].count;
        return n;
    }

    // rmqueue_pcplist(): a page of freetype ft, refilling the list from the buddy lists
    // (normal path, then migratetype fallback) if it is empty. The page is kIsolated.
    uint64_t alloc(Arch& arch, BuddyZone<Arch>& zone, Metrics& m, uint32_t cpu, Freetype ft) {
        Cpu& c = cpu_[cpu];
        PageList& list = c.lists[ft.value];
        if (list.empty()) {
            // rmqueue_bulk(): pages go to the tail, so they are handed out in pfn order.
            ZoneLockGuard<Arch> lock(arch);
            for (uint32_t i = 0; i < batch_; ++i) {
                uint64_t pfn = zone.rmqueue_smallest(0, ft);
                if (pfn == kNoPfn) pfn = zone.rmqueue_fallback(0, ft);
                if (pfn == kNoPfn) break;
                Page& p = zone.page(pfn);
                p.set_state(PageState::kPcp);
                p.set_list_freetype(ft);
                list.push_back(zone.pages(), zone.index(pfn));
                ++c.count;
            }
            if (!list.empty()) bump(m.pcp_refills);
        }
        uint32_t idx = list.pop_front(zone.pages());
        if (idx == kNilIndex) return kNoPfn;
        --c.count;
        Page& p = zone.pages()[idx];
        PA_VERIFY(arch, p.state() == PageState::kPcp);
        p.set_state(PageState::kIsolated);
        p.order = 0;
        return zone.pfn_of(idx);
    }

    // free_unref_page(): onto the list of the page's pageblock freetype; drain a batch of
    // the coldest pages when the CPU holds more than `high`.
    void free(Arch& arch, BuddyZone<Arch>& zone, Metrics& m, uint32_t cpu, uint64_t pfn) {
        Cpu& c = cpu_[cpu];
        Freetype ft = zone.block_freetype(pfn);
        Page& p = zone.page(pfn);
        p.set_state(PageState::kPcp);
        p.set_list_freetype(ft);
        c.lists[ft.value].push_front(zone.pages(), zone.index(pfn));
        ++c.count;
        if (c.count > high_) drain(arch, zone, m, cpu, batch_);
    }

    // free_pcppages_bulk(): up to n pages back to the buddy lists, round-robin over the
    // lists, coldest first. Each page goes to the list of its pageblock's *current*
    // freetype (the pageblock may have been claimed by another migratetype meanwhile).
    void drain(Arch& arch, BuddyZone<Arch>& zone, Metrics& m, uint32_t cpu, uint32_t n) {
        Cpu& c = cpu_[cpu];
        if (c.count == 0) return;
        ZoneLockGuard<Arch> lock(arch);
        uint32_t done = 0;
        uint32_t empty_streak = 0;
        while (done < n && c.count > 0 && empty_streak < kNrFreetypes) {
            PageList& list = c.lists[c.cursor];
            c.cursor = (c.cursor + 1) % kNrFreetypes;
            uint32_t idx = list.pop_back(zone.pages());
            if (idx == kNilIndex) {
                ++empty_streak;
                continue;
            }
            empty_streak = 0;
            --c.count;
            PA_VERIFY(arch, zone.pages()[idx].state() == PageState::kPcp);
            zone.free_block(zone.pfn_of(idx), 0);
            ++done;
        }
        bump(m.pcp_drained_pages, done);
    }

    void drain_all(Arch& arch, BuddyZone<Arch>& zone, Metrics& m, uint32_t cpu) {
        drain(arch, zone, m, cpu, ~0u);
    }

private:
    struct Cpu {
        PageList lists[kNrFreetypes];
        uint32_t count = 0;
        uint32_t cursor = 0;
    };
    Cpu cpu_[kMaxCpus];
    uint32_t cpus_ = 0;
    uint32_t batch_ = 0;
    uint32_t high_ = 0;
};

}  // namespace page_alloc
