// The Arch policy: every machine effect the page allocator has, as one template parameter,
// so that the same core runs in the guest (real page tables, INVPCID, IPIs, rdtsc, the
// tracepoint port) and in host tests (a fake that records every call and models which CPU
// may cache which restricted translation), as Hedron does with its page-table code.
//
// An Arch is an object with these members (checked by the PageAllocArch concept):
//
//   void panic(const char* file, int line, const char* what)
//       A broken invariant. Must not return in the guest (host fakes may throw).
//   uint64_t now()
//       A monotonic cost clock (rdtsc in the guest, derived from the instruction count by
//       asi-emu; any deterministic counter in tests). Only differences are used.
//   void zone_lock(), zone_unlock()
//       The zone lock (a spinlock with interrupts off in the guest). Held around every free
//       list operation, never around a machine effect below: the series drops it before
//       zeroing, (un)mapping and flushing, because a TLB shootdown waits for other CPUs.
//   void pcp_lock(uint32_t cpu), pcp_unlock(uint32_t cpu)
//       Protects CPU `cpu`'s per-CPU page lists (Linux: pcp->lock). Lock order: a pcp lock
//       may be held when taking the zone lock, never the other way round.
//   void zero_pages(uint64_t pa, uint64_t count)
//       Zero `count` 4 KiB frames from physical address `pa` (through the unrestricted
//       direct map).
//   void map_restricted_pageblock(uint64_t pa), unmap_restricted_pageblock(uint64_t pa)
//       Set / clear _PAGE_PRESENT of the restricted direct map's 2 MiB entry for the
//       pageblock at `pa` (2 MiB aligned). The tables are preallocated down to that level,
//       so neither call allocates (DESIGN 3, series "preallocate ... down to PMD"). A
//       non-present entry keeps an inverted frame number (L1TF) unless the guest says not.
//   void map_restricted_pages(uint64_t pa, uint64_t count),
//   void unmap_restricted_pages(uint64_t pa, uint64_t count)
//       The same at 4 KiB granularity (only the rfc policy uses them).
//   void flush_restricted_tlb_all_cpus(uint64_t pa, uint64_t count)
//       Invalidate, on every CPU that may cache them, the restricted PCID's translations of
//       the direct-map addresses of [pa, pa + count * 4 KiB), and return only when that is
//       done (Linux: flush_tlb_kernel_range() on the restricted address space). Which CPUs
//       get an IPI and which flush at their next asi_enter is the Arch's business (2022
//       RFC: generation counter per ASI); the allocator only needs the guarantee.
//   bool is_mapped_restricted(uint64_t pa)
//       Whether the restricted direct map currently maps the frame (a page-table walk).
//   bool restricted_mapping_all(uint64_t pa, uint64_t count, bool mapped)
//       Whether is_mapped_restricted() is `mapped` for every frame of [pa, pa + count * 4 KiB):
//       page_asi_mapping_bad()'s common case, which an Arch can answer from one PD entry per
//       whole pageblock instead of a walk per frame.
//   void bad_page(uint64_t pa, const char* reason)
//       page_asi_mapping_bad() fired (series "mm/asi: bad_page() when ASI mappings are
//       wrong"). The allocator counts it and carries on; the guest prints and fails the run.
//   void trace(uint32_t kind, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
//       Emit tracepoint `kind` (asi_abi::TraceKind) with its arguments.
//   uint64_t restricted_pcid()
//       The restricted address space's PCID, reported by the TLB-flush tracepoint.
#pragma once
#include <stdint.h>

namespace page_alloc {

template <class T, class U>
inline constexpr bool kIsSame = false;
template <class T>
inline constexpr bool kIsSame<T, T> = true;
template <class T, class U>
concept SameAs = kIsSame<T, U>;

template <class A>
concept PageAllocArch = requires(A& a, uint64_t pa, uint64_t n, uint32_t cpu, uint32_t kind,
                                 const char* text, int line) {
    a.panic(text, line, text);
    { a.now() } -> SameAs<uint64_t>;
    a.zone_lock();
    a.zone_unlock();
    a.pcp_lock(cpu);
    a.pcp_unlock(cpu);
    a.zero_pages(pa, n);
    a.map_restricted_pageblock(pa);
    a.unmap_restricted_pageblock(pa);
    a.map_restricted_pages(pa, n);
    a.unmap_restricted_pages(pa, n);
    a.flush_restricted_tlb_all_cpus(pa, n);
    { a.is_mapped_restricted(pa) } -> SameAs<bool>;
    { a.restricted_mapping_all(pa, n, true) } -> SameAs<bool>;
    a.bad_page(pa, text);
    a.trace(kind, pa, n, pa, n);
    { a.restricted_pcid() } -> SameAs<uint64_t>;
};

// Scoped zone lock.
template <class Arch>
class ZoneLockGuard {
public:
    explicit ZoneLockGuard(Arch& arch) : arch_(arch) { arch_.zone_lock(); }
    ~ZoneLockGuard() { arch_.zone_unlock(); }
    ZoneLockGuard(const ZoneLockGuard&) = delete;
    ZoneLockGuard& operator=(const ZoneLockGuard&) = delete;

private:
    Arch& arch_;
};

}  // namespace page_alloc
