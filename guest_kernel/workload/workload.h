// Allocator workloads: deterministic sequences of allocations and frees, generic over the
// allocator, run by the guest (workload=<name> ops=N seed=S on the command line) and by
// host tests. Each keeps its live blocks in a caller-provided LiveTable (static storage in
// the guest: a table is too big for a kernel stack), frees everything at the end, runs
// the allocator's deferred work every `deferred_every` operations and once at the end, and
// reports a WorkloadSummary.
//
//   mixed         (default) interleaved sensitive and nonsensitive allocations of orders
//                 0-3 and frees of random live blocks; a few atomic (ALLOC_NOBLOCK) ones.
//   flip-storm    alternating phases of sensitive and nonsensitive demand, each for ~60%
//                 of the memory free when the phase starts, freed at the phase's end: every
//                 phase has to take pageblocks from the other sensitivity.
//   kernel-heavy  mostly nonsensitive kernel allocations of orders 0-3 (some __GFP_ZERO,
//                 some atomic, some reclaimable), rarely a sensitive one.
//   user-heavy    mostly order-0 GFP_USER / GFP_HIGHUSER_MOVABLE for processes 1-4, with
//                 frees; a few nonsensitive kernel allocations.
// An operation is one allocation attempt or one free. A failed allocation frees a random
// live block (memory pressure relief), counted as its own operation.
#pragma once
#include <stdint.h>

#include "../mm/page_alloc/gfp.h"
#include "live_table.h"
#include "prng.h"

namespace workload {

using page_alloc::gfp_t;

enum class WorkloadKind : uint8_t { kMixed, kFlipStorm, kKernelHeavy, kUserHeavy };

constexpr const char* kWorkloadNames[] = {"mixed", "flip-storm", "kernel-heavy", "user-heavy"};
constexpr uint32_t kNrWorkloads = 4;
constexpr WorkloadKind kDefaultWorkload = WorkloadKind::kMixed;

constexpr const char* workload_name(WorkloadKind k) {
    return kWorkloadNames[static_cast<uint32_t>(k)];
}

constexpr bool parse_workload(const char* name, WorkloadKind* out) {
    for (uint32_t i = 0; i < kNrWorkloads; ++i) {
        const char* a = name;
        const char* b = kWorkloadNames[i];
        while (*a != '\0' && *a == *b) ++a, ++b;
        if (*a == *b) {
            *out = static_cast<WorkloadKind>(i);
            return true;
        }
    }
    return false;
}

struct WorkloadParams {
    uint64_t ops = 20000;
    uint64_t seed = 1;
    uint32_t deferred_every = 64;  // 0: only at the end
};

struct WorkloadSummary {
    uint64_t ops = 0;
    uint64_t allocs = 0;
    uint64_t frees = 0;
    uint64_t failures = 0;
    uint64_t sensitive_allocs = 0;
    uint64_t allocated_pages = 0;
    uint64_t peak_live_pages = 0;
    uint64_t phases = 0;         // flip-storm
    uint64_t deferred_runs = 0;  // run_deferred_work() calls
    uint64_t digest = 0;         // hash of every outcome, for determinism checks
};

// Callbacks around each allocation and free. The guest's on_alloc writes a secret pattern
// into sensitive pages so that the oracle's residue rule has something to find. A Hooks
// type may also have `void between_ops()`, called before every operation (the guest enters
// the restricted address space there: kernel code runs mostly restricted).
struct NoHooks {
    void on_alloc(uint64_t, uint32_t, gfp_t, uint64_t) {}
    void on_free(uint64_t, uint32_t, gfp_t) {}
};

// What a workload needs from an allocator (PageAllocator<Arch> models it).
template <class A>
concept WorkloadAllocator = requires(A& a, uint32_t cpu, uint32_t order, gfp_t gfp,
                                     uint64_t owner, uint64_t pa) {
    a.alloc_pages(cpu, order, gfp, owner);
    a.free_pages(cpu, pa, order);
    a.run_deferred_work();
    a.nr_free_pages();
    a.cpus();
    A::kAllocFailed;
};

namespace detail {

constexpr uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

// A request: order, gfp and owner.
struct Request {
    uint32_t order;
    gfp_t gfp;
    uint64_t owner;
};

// Orders 0-3 weighted 50/25/15/10.
inline uint32_t small_order(Prng& rng) {
    uint32_t r = rng.below(100);
    return r < 50 ? 0 : r < 75 ? 1 : r < 90 ? 2 : 3;
}

inline Request kernel_request(Prng& rng) {
    using namespace page_alloc;
    uint32_t r = rng.below(100);
    gfp_t gfp = r < 10 ? GFP_ATOMIC : r < 25 ? (GFP_KERNEL | kGfpReclaimable)
              : r < 35 ? (GFP_KERNEL | kGfpZero) : GFP_KERNEL;
    return {small_order(rng), gfp, 0};
}

inline Request user_request(Prng& rng, uint32_t order) {
    using namespace page_alloc;
    uint32_t r = rng.below(100);
    gfp_t gfp = r < 3 ? (GFP_ATOMIC | kGfpSensitive) : r < 60 ? GFP_HIGHUSER_MOVABLE : GFP_USER;
    return {order, gfp, 1 + rng.below(4)};
}

template <class Alloc, class Hooks, uint32_t N>
class Runner {
public:
    Runner(Alloc& alloc, Hooks& hooks, LiveTable<N>& live, const WorkloadParams& p)
        : alloc_(alloc), hooks_(hooks), live_(live), params_(p), rng_(p.seed) {
        s_.digest = p.seed;
    }

    bool done() const { return s_.ops >= params_.ops; }
    Prng& rng() { return rng_; }
    LiveTable<N>& live() { return live_; }
    WorkloadSummary& summary() { return s_; }

    // One allocation attempt; on failure, frees a random live block as the next operation.
    bool alloc(const Request& r) {
        tick();
        const uint32_t cpu = rng_.below(alloc_.cpus());
        if (live_.full()) return free_random();
        const uint64_t pa = alloc_.alloc_pages(cpu, r.order, r.gfp, r.owner);
        if (pa == Alloc::kAllocFailed) {
            ++s_.failures;
            s_.digest = mix(s_.digest, 0xfa11u ^ r.order);
            if (!live_.empty() && !done()) {
                tick();
                free_random();
            }
            return false;
        }
        live_.add({pa, r.gfp, r.order, cpu});
        ++s_.allocs;
        s_.allocated_pages += 1ull << r.order;
        if (r.gfp & page_alloc::kGfpSensitive) ++s_.sensitive_allocs;
        if (live_.pages() > s_.peak_live_pages) s_.peak_live_pages = live_.pages();
        s_.digest = mix(s_.digest, pa ^ (static_cast<uint64_t>(r.order) << 56));
        hooks_.on_alloc(pa, r.order, r.gfp, r.owner);
        return true;
    }

    bool free_random() {
        if (live_.empty()) return false;
        free_at(rng_.below(live_.size()));
        return true;
    }

    void free_at(uint32_t i) {
        LiveBlock b = live_.remove_at(i);
        hooks_.on_free(b.pa, b.order, b.gfp);
        alloc_.free_pages(rng_.below(alloc_.cpus()), b.pa, b.order);
        ++s_.frees;
        s_.digest = mix(s_.digest, b.pa);
    }

    void free_all() {
        while (!live_.empty()) free_at(live_.size() - 1);
    }

    void tick() {
        if constexpr (requires(Hooks& h) { h.between_ops(); }) hooks_.between_ops();
        ++s_.ops;
        if (params_.deferred_every != 0 && s_.ops % params_.deferred_every == 0) deferred();
    }

    void deferred() {
        alloc_.run_deferred_work();
        ++s_.deferred_runs;
    }

    WorkloadSummary finish() {
        free_all();
        deferred();
        return s_;
    }

private:
    Alloc& alloc_;
    Hooks& hooks_;
    LiveTable<N>& live_;
    WorkloadParams params_;
    Prng rng_;
    WorkloadSummary s_;
};

}  // namespace detail

template <class Alloc, class Hooks, uint32_t N>
    requires WorkloadAllocator<Alloc>
WorkloadSummary run_workload(Alloc& alloc, WorkloadKind kind, const WorkloadParams& params,
                             LiveTable<N>& live, Hooks& hooks) {
    using namespace page_alloc;
    using detail::Request;
    detail::Runner<Alloc, Hooks, N> run(alloc, hooks, live, params);
    Prng& rng = run.rng();
    live.clear();
    switch (kind) {
        case WorkloadKind::kMixed:
            while (!run.done()) {
                if (live.empty() || (!live.full() && rng.chance(55))) {
                    if (rng.chance(50)) run.alloc(detail::user_request(rng, detail::small_order(rng)));
                    else run.alloc(detail::kernel_request(rng));
                } else {
                    run.tick();
                    run.free_random();
                }
            }
            break;
        case WorkloadKind::kFlipStorm: {
            bool sensitive = true;
            while (!run.done()) {
                ++run.summary().phases;
                const uint64_t target_floor = kPageblockPages;
                uint64_t target = alloc.nr_free_pages() * 6 / 10;
                if (target < target_floor) target = target_floor;
                uint64_t got = 0;
                while (!run.done() && got < target && !live.full()) {
                    const uint32_t order = 2 + rng.below(2);
                    const Request r = sensitive ? Request{order, GFP_USER, 1 + rng.below(4)}
                                                : Request{order, GFP_KERNEL, 0};
                    if (run.alloc(r)) got += 1ull << order;
                    else break;
                }
                while (!live.empty() && !run.done()) {
                    run.tick();
                    run.free_at(live.size() - 1);
                }
                sensitive = !sensitive;
            }
            break;
        }
        case WorkloadKind::kKernelHeavy:
            while (!run.done()) {
                if (live.empty() || (!live.full() && rng.chance(55))) {
                    if (rng.chance(3)) run.alloc(detail::user_request(rng, detail::small_order(rng)));
                    else run.alloc(detail::kernel_request(rng));
                } else {
                    run.tick();
                    run.free_random();
                }
            }
            break;
        case WorkloadKind::kUserHeavy:
            while (!run.done()) {
                if (live.empty() || (!live.full() && rng.chance(55))) {
                    if (rng.chance(90)) run.alloc(detail::user_request(rng, 0));
                    else run.alloc(Request{rng.below(2), GFP_KERNEL, 0});
                } else {
                    run.tick();
                    run.free_random();
                }
            }
            break;
    }
    return run.finish();
}

template <class Alloc, uint32_t N>
    requires WorkloadAllocator<Alloc>
WorkloadSummary run_workload(Alloc& alloc, WorkloadKind kind, const WorkloadParams& params,
                             LiveTable<N>& live) {
    NoHooks hooks;
    return run_workload(alloc, kind, params, live, hooks);
}

}  // namespace workload
