// libFuzzer target: the ASI page allocator core (guest_kernel/mm/page_alloc) on the host,
// driven by a program of operations decoded from the input (format: page_alloc_program.h)
// and checked against a shadow model after every operation. The Arch is the unit tests'
// FakeArch (tests/unit/page_alloc/fake_arch.h), which models the restricted direct map, the
// CPUs that may cache a restricted translation of each frame, and secret frame content;
// FuzzArch adds what only the fuzzer checks (ALLOC_NOBLOCK, pageblock flips).
//
// Properties, any violation of which traps (__builtin_trap, a libFuzzer crash):
//   P1  no frame is handed out twice, and every block is inside the usable ranges and
//       naturally aligned; an invalid request (both MOVABLE and RECLAIMABLE) fails;
//   P2  every block has the requested sensitivity: its pageblock flag agrees (freetype; the
//       flag is always nonsensitive under rfc and off) and so does the restricted direct map
//       (mapped iff nonsensitive; freetype and rfc);
//   P3  freetype: every usable frame is mapped in the restricted direct map iff its
//       pageblock is nonsensitive (every frame of a flipped pageblock after the flip,
//       every frame handed out at the end of the program, the whole zone in a check);
//   P4  a change to nonsensitive zeroes: no frame of a flipped pageblock, and no frame
//       handed out nonsensitive (freetype, rfc) or with __GFP_ZERO (any policy), still
//       holds a secret written into it while it was allocated sensitive;
//   P5  a change to sensitive flushes before hand-out: no frame handed out sensitive, and no
//       frame of a pageblock flipped to sensitive, may still be cached by any CPU;
//   P6  an ALLOC_NOBLOCK request (no __GFP_DIRECT_RECLAIM) never flips a pageblock to
//       sensitive, never unmaps and never waits for a TLB flush;
//   P7  FakeArch's own rules (R1, R2, R4, lock order, no effect under the zone lock), no
//       page_asi_mapping_bad(), no PA_VERIFY panic; at the end of the program every frame
//       handed out agrees with the shadow model (page state, restricted mapping); after
//       every operation free (buddy + per-CPU) + held back by the policy + allocated pages
//       == usable pages, so none was lost or counted twice; the check operation runs the
//       allocator's verify() and checks every frame of the zone.
// Checks cost O(operation), except the check operation (O(zone), once per program): the
// target must run at tens of thousands of programs per second (fuzz/README.md). For the same
// reason each configuration boots its allocator once and restores a snapshot per input, and
// everything in this file's anonymous namespace and in FakeArch is left out of coverage
// instrumentation and sanitizer checks (page_alloc_fuzzer.ignorelist): only the allocator,
// and the planted bug, steer the fuzzer.
//
// ASI_FUZZ_PRINT=1 prints the decoded program (one operation per line) before running it;
// ASI_FUZZ_PRINT=2 also prints every operation again as it runs, with its outcome.
//
// ASI_PAGE_ALLOC_PLANTED_DOUBLE_ALLOC (target page_alloc_fuzzer_planted only): a planted
// bug for the "the fuzzer finds it" test. When an order-0 sensitive allocation on one CPU
// immediately follows the free of an order-2 block on another CPU, while at least three
// allocations are held and after a pageblock has changed sensitivity in this program, the
// wrapper returns the first page of the oldest live allocation instead of the block it got:
// a page handed out twice (P1).
#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "fuzz/page_alloc_program.h"
#include "guest_kernel/mm/page_alloc/page_allocator.h"
#include "guest_kernel/mm/page_alloc/policies.h"
#include "tests/unit/page_alloc/fake_arch.h"

#ifdef ASI_PAGE_ALLOC_PLANTED_DOUBLE_ALLOC
// The planted bug (see the file comment), as a wrapper's decision: the block alloc_pages
// returned (pa), or the first page of the oldest live allocation (oldest_live, if
// has_live), a page still allocated. It stands for a bug in the allocator, so unlike the test
// machinery it keeps its coverage instrumentation (outside the anonymous namespace).
namespace page_alloc_planted {
struct State {
    bool prev_was_free;             // the previous allocator call was free_pages...
    uint32_t prev_order, prev_cpu;  // ...of this order on this CPU
    size_t live;                    // allocations held
    uint64_t oldest_live;           // the oldest one's address
    uint64_t sensitivity_changes;   // pageblock changes so far in this program
};
// One condition per branch, so that coverage leads the fuzzer one step at a time, as it
// would through a real allocator bug.
uint64_t double_alloc(uint64_t pa, uint64_t failed, uint32_t cpu, uint32_t order, uint64_t gfp,
                      const State& st) {
    if (pa == failed || !st.prev_was_free) return pa;
    if (st.prev_order != 2) return pa;
    if (order != 0) return pa;
    if (!(gfp & page_alloc::kGfpSensitive)) return pa;
    if (st.prev_cpu == cpu) return pa;
    if (st.live < 3) return pa;
    if (st.sensitivity_changes == 0) return pa;
    return st.oldest_live;
}
}  // namespace page_alloc_planted
#endif

namespace {

using namespace page_alloc;
using namespace page_alloc_fuzz;

[[noreturn]] __attribute__((format(printf, 1, 2))) void trap_violation(const char* fmt, ...) {
    std::fflush(stdout);  // ASI_FUZZ_PRINT output first
    std::fputs("page_alloc_fuzzer: VIOLATION: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fputc('\n', stderr);
    std::fflush(stderr);
    __builtin_trap();
}

int print_level() {
    static const int level = [] {
        const char* v = std::getenv("ASI_FUZZ_PRINT");
        return v ? std::atoi(v) : 0;
    }();
    return level;
}

constexpr uint64_t kMiB = 1ull << 20;
using ull = unsigned long long;  // for printf's %llx

// Memory layouts (Config::layout), small so that a program soon runs out of memory of one
// sensitivity and pageblocks change sensitivity. Both start at physical address 0, because
// FakeArch keeps its per-frame state for every frame from 0 up and the fuzzer copies that
// state back before each program.
//   0: 4 MiB, one max-order block: two whole pageblocks.
//   1: 8 MiB in two ranges, whose first and last pageblocks are partly usable and so pinned
//      at the partial sensitivity (nonsensitive); two whole pageblocks between them.
const std::vector<PhysRange> kLayouts[2] = {
    {{0, 4 * kMiB}},
    {{0x5000, 6 * kMiB - 0x5000}, {6 * kMiB + 0x10000, 2 * kMiB - 0x12000}},
};

class FuzzArch : public page_alloc_test::FakeArch {
public:
    using FakeArch::FakeArch;

    struct Flip {
        uint64_t pa;
        Sensitivity to;
    };

    // Set around alloc_pages of an ALLOC_NOBLOCK request (P6).
    bool noblock = false;
    std::vector<Flip> flips;  // kTracePageblockFlip since the last check

    void unmap_restricted_pageblock(uint64_t pa) {
        if (noblock) trap_violation("P6: ALLOC_NOBLOCK request unmapped pageblock 0x%llx", ull(pa));
        FakeArch::unmap_restricted_pageblock(pa);
    }
    void unmap_restricted_pages(uint64_t pa, uint64_t n) {
        if (noblock)
            trap_violation("P6: ALLOC_NOBLOCK request unmapped 0x%llx (+%llu pages)", ull(pa),
                           ull(n));
        FakeArch::unmap_restricted_pages(pa, n);
    }
    void flush_restricted_tlb_all_cpus(uint64_t pa, uint64_t n) {
        if (noblock)
            trap_violation("P6: ALLOC_NOBLOCK request waited for a TLB flush of 0x%llx", ull(pa));
        FakeArch::flush_restricted_tlb_all_cpus(pa, n);
    }
    void trace(uint32_t kind, uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
        if (kind == asi_abi::kTracePageblockFlip) {
            const Sensitivity to = b ? Sensitivity::kSensitive : Sensitivity::kNonsensitive;
            if (noblock && to == Sensitivity::kSensitive)
                trap_violation("P6: ALLOC_NOBLOCK request flipped pageblock 0x%llx to sensitive",
                               ull(a));
            flips.push_back({a, to});
        }
        FakeArch::trace(kind, a, b, c, d);
    }
};

using Alloc = PageAllocator<FuzzArch>;

struct Live {
    uint64_t pa;
    uint32_t order;
    gfp_t gfp;
};

class Runner {
public:
    explicit Runner(const Config& c) : cfg_(c) {
        const std::vector<PhysRange>& ranges = kLayouts[c.layout & 1];
        const ZoneSpan span = zone_span_for(ranges.data(), static_cast<uint32_t>(ranges.size()));
        pages_.resize(span.pages);
        base_pfn_ = span.base_pfn;
        const uint64_t frames = span.base_pfn + span.pages;
        arch_ = std::make_unique<FuzzArch>(frames, c.cpus);
        arch_->asi_on = c.policy != Policy::kOff;
        AllocatorConfig<FuzzArch> ac;
        ac.pages = pages_.data();
        ac.span = span;
        ac.ranges = ranges.data();
        ac.range_count = static_cast<uint32_t>(ranges.size());
        ac.cpus = c.cpus;
        ac.pcp_batch = c.small_pcp ? 2 : 8;
        ac.pcp_high = c.small_pcp ? 4 : 32;
        ac.policy = policies_.by_name(policy_name(c.policy));
        ac.initial = c.initial_sensitive ? Sensitivity::kSensitive : Sensitivity::kNonsensitive;
        ac.partial = Sensitivity::kNonsensitive;
        alloc_.init(*arch_, ac);
        arch_->build_restricted_map(alloc_);
        owned_.assign(frames, 0);
        touched_flag_.assign(frames, 0);
        usable_.assign(frames, 0);
        for (const PhysRange& r : ranges)
            for (uint64_t pa = (r.base + kPageSize - 1) & ~(kPageSize - 1);
                 pa + kPageSize <= r.base + r.length; pa += kPageSize)
                usable_[pa >> kPageShift] = 1;
        for (uint8_t u : usable_) usable_count_ += u;
        after_op();
        snapshot_.reset(new Snapshot{pages_, *arch_, policies_, alloc_});
    }
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;

    // Back to the state right after init. Every pointer inside the allocator points into
    // this Runner, which never moves, so a copy of the snapshot is a fresh allocator.
    void reset() {
        std::copy(snapshot_->pages.begin(), snapshot_->pages.end(), pages_.begin());
        *arch_ = snapshot_->arch;
        policies_ = snapshot_->policies;
        alloc_ = snapshot_->alloc;
        // owned_ is all zero again: run() clears what the last program left allocated.
        for (uint32_t p : touched_) touched_flag_[p] = 0;
        touched_.clear();
        live_.clear();
        prev_ = {};
        op_ = 0;
        checks_ = 0;
    }

    void run(const Program& p) {
        for (size_t i = 0; i < p.ops.size(); ++i) {
            op_ = i;
            const Op& op = p.ops[i];
            if (print_level() >= 2) std::printf("%4zu  %s\n", i, describe(op).c_str());
            switch (op.kind) {
                case OpKind::kAlloc: do_alloc(op.cpu, op.order, op.gfp); break;
                case OpKind::kAllocBurst:
                    for (uint32_t k = 0; k < op.count; ++k) do_alloc(op.cpu, op.order, op.gfp);
                    break;
                case OpKind::kFree:
                    if (!live_.empty()) do_free(op.index % live_.size(), op.cpu);
                    break;
                case OpKind::kFreeBurst:
                    for (uint32_t k = 0; k < op.count && !live_.empty(); ++k)
                        do_free(live_.size() - 1, op.cpu);
                    break;
                case OpKind::kDeferredWork:
                    alloc_.run_deferred_work();
                    prev_ = {};
                    break;
                case OpKind::kDrain:
                    alloc_.drain_pcp(op.cpu);
                    prev_ = {};
                    break;
                case OpKind::kDrainAll:
                    alloc_.drain_all_pcp();
                    prev_ = {};
                    break;
                case OpKind::kCheck:
                    // O(zone): once per program, or the fuzzer would love it.
                    if (checks_++ == 0) check_zone();
                    break;
            }
            after_op();
        }
        op_ = p.ops.size();
        // The end: every frame handed out agrees with the shadow model, and no page is lost
        // or counted twice. (No teardown: reset() restores the snapshot before the next
        // program, and freeing everything would cost as much as the program itself.)
        check_touched();
        for (const Live& b : live_)
            for (uint64_t i = 0; i < (1ull << b.order); ++i) owned_[(b.pa >> kPageShift) + i] = 0;
        live_.clear();
        owned_pages_ = 0;
    }

private:
    struct Prev {
        bool was_free = false;
        uint32_t order = 0;
        uint32_t cpu = 0;
    };

    void do_alloc(uint32_t cpu, uint32_t order, gfp_t gfp) {
        arch_->noblock = (gfp & kGfpDirectReclaim) == 0;
        uint64_t pa = alloc_.alloc_pages(cpu, order, gfp, op_ & 0xffff);
        arch_->noblock = false;
#ifdef ASI_PAGE_ALLOC_PLANTED_DOUBLE_ALLOC
        pa = page_alloc_planted::double_alloc(
            pa, Alloc::kAllocFailed, cpu, order, gfp,
            {prev_.was_free, prev_.order, prev_.cpu, live_.size(),
             live_.empty() ? 0 : live_.front().pa, alloc_.metrics().sensitivity_changes});
#endif
        prev_ = {};
        if (print_level() >= 2) {
            if (pa == Alloc::kAllocFailed)
                std::printf("        alloc failed\n");
            else
                std::printf("        alloc -> 0x%llx\n", ull(pa));
        }
        if (pa == Alloc::kAllocFailed) return;
        if (!gfp_valid(gfp))
            trap_violation("P1: invalid gfp 0x%llx got a block at 0x%llx", ull(gfp), ull(pa));
        check_allocation(pa, order, gfp);
        live_.push_back({pa, order, gfp});
        if (gfp & kGfpSensitive) arch_->write_secret(pa, 1ull << order);
    }

    void do_free(size_t index, uint32_t cpu) {
        const Live b = live_[index];
        live_.erase(live_.begin() + static_cast<std::ptrdiff_t>(index));
        for (uint64_t i = 0; i < (1ull << b.order); ++i) owned_[(b.pa >> kPageShift) + i] = 0;
        owned_pages_ -= 1ull << b.order;
        if (print_level() >= 2) std::printf("        free 0x%llx order %u\n", ull(b.pa), b.order);
        alloc_.free_pages(cpu, b.pa, b.order);
        prev_ = {true, b.order, cpu};
    }

    void check_allocation(uint64_t pa, uint32_t order, gfp_t gfp) {
        const uint64_t pfn = pa >> kPageShift;
        const uint64_t n = 1ull << order;
        if ((pa & (kPageSize - 1)) != 0 || (pfn & (n - 1)) != 0)
            trap_violation("P1: block 0x%llx of order %u is misaligned", ull(pa), order);
        for (uint64_t i = 0; i < n; ++i) {
            const uint64_t p = pfn + i;
            if (p >= usable_.size() || !usable_[p])
                trap_violation("P1: frame 0x%llx is outside the usable ranges",
                               ull(p << kPageShift));
            if (owned_[p])
                trap_violation("P1: frame 0x%llx handed out twice (block 0x%llx order %u)",
                               ull(p << kPageShift), ull(pa), order);
            owned_[p] = 1;
            ++owned_pages_;
            if (!touched_flag_[p]) {
                touched_flag_[p] = 1;
                touched_.push_back(p);
            }
        }
        if (alloc_.page_state(pa) != PageState::kAllocHead)
            trap_violation("P1: block 0x%llx handed out in page state %d", ull(pa),
                           int(alloc_.page_state(pa)));
        const Sensitivity s = gfp_sensitivity(gfp);
        const bool sensitive = s == Sensitivity::kSensitive;
        const Sensitivity want_pb =
            cfg_.policy == Policy::kFreetype ? s : Sensitivity::kNonsensitive;
        if (alloc_.pageblock_sensitivity(pa) != want_pb)
            trap_violation("P2: %s block 0x%llx in a %s pageblock",
                           sensitive ? "sensitive" : "nonsensitive", ull(pa),
                           alloc_.pageblock_sensitivity(pa) == Sensitivity::kSensitive
                               ? "sensitive"
                               : "nonsensitive");
        const bool asi = cfg_.policy != Policy::kOff;
        for (uint64_t i = 0; i < n; ++i) {
            const uint64_t p = pfn + i;
            if (asi && (arch_->mapped[p] != 0) == sensitive)
                trap_violation("P2: %s frame 0x%llx handed out %s in the restricted direct map",
                               sensitive ? "sensitive" : "nonsensitive", ull(p << kPageShift),
                               sensitive ? "mapped" : "unmapped");
            if (asi && sensitive && arch_->may_cache[p] != 0)
                trap_violation(
                    "P5: sensitive frame 0x%llx handed out while CPUs 0x%llx may cache it",
                    ull(p << kPageShift), ull(arch_->may_cache[p]));
            if (((asi && !sensitive) || (gfp & kGfpZero)) && arch_->secret[p])
                trap_violation("P4: frame 0x%llx handed out %s with secret content",
                               ull(p << kPageShift),
                               (gfp & kGfpZero) ? "with __GFP_ZERO" : "nonsensitive");
        }
    }

    void after_op() {
        if (!arch_->violations.empty())
            trap_violation("P7: FakeArch: %s (op %zu)", arch_->violations.front().c_str(), op_);
        if (alloc_.metrics().bad_pages != 0)
            trap_violation(
                "P7: page_asi_mapping_bad() fired: %s (op %zu)",
                arch_->bad_page_reasons.empty() ? "?" : arch_->bad_page_reasons.front().c_str(),
                op_);
        check_accounting();
        for (size_t k = 0; k < arch_->flips.size(); ++k) {
            const FuzzArch::Flip& f = arch_->flips[k];
            bool later = false;  // only the last flip of a pageblock describes its state now
            for (size_t j = k + 1; j < arch_->flips.size(); ++j)
                later |= arch_->flips[j].pa == f.pa;
            if (!later) check_flip(f);
        }
        arch_->flips.clear();
        arch_->calls.clear();
    }

    void check_flip(const FuzzArch::Flip& f) {
        if (cfg_.policy != Policy::kFreetype)
            trap_violation("P3: pageblock 0x%llx flipped under policy %s", ull(f.pa),
                           policy_name(cfg_.policy));
        if (alloc_.pageblock_sensitivity(f.pa) != f.to)
            trap_violation("P3: pageblock 0x%llx flipped but its flag disagrees", ull(f.pa));
        const bool to_sensitive = f.to == Sensitivity::kSensitive;
        const uint64_t first = f.pa >> kPageShift;
        for (uint64_t p = first; p < first + kPageblockPages; ++p) {
            if (!usable_[p]) continue;
            if ((arch_->mapped[p] != 0) == to_sensitive)
                trap_violation("P3: frame 0x%llx of pageblock 0x%llx, flipped to %s, is %s",
                               ull(p << kPageShift), ull(f.pa),
                               to_sensitive ? "sensitive" : "nonsensitive",
                               to_sensitive ? "mapped" : "unmapped");
            if (to_sensitive && arch_->may_cache[p] != 0)
                trap_violation(
                    "P5: pageblock 0x%llx flipped to sensitive, frame 0x%llx still cacheable by "
                    "0x%llx",
                    ull(f.pa), ull(p << kPageShift), ull(arch_->may_cache[p]));
            if (!to_sensitive && arch_->secret[p])
                trap_violation(
                    "P4: pageblock 0x%llx flipped to nonsensitive, frame 0x%llx not zeroed",
                    ull(f.pa), ull(p << kPageShift));
        }
    }

    // One usable frame against the shadow model (P3, P7). Reads the page array's fields
    // directly (page.h): the allocator's accessors are instrumented, and this runs for
    // every frame of the zone.
    bool check_frame(uint64_t p) {
        const uint64_t pa = p << kPageShift;
        const PageState st = static_cast<PageState>(pages_[p - base_pfn_].flags & Page::kStateMask);
        const Sensitivity pb =
            (pages_[(p & ~(kPageblockPages - 1)) - base_pfn_].pageblock & Page::kPbSensitive)
                ? Sensitivity::kSensitive
                : Sensitivity::kNonsensitive;
        const bool allocated = st == PageState::kAllocHead || st == PageState::kAllocTail;
        if (allocated != (owned_[p] != 0))
            trap_violation("P7: frame 0x%llx is in state %d but the shadow says %s", ull(pa),
                           int(st), owned_[p] ? "allocated" : "free");
        const bool mapped = arch_->mapped[p] != 0;
        if (cfg_.policy == Policy::kFreetype && mapped != (pb == Sensitivity::kNonsensitive))
            trap_violation("P3: frame 0x%llx mapping disagrees with its pageblock's sensitivity",
                           ull(pa));
        if (cfg_.policy == Policy::kRfc && !allocated && st != PageState::kDeferred &&
            st != PageState::kDeferredTail && mapped)
            trap_violation("P3: rfc: free frame 0x%llx is mapped in the restricted direct map",
                           ull(pa));
        return allocated;
    }

    // The frames handed out during the program (end of program, O(touched)).
    void check_touched() {
        for (uint32_t p : touched_) check_frame(p);
    }

    // Free (buddy and per-CPU lists) + held back by the policy + allocated == usable.
    void check_accounting() {
        if (alloc_.nr_free_pages() + alloc_.deferred_pages() + owned_pages_ != usable_count_)
            trap_violation("P7: %llu free + %llu deferred + %llu allocated != %llu usable pages",
                           ull(alloc_.nr_free_pages()), ull(alloc_.deferred_pages()),
                           ull(owned_pages_), ull(usable_count_));
    }

    // The whole zone against the shadow model and the allocator's own invariants (P3, P7).
    // O(zone), so only where the program asks for it (the check operation).
    void check_zone() {
        alloc_.verify();
        uint64_t owned = 0;
        for (uint64_t p = 0; p < usable_.size(); ++p)
            if (usable_[p]) owned += check_frame(p);
        if (owned != owned_pages_) trap_violation("P7: shadow count of allocated pages is off");
        check_accounting();
    }

    // The allocator right after init (see reset()).
    struct Snapshot {
        std::vector<Page> pages;
        FuzzArch arch;
        PolicySet<FuzzArch> policies;
        Alloc alloc;
    };

    Config cfg_;
    std::unique_ptr<Snapshot> snapshot_;
    std::vector<Page> pages_;
    std::unique_ptr<FuzzArch> arch_;
    PolicySet<FuzzArch> policies_;
    Alloc alloc_;
    std::vector<uint8_t> owned_;
    std::vector<uint8_t> usable_;
    std::vector<uint8_t> touched_flag_;  // frames handed out since the reset...
    std::vector<uint32_t> touched_;      // ...and their list
    uint64_t usable_count_ = 0;
    uint64_t owned_pages_ = 0;  // frames allocated, by the shadow model
    uint64_t base_pfn_ = 0;
    std::vector<Live> live_;
    Prev prev_;
    size_t op_ = 0;
    uint32_t checks_ = 0;  // check operations run in this program
};

// One Runner per configuration, booted once and reset before each program: booting costs
// O(zone) instrumented steps, a reset a few memcpys.
Runner& runner_for(const Config& c) {
    static std::unique_ptr<Runner> cache[3 * 2 * 2 * 4 * 2];
    const size_t index =
        static_cast<size_t>(c.policy) +
        3 * ((c.initial_sensitive ? 0 : 1) +
             2 * ((c.layout & 1u) + 2 * ((c.cpus - 1) + 4 * (c.small_pcp ? 1 : 0))));
    std::unique_ptr<Runner>& r = cache[index];
    if (!r)
        r = std::make_unique<Runner>(c);
    else
        r->reset();
    return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Program program;
    decode_program(std::span<const uint8_t>(data, size), program);
    if (print_level() >= 1) {
        // libFuzzer runs an input a second time to look for leaks: print it once.
        static std::vector<uint8_t> last;
        if (last.size() != size || (size != 0 && std::memcmp(last.data(), data, size) != 0)) {
            last.assign(data, data + size);
            print_program(stdout, program);
            if (print_level() >= 2) std::printf("---- run\n");
        }
    }
    try {
        runner_for(program.config).run(program);
    } catch (const page_alloc_test::FakePanic& e) {
        trap_violation("P7: allocator panic: %s", e.what());
    }
    return 0;
}
