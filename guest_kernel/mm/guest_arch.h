// The page allocator core's Arch policy in the guest (mm/page_alloc/arch.h has the
// contract): real page tables, real TLB invalidation, rdtsc, the tracepoint port.
//
//   zero_pages            rep stosq through the direct map. While restricted, zeroing a
//                         frame of a sensitive pageblock takes ASI's #PF exit and retries.
//   map/unmap_restricted  flip _PAGE_PRESENT of the restricted direct map's 2 MiB (or, for
//                         rfc, 4 KiB) entries; not present keeps an inverted frame number
//                         (L1TF) unless asi.l1tf_invert=off (mm/asi/restricted_map.h).
//   flush_restricted...   a TLB shootdown of the restricted PCID (mm/tlb_shootdown.h): here
//                         INVPCID type 0 per page up to Linux's single-page ceiling, else
//                         type 1; without INVPCID a CR3 reload if restricted, or a pending
//                         flush done by the next asi_enter (mm/tlb.h); an IPI to every other
//                         CPU inside ASI, whose handler does the same and acknowledges; the
//                         CPUs outside ASI flush at their next asi_enter (2022 RFC). A CPU
//                         inside ASI that would need a whole-PCID flush without INVPCID
//                         leaves ASI instead (exit reason "TLB flush") and flushes at its
//                         next entry, as the RFC does for CPUs outside ASI.
//   locks                 spinlocks (lib/spinlock.h), interrupts off while held. The core
//                         never holds one around a machine effect that waits for other
//                         CPUs. Lock order, checked per CPU: a pcp lock may be held when
//                         taking the zone lock, never the reverse, and no lock twice.
// asi.bug= mistakes (mm/asi/fault_injection.h) are committed here and in set_memory.cpp.
#pragma once
#include <stdint.h>

#include "arch/x86/percpu.h"
#include "lib/spinlock.h"

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
    bool restricted_mapping_all(uint64_t pa, uint64_t count, bool mapped);
    void bad_page(uint64_t pa, const char* reason);
    void trace(uint32_t kind, uint64_t a, uint64_t b, uint64_t c, uint64_t d);
    uint64_t restricted_pcid();

    // The allocator this Arch serves (asi.bug=map-before-zero needs its page states).
    void attach(page_alloc::PageAllocator<GuestArch>* allocator) { allocator_ = allocator; }
    uint64_t bad_pages() const { return bad_pages_; }

private:
    static constexpr uint32_t kNoOwner = ~0u;

    page_alloc::PageAllocator<GuestArch>* allocator_ = nullptr;
    SpinLock zone_lock_;
    uint32_t zone_owner_ = kNoOwner;  // the CPU holding zone_lock_ (for the order checks)
    uint64_t zone_flags_ = 0;         // its RFLAGS from before the lock
    SpinLock pcp_lock_[x86::percpu::kMaxCpus];
    uint32_t pcp_owner_[x86::percpu::kMaxCpus] = {};  // kNoOwner + 1 stored as 0: see pcp_lock
    uint64_t pcp_flags_[x86::percpu::kMaxCpus] = {};
    uint64_t bad_pages_ = 0;
};

}  // namespace mm
