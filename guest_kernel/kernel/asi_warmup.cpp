#include "kernel/asi_warmup.h"

#include "kernel/panic.h"
#include "kernel/smp.h"
#include "mm/asi/asi.h"
#include "mm/asi/restricted_map.h"
#include "mm/kernel_page_allocator.h"
#include "mm/page_alloc/freetype.h"
#include "mm/phys.h"

namespace kernel_workload {
namespace {

using page_alloc::GFP_KERNEL;
using page_alloc::GFP_USER;
using page_alloc::kMaxOrder;
using page_alloc::kPageblockOrder;

struct Held {
    uint64_t pa;
    uint32_t order;
};
// Enough for 16 GiB in max-order blocks; with more memory phase A stops early and covers
// less, which only weakens the warm-up.
constexpr uint32_t kMaxHeld = 4096;
constinit Held g_held[kMaxHeld]{};

// Phase A's pageblocks, which the other CPUs read while restricted.
constinit uint64_t g_pageblocks[kMaxHeld * (1u << (kMaxOrder - kPageblockOrder))]{};
constinit uint32_t g_pageblock_count = 0;

// On each other CPU, in its idle loop (smp::run_on_others).
void touch_pageblocks(void*) {
    asi::enter();
    for (uint32_t i = 0; i < g_pageblock_count; ++i) {
        // Only what the restricted space maps: a read of a sensitive block would exit ASI.
        if (!asi::rmap::is_mapped(g_pageblocks[i])) continue;
        (void)*static_cast<volatile uint64_t*>(mm::phys_to_virt(g_pageblocks[i]));
    }
    asi::relax();
}
void leave_asi(void*) { asi::exit(asi::ExitReason::kOther); }
void enter_asi(void*) {
    asi::enter();
    asi::relax();
}

class Holder {
public:
    explicit Holder(GuestHooks& hooks, WarmupStats& stats) : hooks_(hooks), stats_(stats) {}

    // Allocates with `gfp` in `order` blocks until that fails, `limit` blocks are held, or
    // stop() says so; returns the number allocated.
    template <class Stop>
    uint32_t fill(uint32_t order, page_alloc::gfp_t gfp, uint64_t owner, uint32_t limit, Stop stop) {
        uint32_t got = 0;
        while (n_ < kMaxHeld && got < limit && !stop()) {
            asi::enter();
            const uint64_t pa = mm::alloc_pages(order, gfp, owner);
            if (pa == 0) break;
            g_held[n_++] = Held{pa, order};
            ++stats_.allocations;
            ++got;
            if (gfp & page_alloc::kGfpSensitive) hooks_.write_secret(pa, order);
            else hooks_.read_pages(pa, 0);  // one page: enough to be cached, cheap
        }
        return got;
    }

    // Records the pageblocks of every held block (phase A).
    void record_pageblocks() {
        g_pageblock_count = 0;
        for (uint32_t i = 0; i < n_; ++i)
            for (uint64_t pb = 0; pb < (1ull << g_held[i].order); pb += page_alloc::kPageblockPages)
                g_pageblocks[g_pageblock_count++] = g_held[i].pa + pb * 4096;
    }

    void free_all() {
        while (n_ > 0) {
            --n_;
            mm::free_pages(g_held[n_].pa, g_held[n_].order);
        }
    }

private:
    GuestHooks& hooks_;
    WarmupStats& stats_;
    uint32_t n_ = 0;
};

}  // namespace

WarmupStats asi_warmup(GuestHooks& hooks, bool sensitivity_changes) {
    WarmupStats stats;
    Holder held(hooks, stats);
    const auto& m = mm::page_allocator().metrics();
    auto never = [] { return false; };
    const bool smp = smp::online_count() > 1;
    if (sensitivity_changes) {
        // A.
        const uint64_t before = m.flips_to_nonsensitive;
        held.fill(kMaxOrder, GFP_KERNEL, 0, ~0u, never);
        held.fill(kPageblockOrder, GFP_KERNEL, 0, ~0u, never);
        stats.pageblocks_made_nonsensitive = m.flips_to_nonsensitive - before;
        if (smp) {
            held.record_pageblocks();
            smp::run_on_others(touch_pageblocks, nullptr);
        }
        held.free_all();
        // B.
        const uint64_t to_sensitive = m.flips_to_sensitive;
        held.fill(kPageblockOrder, GFP_USER, 1, 1, never);  // the others inside ASI: IPIs
        if (smp) {
            smp::run_on_others(touch_pageblocks, nullptr);
            smp::run_on_others(leave_asi, nullptr);
        }
        held.fill(kPageblockOrder, GFP_USER, 1, 1, never);  // the others outside: no IPI
        if (smp) smp::run_on_others(enter_asi, nullptr);    // ... they flush as they enter
        const uint64_t changed = m.flips_to_sensitive - to_sensitive;
        held.free_all();
        // C.
        const uint64_t back = m.flips_to_nonsensitive;
        held.fill(kPageblockOrder, GFP_KERNEL, 0, ~0u, [&] { return m.flips_to_nonsensitive - back >= changed; });
        held.free_all();
    }
    // D.
    asi::enter();
    const uint64_t block = mm::alloc_pages(kPageblockOrder, GFP_KERNEL);
    if (block != 0) {
        ++stats.allocations;
        const bool sealed = hooks.seal(block);
        asi::enter();
        hooks.read_pages(block, 0);
        if (sealed) hooks.unseal_if_sealed(block);
        mm::free_pages(block, kPageblockOrder);
    }
    return stats;
}

}  // namespace kernel_workload
