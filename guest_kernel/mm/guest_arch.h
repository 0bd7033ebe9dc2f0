// The page allocator core's Arch policy in the guest (mm/page_alloc/arch.h has the
// contract): real page tables, real TLB invalidation, rdtsc, the tracepoint port.
//
//   zero_pages            rep stosq through the direct map. While restricted, zeroing a
//                         frame of a sensitive pageblock takes ASI's #PF exit and retries.
//   map/unmap_restricted  flip _PAGE_PRESENT of the restricted direct map's 2 MiB (or, for
//                         rfc, 4 KiB) entries; not present keeps an inverted frame number
//                         (L1TF) unless asi.l1tf_invert=off (mm/asi/restricted_map.h).
//   flush_restricted...   one CPU: the restricted PCID's translations of the range, by
//                         INVPCID type 0 per page up to Linux's single-page ceiling, else
//                         type 1; without INVPCID a CR3 reload if restricted, or a pending
//                         flush done by the next asi_enter (mm/tlb.h). A CPU inside ASI
//                         that would need a whole-PCID flush without INVPCID leaves ASI
//                         instead (exit reason "TLB flush") and flushes at its next entry,
//                         as the 2022 RFC does for CPUs outside ASI.
//   locks                 one CPU with interrupts off: a lock can never be contended, so
//                         the calls only check the core's locking discipline.
// asi.bug= mistakes (mm/asi/fault_injection.h) are committed here and in set_memory.cpp.
#pragma once
#include <stdint.h>

namespace page_alloc {
template <class Arch>
class PageAllocator;
}

namespace mm {

class GuestArch {
public:
    [[noreturn]] void panic(const char* file, int line, const char* what);
    uint64_t now();
    void zone_lock();
    void zone_unlock();
    void pcp_lock(uint32_t cpu);
    void pcp_unlock(uint32_t cpu);
    void zero_pages(uint64_t pa, uint64_t count);
    void map_restricted_pageblock(uint64_t pa);
    void unmap_restricted_pageblock(uint64_t pa);
    void map_restricted_pages(uint64_t pa, uint64_t count);
    void unmap_restricted_pages(uint64_t pa, uint64_t count);
    void flush_restricted_tlb_all_cpus(uint64_t pa, uint64_t count);
    bool is_mapped_restricted(uint64_t pa);
    void bad_page(uint64_t pa, const char* reason);
    void trace(uint32_t kind, uint64_t a, uint64_t b, uint64_t c, uint64_t d);
    uint64_t restricted_pcid();

    // The allocator this Arch serves (asi.bug=map-before-zero needs its page states).
    void attach(page_alloc::PageAllocator<GuestArch>* allocator) { allocator_ = allocator; }
    uint64_t bad_pages() const { return bad_pages_; }

private:
    page_alloc::PageAllocator<GuestArch>* allocator_ = nullptr;
    bool zone_locked_ = false;
    uint64_t pcp_locked_ = 0;  // bit per CPU
    uint64_t bad_pages_ = 0;
};

}  // namespace mm
