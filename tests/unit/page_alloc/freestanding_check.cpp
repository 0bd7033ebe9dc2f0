// Proves the page allocator core and the workloads are freestanding: this translation unit
// instantiates everything with a stub Arch and is compiled with the guest's constraints
// (no hosted headers, no exceptions, no RTTI, no red zone, no FP/SIMD registers, -Werror).
// Built by the page_alloc_freestanding target and the page_alloc_freestanding ctest.
#include "guest_kernel/mm/page_alloc/page_allocator.h"
#include "guest_kernel/mm/page_alloc/policies.h"
#include "guest_kernel/workload/workload.h"

namespace {

struct StubArch {
    [[noreturn]] void panic(const char*, int, const char*) { __builtin_trap(); }
    uint64_t now() { return ++clock; }
    void zone_lock() {}
    void zone_unlock() {}
    void pcp_lock(uint32_t) {}
    void pcp_unlock(uint32_t) {}
    void zero_pages(uint64_t, uint64_t) {}
    void map_restricted_pageblock(uint64_t) {}
    void unmap_restricted_pageblock(uint64_t) {}
    void map_restricted_pages(uint64_t, uint64_t) {}
    void unmap_restricted_pages(uint64_t, uint64_t) {}
    void flush_restricted_tlb_all_cpus(uint64_t, uint64_t) {}
    bool is_mapped_restricted(uint64_t) { return false; }
    bool restricted_mapping_all(uint64_t, uint64_t, bool mapped) { return !mapped; }
    void bad_page(uint64_t, const char*) {}
    void trace(uint32_t, uint64_t, uint64_t, uint64_t, uint64_t) {}
    uint64_t restricted_pcid() { return 1; }
    uint64_t clock = 0;
};

StubArch arch;
page_alloc::PolicySet<StubArch> policies;
page_alloc::PageAllocator<StubArch> allocator;
page_alloc::Page pages[2048];
workload::LiveTable<256> live;

}  // namespace

extern "C" uint64_t page_alloc_freestanding_check(const char* policy, const char* wl) {
    const page_alloc::PhysRange ranges[] = {{0x100000, 0x700000}};
    page_alloc::AllocatorConfig<StubArch> cfg;
    cfg.pages = pages;
    cfg.span = page_alloc::zone_span_for(ranges, 1);
    cfg.ranges = ranges;
    cfg.range_count = 1;
    cfg.cpus = 2;
    cfg.policy = policies.by_name(policy);
    allocator.init(arch, cfg);
    workload::WorkloadKind kind = workload::kDefaultWorkload;
    workload::parse_workload(wl, &kind);
    workload::WorkloadParams params;
    params.ops = 100;
    workload::WorkloadSummary s = workload::run_workload(allocator, kind, params, live);
    allocator.verify();
    return s.digest ^ allocator.metrics().alloc_cost.p99();
}
