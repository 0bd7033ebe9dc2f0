// Cost and correctness counters kept by the allocator itself (DESIGN 1: TLB flushes,
// zeroed pages, pageblock flips; section 10: the RFC's admitted costs). The oracle
// measures flushes independently from the instruction stream; these are the allocator's
// own account, which tests compare against the fake Arch's record.
#pragma once
#include <stdint.h>

#include "histogram.h"

namespace page_alloc {

struct Metrics {
    // API boundary.
    uint64_t allocs = 0;                // successful allocations
    uint64_t allocated_pages = 0;
    uint64_t sensitive_allocs = 0;
    uint64_t frees = 0;
    uint64_t freed_pages = 0;
    uint64_t failures = 0;              // allocations that returned kAllocFailed
    uint64_t invalid_requests = 0;      // of which: bad order, gfp or cpu
    // Buddy internals.
    uint64_t fallback_allocs = 0;       // blocks taken from another migratetype
    uint64_t pageblocks_claimed = 0;    // pageblocks whose migratetype was changed by fallback
    uint64_t pcp_refills = 0;
    uint64_t pcp_drained_pages = 0;
    // ASI (series: sensitivity changes; rfc: map at allocation, deferred unmap).
    uint64_t flips_to_sensitive = 0;    // pageblocks changed nonsensitive -> sensitive
    uint64_t flips_to_nonsensitive = 0; // pageblocks changed sensitive -> nonsensitive
    uint64_t sensitivity_changes = 0;   // change operations (one per flip of >= 1 pageblock)
    uint64_t noblock_refusals = 0;      // ALLOC_NOBLOCK would have needed a change to sensitive
    uint64_t asi_zeroed_pages = 0;      // zeroed because they may hold secrets
    uint64_t gfp_zeroed_pages = 0;      // zeroed for __GFP_ZERO
    uint64_t tlb_flushes = 0;           // flush_restricted_tlb_all_cpus() calls
    uint64_t restricted_mapped_pages = 0;
    uint64_t restricted_unmapped_pages = 0;
    uint64_t deferred_queued_pages = 0; // rfc: freed while mapped, queued for the worker
    uint64_t deferred_batches = 0;      // rfc: worker runs that unmapped something
    uint64_t deferred_unmapped_pages = 0;
    uint64_t bad_pages = 0;             // page_asi_mapping_bad() hits
    // Cost in Arch::now() units.
    Histogram alloc_cost;
    Histogram free_cost;
};

// Counters may be bumped by several CPUs at once, some outside the zone lock.
inline void bump(uint64_t& counter, uint64_t n = 1) {
    __atomic_fetch_add(&counter, n, __ATOMIC_RELAXED);
}

}  // namespace page_alloc
