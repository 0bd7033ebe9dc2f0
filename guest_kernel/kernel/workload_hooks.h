// What the kernel does around each workload operation (workload::run_workload's Hooks):
//   * before it: an interrupt window (kernel/smp.h: the tick and other CPUs' shootdown IPIs
//     are taken here, between operations, never inside one), then asi_enter() and
//     asi_relax() -- kernel code runs restricted, as ASI intends, and leaves only when it
//     must;
//   * after an allocation: a sensitive block gets a secret pattern written into every page
//     through the direct map (while restricted this takes ASI's #PF exit and is retried);
//     a nonsensitive block is read while restricted (it must be mapped there); one kernel
//     page in kSealEvery is sealed read-only (set_memory_ro, which splits the 2 MiB direct
//     mapping) for its lifetime;
//   * before a free: a sealed page is made writable again (which may collapse the split).
// One instance per CPU (kernel/workload_run.cpp): the sealed list is that CPU's own, and
// only set_memory (which has its own lock) is shared.
#pragma once
#include <stdint.h>

#include "mm/page_alloc/gfp.h"

namespace kernel_workload {

struct HookStats {
    uint64_t secret_pages = 0;  // pages that got a secret pattern
    uint64_t public_pages = 0;  // pages that got a public (non-secret) pattern
    uint64_t read_pages = 0;    // nonsensitive pages read while restricted
    uint64_t sealed = 0;
};

class GuestHooks {
public:
    static constexpr uint32_t kSealEvery = 64;
    static constexpr uint32_t kMaxSealed = 32;

    void between_ops();
    void on_alloc(uint64_t pa, uint32_t order, page_alloc::gfp_t gfp, uint64_t owner);
    void on_free(uint64_t pa, uint32_t order, page_alloc::gfp_t gfp);

    // The same effects on demand (the warm-up uses them).
    void write_secret(uint64_t pa, uint32_t order);
    void write_public(uint64_t pa, uint32_t order);
    void read_pages(uint64_t pa, uint32_t order);
    bool seal(uint64_t pa);
    void unseal_if_sealed(uint64_t pa);

    const HookStats& stats() const { return stats_; }

private:
    // key ^ (page + word) into the first words of each page of the block.
    static void fill(uint64_t pa, uint32_t order, uint64_t key);

    HookStats stats_;
    uint64_t kernel_pages_ = 0;
    uint64_t sink_ = 0;
    uint64_t sealed_[kMaxSealed] = {};
    uint32_t sealed_count_ = 0;
};

}  // namespace kernel_workload
