#include "mm/tlb.h"

#include "arch/x86/cpu.h"
#include "kernel/panic.h"
#include "mm/pte.h"

namespace mm::tlb {
namespace {

struct State {
    bool pcid = false;
    bool invpcid = false;
    uint64_t roots[kSpaces] = {};
    bool pending[kSpaces] = {};
    Space current = Space::kUnrestricted;
    Counters counters;
};
constinit State g{};

uint32_t idx(Space s) { return static_cast<uint32_t>(s); }

// MOV to CR3 loading space s; `flush` clears bit 63 (with PCIDE), which invalidates the
// new PCID's non-global entries and paging-structure caches (SDM 4.10.4.1).
void load(Space s, bool flush) {
    const uint64_t root = g.roots[idx(s)];
    VERIFY(root != 0);
    if (!g.pcid) {
        x86::write_cr3(root);  // PCIDE=0: always invalidates; bit 63 would be reserved (#GP)
        ++g.counters.cr3_flushing;
    } else if (flush) {
        x86::write_cr3(root | pcid(s));
        ++g.counters.cr3_flushing;
    } else {
        x86::write_cr3(root | pcid(s) | x86::kCr3NoFlush);
        ++g.counters.cr3_noflush;
    }
    g.current = s;
    g.pending[idx(s)] = false;  // a flushing load satisfied it; a no-flush one had none
}

void invpcid(uint64_t type, uint64_t pcid_value, uint64_t va) {
    const x86::InvpcidDescriptor desc{pcid_value, va};
    x86::invpcid(type, desc);
    if (type == x86::kInvpcidAddress) ++g.counters.invpcid_address;
    else ++g.counters.invpcid_context;
}

}  // namespace

void init(uint64_t unrestricted_root, bool pcid, bool invpcid) {
    g = State{};
    g.pcid = pcid;
    g.invpcid = pcid && invpcid;
    g.roots[idx(Space::kUnrestricted)] = unrestricted_root;
    g.current = Space::kUnrestricted;
}

void set_root(Space s, uint64_t root) {
    VERIFY(s != g.current);
    g.roots[idx(s)] = root;
    g.pending[idx(s)] = true;  // its PCID may hold anything from before: flush on first load
}

bool pcid_enabled() { return g.pcid; }
bool invpcid_enabled() { return g.invpcid; }
uint64_t pcid(Space s) {
    if (!g.pcid) return 0;
    return s == Space::kRestricted ? kRestrictedPcid : kUnrestrictedPcid;
}
uint64_t root(Space s) { return g.roots[idx(s)]; }
Space current() { return g.current; }
bool flush_pending(Space s) { return g.pending[idx(s)]; }
const Counters& counters() { return g.counters; }

void switch_to(Space s) {
    if (s == g.current) return;
    load(s, g.pending[idx(s)]);
}

void mark_pending(Space s) {
    VERIFY(s != g.current || !g.pcid);
    if (!g.pending[idx(s)]) ++g.counters.deferred;
    g.pending[idx(s)] = true;
}

void flush_range(Space s, uint64_t va, uint64_t pages) {
    if (pages == 0) return;
    const bool single = pages <= kSinglePageFlushCeiling;
    if (!g.pcid) {
        // One untagged TLB: the space not loaded was flushed by the CR3 load that left it.
        if (s != g.current) return;
        if (!single) return load(s, true);
        for (uint64_t i = 0; i < pages; ++i) x86::invlpg(va + i * pte::k4K);
        g.counters.invlpg += pages;
        return;
    }
    if (g.invpcid) {
        if (!single) return invpcid(x86::kInvpcidSingleContext, pcid(s), 0);
        for (uint64_t i = 0; i < pages; ++i) invpcid(x86::kInvpcidAddress, pcid(s), va + i * pte::k4K);
        return;
    }
    // PCIDs without INVPCID: only the current PCID is reachable (INVLPG, CR3 reload).
    if (s != g.current) return mark_pending(s);
    if (!single) return load(s, true);
    for (uint64_t i = 0; i < pages; ++i) x86::invlpg(va + i * pte::k4K);
    g.counters.invlpg += pages;
}

void flush_all_now(Space s) {
    if (!g.pcid) {
        if (s == g.current) load(s, true);
        return;  // not current: nothing of it is cached (see flush_range)
    }
    if (g.invpcid) {
        invpcid(x86::kInvpcidSingleContext, pcid(s), 0);
        g.pending[idx(s)] = false;
        return;
    }
    if (s == g.current) return load(s, true);
    // Reach the other PCID by loading it with a flush, then come back.
    const Space back = g.current;
    load(s, true);
    load(back, g.pending[idx(back)]);
}

}  // namespace mm::tlb
