// The in-emulator fuzzer's check operation (fuzz/fuzz_ops.h) against a restricted direct map
// broken on purpose: free frames of a pageblock the program changed, given the mapping the
// policy forbids, are reported (every one of them, also in a pageblock that starts inside a
// free block), and nothing once the mapping is back; a pageblock the program did not change
// is outside the check's walk, and the full check that runs before a program (prepare)
// reports it.
#include "fuzz/fuzz_ops.h"
#include "mm/asi/asi.h"
#include "mm/asi/restricted_map.h"
#include "mm/kernel_page_allocator.h"
#include "mm/pte.h"
#include "test/tests.h"

namespace tests {
namespace {

constexpr uint64_t kFramesPerPageblock = mm::pte::k2M / mm::pte::k4K;

// The free frames of the pageblock at block, counted one page state at a time (the check
// itself steps over blocks by their order).
uint64_t free_frames(uint64_t block) {
    uint64_t free = 0;
    for (uint64_t pa = block; pa < block + mm::pte::k2M; pa += mm::pte::k4K)
        free += fuzz_mode::frame_is_free(mm::page_allocator().page_state(pa)) ? 1 : 0;
    return free;
}

// A pageblock of the zone whose free frames are mapped in the restricted direct map as the
// policy wants: one the program changed, one it did not, or (changed or not) an all-free one
// whose first frame is the tail of a maximal free block that starts in the pageblock before.
// One whose free frames must be unmapped (sensitive) qualifies only when all of it is free
// and so holds no secret: breaking it maps its frames. kNone if none.
enum class Which { kChanged, kUnchanged, kTailFirst };
constexpr uint64_t kNone = ~uint64_t{0};
uint64_t find_pageblock(Which which) {
    mm::KernelPageAllocator& a = mm::page_allocator();
    const uint64_t base = a.base_pfn() << page_alloc::kPageShift;
    const uint64_t end = base + (a.span_pages() << page_alloc::kPageShift);
    for (uint64_t block = base; block < end; block += mm::pte::k2M) {
        if (which == Which::kTailFirst ? a.page_state(block) != page_alloc::PageState::kFreeTail
                                       : fuzz_mode::pageblock_changed_at(block) != (which == Which::kChanged))
            continue;
        const bool want = a.restricted_mapped_at_init(block);
        bool as_wanted = true;
        for (uint64_t pa = block; pa < block + mm::pte::k2M && as_wanted; pa += mm::pte::k4K)
            as_wanted = !fuzz_mode::frame_is_free(a.page_state(pa)) || asi::rmap::is_mapped(pa) == want;
        const uint64_t free = free_frames(block);
        if (free > 0 && as_wanted && ((want && which != Which::kTailFirst) || free == kFramesPerPageblock))
            return block;
    }
    return kNone;
}

bool wants_mapped(uint64_t block) {
    mm::KernelPageAllocator& a = mm::page_allocator();
    return a.restricted_mapped_at_init(block);
}

// Gives the pageblock's free frames the mapping the policy forbids, or back the one it wants:
// through its 2 MiB entry when that is a leaf, else frame by frame in its page table (a
// block shared with frames the allocator does not own keeps their entries). Free frames of
// a sensitive pageblock may still hold a freed secret: they are zeroed before being mapped,
// as a flip to nonsensitive would (otherwise the oracle rightly calls it R4).
void break_mapping(uint64_t block, bool broken) {
    const bool unmap = wants_mapped(block) == broken;
    if (!unmap && !wants_mapped(block)) mm::page_allocator_arch().zero_pages(block, mm::pte::k2M / mm::pte::k4K);
    if (*asi::rmap::pde_slot(block) & mm::pte::kHuge) {
        if (unmap) asi::rmap::unmap_pageblock(block);
        else asi::rmap::map_pageblock(block);
        return;
    }
    mm::KernelPageAllocator& a = mm::page_allocator();
    for (uint64_t pa = block; pa < block + mm::pte::k2M; pa += mm::pte::k4K) {
        if (!fuzz_mode::frame_is_free(a.page_state(pa))) continue;
        if (unmap) asi::rmap::unmap_pages(pa, 1);
        else asi::rmap::map_pages(pa, 1);
    }
}

}  // namespace

void fuzz_check_scope(ktap::Test& t) {
    if (!asi::enabled()) return t.skip("ASI is off (asi=off)");
    if (!mm::page_allocator().policy().checks_restricted_mapping())
        return t.skip("the policy keeps no restricted-mapping rule for free frames");
    mm::GuestArch& arch = mm::page_allocator_arch();
    const uint64_t bad_before = arch.bad_pages();
    fuzz_mode::prepare();
    KT_EXPECT_EQ(t, arch.bad_pages(), bad_before);
    fuzz_program::FuzzOp alloc{fuzz_program::OpKind::kAlloc, 0, 0};  // one nonsensitive page
    fuzz_mode::execute(alloc);
    KT_EXPECT_EQ(t, fuzz_mode::check_now(), 0u);

    const uint64_t changed = find_pageblock(Which::kChanged), unchanged = find_pageblock(Which::kUnchanged);
    if (!KT_EXPECT(t, changed != kNone && unchanged != kNone)) return;
    t.diag("breaking the restricted mapping of the pageblocks at %#lx (changed) and %#lx (not "
           "changed) on purpose: the 'Bad page state' lines below are expected", changed, unchanged);
    break_mapping(changed, true);
    KT_EXPECT(t, fuzz_mode::check_now() >= free_frames(changed));
    break_mapping(changed, false);
    KT_EXPECT_EQ(t, fuzz_mode::check_now(), 0u);

    break_mapping(unchanged, true);
    KT_EXPECT_EQ(t, fuzz_mode::check_now(), 0u);  // not walked: the program did not change it
    const uint64_t before_full = arch.bad_pages();
    fuzz_mode::prepare();
    KT_EXPECT(t, arch.bad_pages() > before_full);
    break_mapping(unchanged, false);

    fuzz_program::FuzzOp free_it{fuzz_program::OpKind::kFree, 0, 0};
    fuzz_mode::execute(free_it);
    KT_EXPECT_EQ(t, fuzz_mode::check_now(), 0u);

    // A maximal free block spans two pageblocks: the second starts with a tail page, and each
    // of its frames is still checked (by the full check here, which walks every pageblock).
    const uint64_t tail_first = find_pageblock(Which::kTailFirst);
    if (!KT_EXPECT(t, tail_first != kNone)) return;
    break_mapping(tail_first, true);
    uint64_t before = arch.bad_pages();
    fuzz_mode::prepare();
    KT_EXPECT_EQ(t, arch.bad_pages() - before, kFramesPerPageblock);
    break_mapping(tail_first, false);
    before = arch.bad_pages();
    fuzz_mode::prepare();
    KT_EXPECT_EQ(t, arch.bad_pages(), before);
}

}  // namespace tests
