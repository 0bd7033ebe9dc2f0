#include "fuzz/fuzz_ops.h"

#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "kernel/smp.h"
#include "kernel/workload_hooks.h"
#include "mm/asi/asi.h"
#include "mm/asi/restricted_map.h"
#include "mm/kernel_page_allocator.h"
#include "mm/page_alloc/gfp.h"
#include "mm/pte.h"
#include "workload/live_table.h"

namespace fuzz_mode {
namespace {

using fuzz_program::FuzzOp;
using fuzz_program::OpKind;
using LiveTable = workload::LiveTable<fuzz_program::kFuzzMaxLive>;

constinit LiveTable g_live{};
constinit kernel_workload::GuestHooks g_hooks{};  // its patterns only: nothing is sealed
constinit OpStats g_stats{};
constinit bool g_checked = false;

// The pageblocks a program can have changed (fuzz_ops.h): one bit per pageblock of the zone,
// from its base; pageblocks past the bitmap's end always count as changed.
constexpr uint64_t kTrackedPageblocks = 64 * 1024;  // 128 GiB
constinit uint64_t g_changed[kTrackedPageblocks / 64]{};

uint64_t pageblock_index(uint64_t pfn, uint64_t base_pfn) { return (pfn - base_pfn) >> page_alloc::kPageblockOrder; }
uint64_t pageblock_index(uint64_t pfn) { return pageblock_index(pfn, mm::page_allocator().base_pfn()); }

bool pageblock_changed(uint64_t pfn, uint64_t base_pfn) {
    const uint64_t i = pageblock_index(pfn, base_pfn);
    return i >= kTrackedPageblocks || (g_changed[i / 64] >> (i % 64)) & 1;
}
bool pageblock_changed(uint64_t pfn) { return pageblock_changed(pfn, mm::page_allocator().base_pfn()); }

// A block of 2^order pages at pa was handed out, freed, or may move between lists: its
// buddies merge and split only inside the naturally aligned block of the largest order, so
// every pageblock of that block can change.
void mark_changed(uint64_t pa, uint32_t order) {
    const uint64_t pfn = pa >> page_alloc::kPageShift;
    const uint64_t size = uint64_t{1} << (order > page_alloc::kMaxOrder ? order : page_alloc::kMaxOrder);
    const uint64_t first = pfn & ~(size - 1);
    for (uint64_t p = first; p < first + size; p += page_alloc::kPageblockPages) {
        const uint64_t i = pageblock_index(p);
        if (i < kTrackedPageblocks) g_changed[i / 64] |= uint64_t{1} << (i % 64);
    }
}

void alloc(uint32_t order, page_alloc::gfp_t gfp) {
    if (g_live.full()) {
        ++g_stats.skipped;
        return;
    }
    const uint32_t cpu = smp::this_cpu();
    const uint64_t pa = mm::page_allocator().alloc_pages(cpu, order, gfp, 0);
    if (pa == mm::KernelPageAllocator::kAllocFailed) {
        ++g_stats.alloc_failures;
        return;
    }
    g_live.add({pa, gfp, order, cpu});
    mark_changed(pa, order);
    ++g_stats.allocs;
}

void free_at(uint32_t i) {
    const workload::LiveBlock b = g_live.remove_at(i);
    mark_changed(b.pa, b.order);
    mm::page_allocator().free_pages(smp::this_cpu(), b.pa, b.order);
    ++g_stats.frees;
}

void touch(const workload::LiveBlock& b) {
    if (b.gfp & page_alloc::kGfpSensitive) g_hooks.write_secret(b.pa, b.order);
    else g_hooks.write_public(b.pa, b.order);
    g_stats.touched_pages += 1ull << b.order;
}

// A self-IPI on the call-function vector (with nothing queued, its handler only counts and
// acknowledges it), taken in an sti window: the interrupt arrives in whatever ASI state the
// CPU is in, and trap_dispatch's restore_after_interrupt runs on the way out. Without an
// x2APIC (QEMU's TCG) only the window opens.
void interrupt() {
    if (x86::apic::available()) {
        x86::apic::send_ipi_self(x86::apic::kCallFunctionVector);
        ++g_stats.interrupts;
    }
    x86::interrupt_window();
}


// Sets bits [first, first + count) of the bitmap.
void set_bits(uint64_t* bits, uint64_t first, uint64_t count) {
    while (count != 0) {
        const uint64_t bit = first % 64, take = count < 64 - bit ? count : 64 - bit;
        bits[first / 64] |= (take == 64 ? ~uint64_t{0} : (uint64_t{1} << take) - 1) << bit;
        first += take;
        count -= take;
    }
}

constexpr uint32_t kBitmapWords = page_alloc::kPageblockPages / 64;

// The free frames (frame_is_free) of the pageblock at pa, one bit per frame, from one pass
// over its page descriptors: the tail pages of a free, allocated or held-back block are
// stepped over through its head's order (page.h), as are those of a maximal free block
// that starts in the pageblock before.
void free_frames(mm::KernelPageAllocator& a, uint64_t pa, uint64_t free[kBitmapWords]) {
    for (uint32_t w = 0; w < kBitmapWords; ++w) free[w] = 0;
    const uint64_t first = pa >> page_alloc::kPageShift;
    uint64_t i = 0;
    if (a.zone().page(first).state() == page_alloc::PageState::kFreeTail) {
        const uint64_t head = first & ~((uint64_t{1} << page_alloc::kMaxOrder) - 1);
        if (head != first && head >= a.base_pfn() && a.zone().page(head).state() == page_alloc::PageState::kBuddy &&
            a.zone().page(head).order == page_alloc::kMaxOrder) {
            i = head + (uint64_t{1} << page_alloc::kMaxOrder) - first;
            if (i > page_alloc::kPageblockPages) i = page_alloc::kPageblockPages;
            set_bits(free, 0, i);
        }
    }
    const page_alloc::Page* pages = &a.zone().page(first);
    while (i < page_alloc::kPageblockPages) {
        const page_alloc::Page& p = pages[i];
        const page_alloc::PageState s = p.state();
        uint64_t n = 1;
        if (s == page_alloc::PageState::kBuddy || s == page_alloc::PageState::kAllocHead ||
            s == page_alloc::PageState::kDeferred) {
            n = uint64_t{1} << p.order;
            if (n > page_alloc::kPageblockPages - i) n = page_alloc::kPageblockPages - i;
        }
        if (frame_is_free(s)) set_bits(free, i, n);
        i += n;
    }
}

// Visits the index of every pageblock of the zone the check walks page by page: all of
// them, or those a program can have changed (set bits of g_changed, and every pageblock
// past its end).
template <class Visit>
void for_each_pageblock(bool whole_zone, Visit&& visit) {
    const uint64_t count = (mm::page_allocator().span_pages() + page_alloc::kPageblockPages - 1) >>
                           page_alloc::kPageblockOrder;
    const uint64_t tracked = count < kTrackedPageblocks ? count : kTrackedPageblocks;
    if (whole_zone) {
        for (uint64_t i = 0; i < count; ++i) visit(i);
        return;
    }
    for (uint64_t w = 0; w * 64 < tracked; ++w) {
        for (uint64_t bits = g_changed[w]; bits != 0; bits &= bits - 1) {
            const uint64_t i = w * 64 + static_cast<uint64_t>(__builtin_ctzll(bits));
            if (i < tracked) visit(i);
        }
    }
    for (uint64_t i = tracked; i < count; ++i) visit(i);
}

// page_asi_mapping_bad() over the free frames of the zone (all, or those in changed
// pageblocks) and the live table (fuzz_ops.h).
void check_restricted_mappings(bool whole_zone) {
    mm::KernelPageAllocator& a = mm::page_allocator();
    mm::GuestArch& arch = mm::page_allocator_arch();
    if (!a.policy().checks_restricted_mapping()) return;
    const uint64_t base = a.base_pfn() * mm::pte::k4K;
    for_each_pageblock(whole_zone, [&](uint64_t index) {
        if (!whole_zone) ++g_stats.checked_pageblocks;
        const uint64_t block = base + index * mm::pte::k2M;
        const bool want = a.restricted_mapped_at_init(block);
        uint64_t mapped[kBitmapWords], free[kBitmapWords];
        free_frames(a, block, free);
        asi::rmap::pageblock_mapped(block, free, mapped);
        for (uint32_t w = 0; w < kBitmapWords; ++w) {
            for (uint64_t bad = free[w] & (want ? ~mapped[w] : mapped[w]); bad != 0; bad &= bad - 1)
                arch.bad_page(block + (w * 64 + static_cast<uint64_t>(__builtin_ctzll(bad))) * mm::pte::k4K,
                              want ? "fuzz check: free page unmapped" : "fuzz check: free page mapped");
        }
    });
    for (uint32_t i = 0; i < g_live.size(); ++i) {
        const workload::LiveBlock& b = g_live[i];
        const bool want = (b.gfp & page_alloc::kGfpSensitive) == 0;
        if (arch.restricted_mapping_all(b.pa, 1ull << b.order, want)) continue;
        for (uint64_t p = 0; p < (1ull << b.order); ++p) {
            const uint64_t pa = b.pa + p * mm::pte::k4K;
            if (arch.is_mapped_restricted(pa) != want)
                arch.bad_page(pa, want ? "fuzz check: nonsensitive page unmapped" : "fuzz check: sensitive page mapped");
        }
    }
}

void check_changed() {
    // Panics on a broken invariant.
    const uint64_t base = mm::page_allocator().base_pfn();
    mm::page_allocator().verify([base](uint64_t pfn, uint32_t) { return pageblock_changed(pfn, base); });
    check_restricted_mappings(false);
}

void check() {
    if (g_checked) return;
    g_checked = true;
    ++g_stats.checks;
    check_changed();
}

}  // namespace

void execute(const FuzzOp& op) {
    mm::KernelPageAllocator& a = mm::page_allocator();
    switch (op.kind) {
        case OpKind::kAlloc:
            alloc(fuzz_program::alloc_order(op.arg), fuzz_program::alloc_gfp(op.arg));
            break;
        case OpKind::kFree:
            if (!g_live.empty()) free_at(op.arg % g_live.size());
            break;
        case OpKind::kTouch:
            if (!g_live.empty()) touch(g_live[op.arg % g_live.size()]);
            break;
        case OpKind::kAsiEnter: asi::enter(); break;
        case OpKind::kAsiRelax: asi::relax(); break;
        case OpKind::kAsiExit: asi::exit(asi::ExitReason::kOther); break;
        case OpKind::kDeferredWork: a.run_deferred_work(); break;
        case OpKind::kDrain: a.drain_pcp(smp::this_cpu()); break;
        case OpKind::kInterrupt: interrupt(); break;
        case OpKind::kAllocBurst:
            for (uint32_t i = 0; i < fuzz_program::burst_count(op.arg) && !g_live.full(); ++i)
                alloc(0, fuzz_program::burst_gfp(op.arg));
            break;
        case OpKind::kFreeBurst:
            for (uint32_t i = 0; i < fuzz_program::burst_count(op.arg) && !g_live.empty(); ++i)
                free_at(g_live.size() - 1);
            break;
        case OpKind::kCheck: check(); break;
        case OpKind::kNop: break;
    }
}

void prepare() {
    mm::KernelPageAllocator& a = mm::page_allocator();
    a.verify();
    check_restricted_mappings(true);
    const uint64_t base = a.base_pfn() * mm::pte::k4K;
    const uint64_t end = base + a.span_pages() * mm::pte::k4K;
    for (uint64_t pa = base; pa < end; pa += mm::pte::k4K) {
        const page_alloc::PageState s = a.page_state(pa);
        if (s == page_alloc::PageState::kPcp || s == page_alloc::PageState::kDeferred ||
            s == page_alloc::PageState::kIsolated)
            mark_changed(pa, 0);
    }
}

bool frame_is_free(page_alloc::PageState s) {
    return s == page_alloc::PageState::kBuddy || s == page_alloc::PageState::kFreeTail ||
           s == page_alloc::PageState::kPcp;
}

uint64_t check_now() {
    const uint64_t before = mm::page_allocator_arch().bad_pages();
    check_changed();
    return mm::page_allocator_arch().bad_pages() - before;
}

bool pageblock_changed_at(uint64_t pa) { return pageblock_changed(pa >> page_alloc::kPageShift); }

const OpStats& op_stats() { return g_stats; }

}  // namespace fuzz_mode
