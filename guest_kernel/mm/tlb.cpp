#include "mm/tlb.h"

#include "arch/x86/cpu.h"
#include "arch/x86/percpu.h"
#include "kernel/panic.h"
#include "mm/pte.h"

namespace mm::tlb {
namespace {

// The same for every CPU, set by CPU 0 before the others start.
struct Global {
    bool pcid = false;
    bool invpcid = false;
    uint64_t roots[kSpaces] = {};
};
constinit Global g{};

// Flush requests issued so far, per space (mm/tlb_shootdown.cpp bumps them).
constinit uint64_t g_generation[kSpaces] = {};

struct Cpu {
    Space current = Space::kUnrestricted;  // what CR3 holds (this CPU's own view)
    uint8_t restricted_loaded = 0;         // published for initiators: may_use_restricted()
    bool pending[kSpaces] = {};
    uint64_t flushed_gen[kSpaces] = {};
    Counters counters;
};
constinit Cpu g_cpu[x86::percpu::kMaxCpus]{};

uint32_t idx(Space s) { return static_cast<uint32_t>(s); }
Cpu& me() { return g_cpu[x86::percpu::cpu_id()]; }

// MOV to CR3 loading space s; `force` clears bit 63 (with PCIDE), which invalidates the new
// PCID's non-global entries and paging-structure caches (SDM 4.10.4.1). Interrupts are off.
//
// Entering the restricted space follows the 2022 RFC's protocol against a concurrent
// initiator (mm/tlb_shootdown.cpp), a store-buffering pattern: this CPU stores "restricted
// loaded", then reads the generation; the initiator bumps the generation, then reads
// "restricted loaded". A full barrier on each side (here the XCHG of a sequentially
// consistent store; there the locked XADD) rules out that both read the old value (SDM
// vol. 3A 8.2.3.4 allows exactly that reordering without one). So either the initiator sees
// this CPU inside and sends it an IPI, or this load sees the new generation and flushes.
void load(Cpu& c, Space s, bool force) {
    const uint64_t root = g.roots[idx(s)];
    VERIFY(root != 0);
    if (s == Space::kRestricted) __atomic_store_n(&c.restricted_loaded, 1, __ATOMIC_SEQ_CST);
    const uint64_t gen = __atomic_load_n(&g_generation[idx(s)], __ATOMIC_SEQ_CST);
    const bool owed = c.flushed_gen[idx(s)] < gen;
    const bool flush = force || c.pending[idx(s)] || owed || !g.pcid;
    if (!g.pcid) {
        x86::write_cr3(root);  // PCIDE=0: always invalidates; bit 63 would be reserved (#GP)
        ++c.counters.cr3_flushing;
    } else if (flush) {
        x86::write_cr3(root | pcid(s));
        ++c.counters.cr3_flushing;
        if (owed && !force && !c.pending[idx(s)]) ++c.counters.generation_flushes;
    } else {
        x86::write_cr3(root | pcid(s) | x86::kCr3NoFlush);
        ++c.counters.cr3_noflush;
    }
    c.current = s;
    if (s == Space::kUnrestricted) __atomic_store_n(&c.restricted_loaded, 0, __ATOMIC_RELEASE);
    c.pending[idx(s)] = false;  // a flushing load satisfied it; a no-flush one had none
    if (flush) note_flushed(x86::percpu::cpu_id(), s, gen);
}

void invpcid(Cpu& c, uint64_t type, uint64_t pcid_value, uint64_t va) {
    const x86::InvpcidDescriptor desc{pcid_value, va};
    x86::invpcid(type, desc);
    if (type == x86::kInvpcidAddress) ++c.counters.invpcid_address;
    else ++c.counters.invpcid_context;
}

void do_mark_pending(Cpu& c, Space s) {
    VERIFY(s != c.current || !g.pcid);
    if (!c.pending[idx(s)]) ++c.counters.deferred;
    c.pending[idx(s)] = true;
}

void do_flush_range(Cpu& c, Space s, uint64_t va, uint64_t pages) {
    if (pages == 0) return;
    const bool single = pages <= kSinglePageFlushCeiling;
    if (!g.pcid) {
        // One untagged TLB: the space not loaded was flushed by the CR3 load that left it.
        if (s != c.current) return;
        if (!single) return load(c, s, true);
        for (uint64_t i = 0; i < pages; ++i) x86::invlpg(va + i * pte::k4K);
        c.counters.invlpg += pages;
        return;
    }
    if (g.invpcid) {
        if (!single) return invpcid(c, x86::kInvpcidSingleContext, pcid(s), 0);
        for (uint64_t i = 0; i < pages; ++i) invpcid(c, x86::kInvpcidAddress, pcid(s), va + i * pte::k4K);
        return;
    }
    // PCIDs without INVPCID: only the current PCID is reachable (INVLPG, CR3 reload).
    if (s != c.current) return do_mark_pending(c, s);
    if (!single) return load(c, s, true);
    for (uint64_t i = 0; i < pages; ++i) x86::invlpg(va + i * pte::k4K);
    c.counters.invlpg += pages;
}

// Runs f with interrupts off: the shootdown handler changes the same per-CPU state.
template <class F>
void irq_off(F f) {
    const uint64_t flags = x86::irq_save();
    f(me());
    x86::irq_restore(flags);
}

}  // namespace

void init(uint64_t unrestricted_root, bool pcid, bool invpcid) {
    g = Global{};
    g.pcid = pcid;
    g.invpcid = pcid && invpcid;
    g.roots[idx(Space::kUnrestricted)] = unrestricted_root;
    init_cpu();
}

void init_cpu() {
    Cpu& c = me();
    c = Cpu{};
    c.current = Space::kUnrestricted;
    // The kernel's CR3 was just loaded with a flush. Nothing is known about the other PCID:
    // its first load flushes.
    c.pending[idx(Space::kRestricted)] = true;
    c.flushed_gen[idx(Space::kUnrestricted)] = generation(Space::kUnrestricted);
}

void set_root(Space s, uint64_t root) {
    VERIFY(s != me().current);
    g.roots[idx(s)] = root;
    me().pending[idx(s)] = true;  // its PCID may hold anything from before: flush on first load
}

bool pcid_enabled() { return g.pcid; }
bool invpcid_enabled() { return g.invpcid; }
uint64_t pcid(Space s) {
    if (!g.pcid) return 0;
    return s == Space::kRestricted ? kRestrictedPcid : kUnrestrictedPcid;
}
uint64_t root(Space s) { return g.roots[idx(s)]; }
Space current() { return me().current; }
bool flush_pending(Space s) { return me().pending[idx(s)]; }
const Counters& counters() { return me().counters; }
const Counters& counters_of(uint32_t cpu) { return g_cpu[cpu].counters; }
Counters& mutable_counters() { return me().counters; }

void switch_to(Space s) {
    irq_off([&](Cpu& c) {
        if (s != c.current) load(c, s, false);
    });
}

void mark_pending(Space s) {
    irq_off([&](Cpu& c) { do_mark_pending(c, s); });
}

void flush_range(Space s, uint64_t va, uint64_t pages) {
    irq_off([&](Cpu& c) { do_flush_range(c, s, va, pages); });
}

void flush_whole(Space s) {
    irq_off([&](Cpu& c) { do_flush_range(c, s, 0, kSinglePageFlushCeiling + 1); });
}

void flush_all_now(Space s) {
    irq_off([&](Cpu& c) {
        if (!g.pcid) {
            if (s == c.current) load(c, s, true);
            return;  // not current: nothing of it is cached (see flush_range)
        }
        if (g.invpcid) {
            invpcid(c, x86::kInvpcidSingleContext, pcid(s), 0);
            c.pending[idx(s)] = false;
            return;
        }
        if (s == c.current) return load(c, s, true);
        // Reach the other PCID by loading it with a flush, then come back (the way back
        // honours pending flushes and generations like any load).
        const Space back = c.current;
        load(c, s, true);
        load(c, back, false);
    });
}

uint64_t generation(Space s) { return __atomic_load_n(&g_generation[idx(s)], __ATOMIC_ACQUIRE); }

uint64_t bump_generation(Space s) { return __atomic_add_fetch(&g_generation[idx(s)], 1, __ATOMIC_SEQ_CST); }

uint64_t flushed_generation(uint32_t cpu, Space s) {
    return __atomic_load_n(&g_cpu[cpu].flushed_gen[idx(s)], __ATOMIC_ACQUIRE);
}

void note_flushed(uint32_t cpu, Space s, uint64_t gen) {
    uint64_t* p = &g_cpu[cpu].flushed_gen[idx(s)];
    uint64_t old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (old < gen && !__atomic_compare_exchange_n(p, &old, gen, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
    }
}

bool may_use_restricted(uint32_t cpu) {
    return __atomic_load_n(&g_cpu[cpu].restricted_loaded, __ATOMIC_SEQ_CST) != 0;
}

}  // namespace mm::tlb
