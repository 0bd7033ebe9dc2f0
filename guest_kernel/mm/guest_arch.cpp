#include "mm/guest_arch.h"

#include "arch/x86/cpu.h"
#include "drivers/tracepoint.h"
#include "kernel/panic.h"
#include "lib/printf.h"
#include "mm/asi/asi.h"
#include "mm/asi/fault_injection.h"
#include "mm/asi/restricted_map.h"
#include "mm/page_alloc/page_allocator.h"
#include "mm/phys.h"
#include "mm/pte.h"
#include "mm/tlb.h"
#include "mm/tlb_shootdown.h"

namespace mm {

void GuestArch::panic(const char* file, int line, const char* what) {
    ::panic("page allocator: %s at %s:%d", what, file, line);
}

uint64_t GuestArch::now() { return x86::rdtsc(); }

// Lock order (arch.h): a pcp lock may be held when taking the zone lock, never the reverse.
// The owner fields are written only by the CPU holding the lock, and a CPU compares them
// with its own id: another CPU's value can only be "not me".
void GuestArch::zone_lock() {
    const uint32_t me = x86::percpu::cpu_id();
    if (__atomic_load_n(&zone_owner_, __ATOMIC_RELAXED) == me) panic(__FILE__, __LINE__, "zone lock taken twice");
    const uint64_t flags = zone_lock_.lock_irqsave();
    zone_owner_ = me;
    zone_flags_ = flags;
}
void GuestArch::zone_unlock() {
    if (zone_owner_ != x86::percpu::cpu_id()) panic(__FILE__, __LINE__, "zone lock released while not held");
    const uint64_t flags = zone_flags_;
    __atomic_store_n(&zone_owner_, kNoOwner, __ATOMIC_RELAXED);
    zone_lock_.unlock_irqrestore(flags);
}
// pcp_owner_[cpu] holds the owner's id + 1 (0: free), so that the array can start zeroed.
void GuestArch::pcp_lock(uint32_t cpu) {
    const uint32_t me = x86::percpu::cpu_id();
    if (cpu >= x86::percpu::kMaxCpus || __atomic_load_n(&zone_owner_, __ATOMIC_RELAXED) == me ||
        __atomic_load_n(&pcp_owner_[cpu], __ATOMIC_RELAXED) == me + 1)
        panic(__FILE__, __LINE__, "pcp lock: bad CPU, taken twice or under the zone lock");
    const uint64_t flags = pcp_lock_[cpu].lock_irqsave();
    pcp_owner_[cpu] = me + 1;
    pcp_flags_[cpu] = flags;
}
void GuestArch::pcp_unlock(uint32_t cpu) {
    if (cpu >= x86::percpu::kMaxCpus || pcp_owner_[cpu] != x86::percpu::cpu_id() + 1)
        panic(__FILE__, __LINE__, "pcp lock released while not held");
    const uint64_t flags = pcp_flags_[cpu];
    __atomic_store_n(&pcp_owner_[cpu], 0u, __ATOMIC_RELAXED);
    pcp_lock_[cpu].unlock_irqrestore(flags);
}

void GuestArch::zero_pages(uint64_t pa, uint64_t count) {
    if (asi::bug(asi::Bug::kMapBeforeZero) && allocator_ != nullptr && !asi::rmap::is_mapped(pa)) {
        // The mistake: frames about to become nonsensitive get their restricted mapping
        // before they are zeroed. freetype: a pageblock changing to nonsensitive (its frames
        // are free); rfc: the frames of a nonsensitive allocation (mapped at its end).
        using page_alloc::PageState;
        const page_alloc::BuddyZone<GuestArch>& zone = allocator_->zone();
        uint64_t head = pa >> 12;
        while (zone.page(head).state() == PageState::kAllocTail) --head;
        const PageState s = zone.page(head).state();
        if (allocator_->policy().splits_by_sensitivity()) {
            if (s != PageState::kAllocHead) map_restricted_pageblock(pa & ~(pte::k2M - 1));
        } else if (s == PageState::kAllocHead && !(zone.page(head).gfp & page_alloc::kGfpSensitive)) {
            map_restricted_pages(pa, count);
        }
    }
    void* dst = phys_to_virt(pa);
    uint64_t qwords = count * (pte::k4K / 8);
    __asm__ volatile("rep stosq" : "+D"(dst), "+c"(qwords) : "a"(0ull) : "memory");
}

void GuestArch::map_restricted_pageblock(uint64_t pa) { asi::rmap::map_pageblock(pa); }
void GuestArch::unmap_restricted_pageblock(uint64_t pa) { asi::rmap::unmap_pageblock(pa); }
void GuestArch::map_restricted_pages(uint64_t pa, uint64_t count) { asi::rmap::map_pages(pa, count); }
void GuestArch::unmap_restricted_pages(uint64_t pa, uint64_t count) { asi::rmap::unmap_pages(pa, count); }

void GuestArch::flush_restricted_tlb_all_cpus(uint64_t pa, uint64_t count) {
    using tlb::Space;
    const uint64_t va = direct_map_va(pa);
    if (asi::bug(asi::Bug::kUnmapNoFlush)) return;  // the mistake: no flush at all
    if (asi::bug(asi::Bug::kFlushWrongPcid)) {
        // The mistake: "flush the kernel range" from the unrestricted space. INVLPG only
        // reaches the current PCID (SDM vol. 3A 4.10.4.1), so PCID 2 keeps its entries.
        if (asi::in_restricted()) asi::exit(asi::ExitReason::kTlbFlush);
        for (uint64_t i = 0; i < count; ++i) x86::invlpg(va + i * pte::k4K);
        return;
    }
    // Without INVPCID only a CR3 reload reaches the restricted PCID while it is loaded: leave
    // ASI instead; the local part of the shootdown then marks the flush pending.
    if (asi::in_restricted() && !tlb::invpcid_enabled() && count > tlb::kSinglePageFlushCeiling)
        asi::exit(asi::ExitReason::kTlbFlush);
    tlb::flush_restricted_all_cpus(va, count);
}

bool GuestArch::is_mapped_restricted(uint64_t pa) { return asi::rmap::built() && asi::rmap::is_mapped(pa); }

bool GuestArch::restricted_mapping_all(uint64_t pa, uint64_t count, bool mapped) {
    return asi::rmap::built() ? asi::rmap::all_mapped_as(pa, count, mapped) : !mapped;
}

void GuestArch::bad_page(uint64_t pa, const char* reason) {
    __atomic_fetch_add(&bad_pages_, 1, __ATOMIC_RELAXED);
    kprintf("BUG: Bad page state: pfn %#lx: %s\n", pa >> 12, reason);
}

void GuestArch::trace(uint32_t kind, uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
    tracepoint::emit(static_cast<asi_abi::TraceKind>(kind), a, b, c, d);
}

uint64_t GuestArch::restricted_pcid() { return tlb::pcid(tlb::Space::kRestricted); }

}  // namespace mm
