#include "mm/tlb_shootdown.h"

#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/irq.h"
#include "kernel/panic.h"
#include "kernel/smp.h"
#include "mm/asi/fault_injection.h"
#include "mm/tlb.h"

namespace mm::tlb {
namespace {

enum class Kind : uint64_t {
    kRange = 1,     // [va, va + pages)
    kWhole = 2,     // the whole PCID (a pending flush is as good)
    kWholeNow = 3,  // the whole PCID now: a page-table frame is about to be freed
};

// Who must act now (the rest flushes at its next load of the space, through the generation).
enum class Reach : uint8_t {
    kEveryCpu,        // every other online CPU
    kInsideAsi,       // the RFC's rule: only CPUs that may use the restricted PCID
    kBugSkipInside,   // asi.bug=shootdown-skip-inside: nobody
    kBugSkipOutside,  // asi.bug=shootdown-skip-outside: inside as usual; outside marked done
};

// The last kRing requests per space. A seqlock per slot: the tag (the request's generation)
// is cleared, the fields written, then the tag set with release; a reader that finds the
// same tag before and after reading the fields has a consistent copy. A request a CPU cannot
// read back (overwritten, or not yet written by its initiator) counts as "whole PCID now".
constexpr uint32_t kRing = 16;
struct Slot {
    uint64_t tag;
    uint64_t kind;
    uint64_t va;
    uint64_t pages;
};
constinit Slot g_ring[kSpaces][kRing]{};

struct Request {
    Kind kind;
    uint64_t va;
    uint64_t pages;
};

uint32_t idx(Space s) { return static_cast<uint32_t>(s); }
bool exists(Space s) { return root(s) != 0; }  // the restricted space only with ASI on

void publish(Space s, uint64_t gen, const Request& r) {
    Slot& slot = g_ring[idx(s)][gen % kRing];
    __atomic_store_n(&slot.tag, 0, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&slot.kind, static_cast<uint64_t>(r.kind), __ATOMIC_RELAXED);
    __atomic_store_n(&slot.va, r.va, __ATOMIC_RELAXED);
    __atomic_store_n(&slot.pages, r.pages, __ATOMIC_RELAXED);
    __atomic_store_n(&slot.tag, gen, __ATOMIC_RELEASE);
}

bool read_back(Space s, uint64_t gen, Request* out) {
    const Slot& slot = g_ring[idx(s)][gen % kRing];
    if (__atomic_load_n(&slot.tag, __ATOMIC_ACQUIRE) != gen) return false;
    out->kind = static_cast<Kind>(__atomic_load_n(&slot.kind, __ATOMIC_RELAXED));
    out->va = __atomic_load_n(&slot.va, __ATOMIC_RELAXED);
    out->pages = __atomic_load_n(&slot.pages, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(&slot.tag, __ATOMIC_RELAXED) == gen;
}

// Brings this CPU's PCID for s up to the current generation (interrupts off). Returns
// whether anything was flushed or marked pending.
bool catch_up(Space s) {
    if (!exists(s)) return false;
    const uint32_t cpu = smp::this_cpu();
    const uint64_t target = generation(s);
    const uint64_t done = flushed_generation(cpu, s);
    if (done >= target) return false;
    Request missed[kRing];
    uint32_t n = 0;
    uint64_t pages = 0;
    bool whole = false, now = target - done > kRing;
    for (uint64_t gen = done + 1; gen <= target && !now; ++gen) {
        Request r;
        if (!read_back(s, gen, &r) || r.kind == Kind::kWholeNow) now = true;
        else if (r.kind == Kind::kWhole) whole = true;
        else {
            missed[n++] = r;
            pages += r.pages;
        }
    }
    if (now) flush_all_now(s);
    else if (whole || pages > kSinglePageFlushCeiling) flush_whole(s);
    else
        for (uint32_t i = 0; i < n; ++i) flush_range(s, missed[i].va, missed[i].pages);
    note_flushed(cpu, s, target);
    return true;
}

void on_shootdown_ipi(const x86::TrapFrame&) {
    Counters& c = mutable_counters();
    ++c.ipis_received;
    bool flushed = false;
    for (uint32_t s = 0; s < kSpaces; ++s) flushed |= catch_up(static_cast<Space>(s));
    if (flushed) ++c.remote_flushes;
    x86::apic::eoi();
}

// Publishes `r` for every space in `spaces` (bit per Space), flushes here, then makes the
// other CPUs act according to `reach` and waits for those it interrupted.
void shootdown(uint32_t spaces, const Request& r, Reach reach) {
    smp::assert_may_wait();
    const uint64_t flags = x86::irq_save();
    const uint32_t me = smp::this_cpu();
    uint64_t gen[kSpaces] = {};
    for (uint32_t s = 0; s < kSpaces; ++s) {
        if (!(spaces & (1u << s)) || !exists(static_cast<Space>(s))) continue;
        // The entries were changed before this locked RMW (a full barrier): a CPU that reads
        // the new generation and then flushes cannot refill from the old entries.
        gen[s] = bump_generation(static_cast<Space>(s));
        publish(static_cast<Space>(s), gen[s], r);
    }
    for (uint32_t s = 0; s < kSpaces; ++s)
        if (gen[s] != 0) catch_up(static_cast<Space>(s));

    Counters& c = mutable_counters();
    uint64_t waiting = 0;
    const uint64_t others = smp::online_mask() & ~smp::cpu_bit(me);
    for (uint32_t cpu = 0; cpu < smp::kMaxCpus; ++cpu) {
        if (!(others & smp::cpu_bit(cpu))) continue;
        // Read after the generation bump (see load() in mm/tlb.cpp for the pairing).
        const bool inside = may_use_restricted(cpu);
        bool ipi = true;
        switch (reach) {
            case Reach::kEveryCpu: break;
            case Reach::kInsideAsi:
                if (!inside) {
                    ipi = false;  // flushes at its next asi_enter: the generation moved
                    ++c.ipis_avoided;
                }
                break;
            case Reach::kBugSkipInside:
                ipi = false;  // the mistake: a CPU inside ASI keeps its stale entries
                if (!inside) ++c.ipis_avoided;
                break;
            case Reach::kBugSkipOutside:
                if (!inside) {
                    ipi = false;
                    // The mistake: the CPU is recorded as having flushed, so its next entry
                    // loads the restricted CR3 without a flush.
                    note_flushed(cpu, Space::kRestricted, gen[idx(Space::kRestricted)]);
                }
                break;
        }
        if (!ipi) continue;
        x86::apic::send_ipi(cpu, x86::apic::kShootdownVector);
        ++c.ipis_sent;
        waiting |= smp::cpu_bit(cpu);
    }
    while (waiting != 0) {
        for (uint32_t cpu = 0; cpu < smp::kMaxCpus; ++cpu) {
            if (!(waiting & smp::cpu_bit(cpu))) continue;
            bool done = true;
            for (uint32_t s = 0; s < kSpaces; ++s)
                if (gen[s] != 0 && flushed_generation(cpu, static_cast<Space>(s)) < gen[s]) done = false;
            if (done) waiting &= ~smp::cpu_bit(cpu);
        }
        if (waiting != 0) smp::wait_relax();  // answers IPIs meanwhile (sti; pause; cli)
    }
    x86::irq_restore(flags);
}

constexpr uint32_t bit(Space s) { return 1u << static_cast<uint32_t>(s); }

}  // namespace

void shootdown_init() { x86::irq::set_handler(x86::apic::kShootdownVector, on_shootdown_ipi); }

void flush_restricted_all_cpus(uint64_t va, uint64_t pages) {
    if (pages == 0) return;
    if (asi::bug(asi::Bug::kShootdownLocalOnly)) {
        // The mistake: this CPU only; no IPI, and the generation does not move, so no other
        // CPU ever learns of the change.
        flush_range(Space::kRestricted, va, pages);
        return;
    }
    const Reach reach = asi::bug(asi::Bug::kShootdownSkipInside)    ? Reach::kBugSkipInside
                        : asi::bug(asi::Bug::kShootdownSkipOutside) ? Reach::kBugSkipOutside
                                                                    : Reach::kInsideAsi;
    shootdown(bit(Space::kRestricted), Request{Kind::kRange, va, pages}, reach);
}

void flush_kernel_range_all_cpus(uint64_t va, uint64_t pages) {
    if (pages == 0) return;
    shootdown(bit(Space::kUnrestricted) | bit(Space::kRestricted), Request{Kind::kRange, va, pages},
              Reach::kEveryCpu);
}

void flush_all_now_all_cpus() {
    shootdown(bit(Space::kUnrestricted) | bit(Space::kRestricted), Request{Kind::kWholeNow, 0, 0},
              Reach::kEveryCpu);
}

}  // namespace mm::tlb
