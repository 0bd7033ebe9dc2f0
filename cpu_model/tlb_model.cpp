// Invalidation operations and page-table-change handling of the TLB model. The rules each
// function implements are listed in tlb_model.h with their SDM sources.
#include "cpu_model/tlb_model.h"

#include "mmu/state_digest.h"

#include <algorithm>
#include <cassert>

#include "mmu/walker.h"

namespace cpu_model {

using mmu::pte_bits::kAccessed;
using mmu::pte_bits::kDirty;
using mmu::pte_bits::kGlobal;
using mmu::pte_bits::kPresent;

namespace {

// The processor sets A and D itself (SDM 4.8); a change that only sets them leaves every
// cached translation correct. Clearing them, or changing anything else, does not.
bool only_sets_accessed_dirty(uint64_t old_value, uint64_t new_value) {
    constexpr uint64_t ad = kAccessed | kDirty;
    return (new_value & kPresent) && ((old_value ^ new_value) & ~ad) == 0 &&
           (old_value & ~new_value & ad) == 0;
}

constexpr uint8_t kHoleNonGlobal = 1;
constexpr uint8_t kHoleGlobal = 2;

mmu::PteLevel level_below(mmu::PteLevel l) {
    return static_cast<mmu::PteLevel>(static_cast<unsigned>(l) - 1);
}

}  // namespace

const char* to_string(CacheSource s) {
    switch (s) {
    case CacheSource::CurrentRoot: return "current-root";
    case CacheSource::RetainedRoot: return "retained-root";
    case CacheSource::StaleTable: return "stale-table";
    case CacheSource::StaleEntry: return "stale-entry";
    }
    return "?";
}

TlbModel::TlbModel(mmu::AddressSpaceIndex& index, unsigned vcpus, int maxphyaddr)
    : index_(index),
      root_mask_(mmu::cr3_table_address(~0ull, maxphyaddr)),
      vcpus_(vcpus) {
    index_.add_observer(this);
}

TlbModel::TlbModel(const TlbModel& other, mmu::AddressSpaceIndex& index) : index_(index), root_mask_(0) {
    assign_state(other);
    index_.add_observer(this);
}

void TlbModel::assign_state(const TlbModel& other) {
    root_mask_ = other.root_mask_;
    vcpus_ = other.vcpus_;
    records_ = other.records_;
    by_key_ = other.by_key_;
    by_anchor_ = other.by_anchor_;
    next_id_ = other.next_id_;
}

uint64_t TlbModel::digest() const {
    mmu::Digest d;
    for (const Vcpu& v : vcpus_) {
        d.add(v.ctl.paging).add(v.ctl.pge).add(v.ctl.pcide).add(v.ctl.smep).add(v.ctl.root).add(v.ctl.pcid);
        d.add(v.current).add(v.pcids.size()).add(v.global_records.size());
        for (const auto& [pcid, st] : v.pcids) d.add(pcid).add(st.records.size()).add(st.last_active_end);
    }
    for (const auto& [id, r] : records_)
        d.add(id).add(r.vcpu).add(r.pcid).add(r.globals_only).add(r.is_root).add(r.anchor.frame)
            .add(static_cast<uint64_t>(r.anchor.level)).add(r.va_base).add(r.frozen_at).add(r.left_at)
            .add(r.holes.size());
    return d.add(next_id_).value();
}

TlbModel::~TlbModel() {
    index_.remove_observer(this);
    for (const auto& [id, r] : records_) index_.unpin(r.anchor);
}

// ---- Records ----------------------------------------------------------------------------

TlbModel::RecordKey TlbModel::key_of(const Record& r) {
    return {r.vcpu, r.globals_only, r.globals_only ? Pcid{0} : r.pcid, r.anchor.frame,
            static_cast<uint8_t>(r.anchor.level), r.va_base};
}

// Adds a record, or merges it into the one with the same key. A merged record covers both:
// the later freeze time and only the holes both had (see HoleSet::intersect).
uint32_t TlbModel::make_record(Record proto) {
    const RecordKey k = key_of(proto);
    if (auto it = by_key_.find(k); it != by_key_.end()) {
        Record& r = records_.at(it->second);
        r.frozen_at = std::max(r.frozen_at, proto.frozen_at);
        r.left_at = std::max(r.left_at, proto.left_at);
        r.holes.intersect(proto.holes);
        r.is_root = r.is_root || proto.is_root;
        return it->second;
    }
    const uint32_t id = next_id_++;
    proto.id = id;
    index_.pin(proto.anchor);
    by_anchor_[proto.anchor].push_back(id);
    by_key_.emplace(k, id);
    Vcpu& c = vcpus_.at(proto.vcpu);
    if (proto.globals_only) c.global_records.insert(id);
    else c.pcids[proto.pcid].records.insert(id);
    records_.emplace(id, std::move(proto));
    return id;
}

void TlbModel::drop_record(uint32_t id) {
    auto it = records_.find(id);
    assert(it != records_.end());
    const Record r = std::move(it->second);
    records_.erase(it);
    by_key_.erase(key_of(r));
    auto a = by_anchor_.find(r.anchor);
    a->second.erase(std::find(a->second.begin(), a->second.end(), id));
    if (a->second.empty()) by_anchor_.erase(a);
    Vcpu& c = vcpus_.at(r.vcpu);
    if (r.globals_only) {
        c.global_records.erase(id);
    } else if (auto p = c.pcids.find(r.pcid); p != c.pcids.end()) {
        p->second.records.erase(id);
    }
    if (c.current == id) c.current = kNone;
    index_.unpin(r.anchor);
}

// A non-global flush with CR4.PGE=1 leaves the record's global translations (SDM 4.10.4.1:
// MOV to CR3 and INVPCID types 1 and 3 keep global entries), usable under any PCID, and
// nothing new can be cached through it any more.
void TlbModel::to_globals_only(uint32_t id) {
    Record g = records_.at(id);
    freeze(g, index_.now());
    g.globals_only = true;
    g.holes.keep_global_only();
    make_record(std::move(g));  // before the drop: the anchor stays pinned, no re-read
    drop_record(id);
}

bool TlbModel::is_current(const Record& r) const { return vcpus_.at(r.vcpu).current == r.id; }

CacheSource TlbModel::source_of(const Record& r) const {
    if (is_current(r)) return CacheSource::CurrentRoot;
    return r.is_root ? CacheSource::RetainedRoot : CacheSource::StaleTable;
}

bool TlbModel::region_contains(const Record& r, uint64_t va) const {
    return r.anchor.level == mmu::PteLevel::Pml4e ||
           va - r.va_base < mmu::region_size(r.anchor.level);
}

// Entries are created only while their PCID is current (SDM 4.10.1) and, for a record that
// is not the current root, only while its PS-cache entries have not been invalidated.
uint64_t TlbModel::cache_until(const Record& r) const {
    if (r.globals_only) return r.frozen_at;
    const Vcpu& c = vcpus_.at(r.vcpu);
    if (c.ctl.paging && c.ctl.pcid == r.pcid) return r.frozen_at;
    auto it = c.pcids.find(r.pcid);
    return std::min(r.frozen_at, it == c.pcids.end() ? 0 : it->second.last_active_end);
}

void TlbModel::freeze(Record& r, uint64_t now) {
    r.frozen_at = std::min({r.frozen_at, cache_until(r), now});
}

// Could a path dated path_seq (all its entries unchanged since then) have been cached
// through this record?
bool TlbModel::visible(const Record& r, uint64_t path_seq, uint64_t top_seq) const {
    if (r.is_root && !is_current(r) && top_seq > r.left_at) return false;
    return path_seq <= cache_until(r);
}

bool TlbModel::usable(const Record& r, Pcid pcid, uint64_t va_page, uint64_t size,
                      uint64_t entry, uint64_t path_seq, uint64_t top_seq,
                      bool& global) const {
    global = (entry & kGlobal) && vcpus_.at(r.vcpu).ctl.pge;
    if ((r.globals_only || r.pcid != pcid) && !global) return false;
    if (!visible(r, path_seq, top_seq)) return false;
    return is_current(r) || !r.holes.covers(va_page, size, global, cache_until(r));
}

void TlbModel::account(const Record& r, uint64_t va, uint8_t kinds,
                       InvalidationEffect& eff) const {
    if (!region_contains(r, va)) return;
    const mmu::AnchoredWalk w = index_.walk_from(r.anchor, va);
    if (w.stop != mmu::AnchoredWalk::Stop::Leaf) return;
    const bool global = (w.entry & kGlobal) && vcpus_.at(r.vcpu).ctl.pge;
    if (!(kinds & (global ? kHoleGlobal : kHoleNonGlobal))) return;
    if (!visible(r, w.path_seq, w.top_seq)) return;
    if (!is_current(r) &&
        r.holes.covers(va & ~(w.page_size - 1), w.page_size, global, cache_until(r)))
        return;
    if (r.is_root) ++eff.live;
    else ++eff.stale_entries;
}

// ---- Current root -----------------------------------------------------------------------

void TlbModel::enter_current(unsigned v) {
    Vcpu& c = vcpus_.at(v);
    if (!c.ctl.paging) return;
    Record root;
    root.vcpu = v;
    root.pcid = c.ctl.pcid;
    root.is_root = true;
    root.anchor = {c.ctl.root, mmu::PteLevel::Pml4e};
    const uint32_t id = make_record(std::move(root));
    Record& r = records_.at(id);
    // Everything in the tables of CR3 may be cached again at once: freeze and holes go.
    r.frozen_at = kNotFrozen;
    r.left_at = kNotFrozen;
    r.holes.clear();
    c.current = id;
}

void TlbModel::leave_current(unsigned v) {
    Vcpu& c = vcpus_.at(v);
    if (c.current != kNone) records_.at(c.current).left_at = index_.now();
    c.current = kNone;  // the record stays, as a retained root
    if (c.ctl.paging) c.pcids[c.ctl.pcid].last_active_end = index_.now();
}

// ---- Invalidation primitives ------------------------------------------------------------

// Non-global TLB entries and every PS-cache entry of one PCID (SDM 4.10.4.1: MOV to CR3,
// INVPCID types 1 and 3). The current root's record stays: its tables may be cached again.
InvalidationEffect TlbModel::flush_pcid(unsigned v, Pcid pcid, bool keep_globals) {
    InvalidationEffect eff;
    Vcpu& c = vcpus_.at(v);
    auto it = c.pcids.find(pcid);
    if (it == c.pcids.end()) return eff;
    eff.stale_entries += static_cast<uint32_t>(it->second.stale.clear());
    const std::vector<uint32_t> ids(it->second.records.begin(), it->second.records.end());
    for (uint32_t id : ids) {
        if (id == c.current) {
            ++eff.live;
            continue;
        }
        if (records_.at(id).is_root) ++eff.live;
        else ++eff.stale_tables;
        if (keep_globals && c.ctl.pge) to_globals_only(id);
        else drop_record(id);
    }
    return eff;
}

// Every TLB entry (globals included) and every PS-cache entry, all PCIDs (SDM 4.10.4.1:
// INVPCID type 2, MOV to CR4 changing PGE or clearing PCIDE, MOV to CR0 clearing PG).
InvalidationEffect TlbModel::flush_all(unsigned v) {
    InvalidationEffect eff;
    Vcpu& c = vcpus_.at(v);
    for (auto& [pcid, ps] : c.pcids) eff += flush_pcid(v, pcid, false);
    eff.stale_entries += static_cast<uint32_t>(c.global_stale.clear());
    const std::vector<uint32_t> ids(c.global_records.begin(), c.global_records.end());
    for (uint32_t id : ids) {
        if (records_.at(id).is_root) ++eff.live;
        else ++eff.stale_tables;
        drop_record(id);
    }
    return eff;
}

// Non-global entries of one PCID for va's page, and the PS-cache entries that would be used
// to translate va (INVPCID type 0; a #PF on va for the current PCID).
InvalidationEffect TlbModel::invalidate_address(unsigned v, Pcid pcid, uint64_t va) {
    InvalidationEffect eff;
    Vcpu& c = vcpus_.at(v);
    auto it = c.pcids.find(pcid);
    if (it == c.pcids.end()) return eff;
    eff.stale_entries += static_cast<uint32_t>(it->second.stale.erase_page(va));
    const std::vector<uint32_t> ids(it->second.records.begin(), it->second.records.end());
    for (uint32_t id : ids) {
        Record& r = records_.at(id);
        account(r, va, kHoleNonGlobal, eff);
        if (id == c.current) continue;
        // Sticky: the PS-cache entries for va went too, so the record cannot bring it back.
        r.holes.add(va, true, false, HoleSet::kSticky);
        // A table record anchored at a PT *is* one PDE-cache entry; when it would translate va
        // it goes, and only the TLB entries made through it stay. Records anchored higher
        // also hold PS-cache entries for other addresses, which stay (kept unfrozen: an
        // over-approximation for the invalidated prefix).
        if (!r.is_root && r.anchor.level == mmu::PteLevel::Pte && region_contains(r, va) &&
            r.frozen_at == kNotFrozen) {
            freeze(r, index_.now());
            ++eff.stale_tables;
        }
    }
    return eff;
}

// ---- Instructions -----------------------------------------------------------------------

void TlbModel::set_state(unsigned v, uint64_t cr0, uint64_t cr3, uint64_t cr4) {
    index_.tick();
    Vcpu& c = vcpus_.at(v);
    c.current = kNone;
    flush_all(v);
    c.pcids.clear();
    c.ctl.paging = cr0 & cr_bits::kCr0Pg;
    c.ctl.pge = cr4 & cr_bits::kCr4Pge;
    c.ctl.pcide = cr4 & cr_bits::kCr4Pcide;
    c.ctl.smep = cr4 & cr_bits::kCr4Smep;
    c.ctl.root = cr3 & root_mask_;
    c.ctl.pcid = c.ctl.pcide ? Pcid(cr3 & cr_bits::kCr3PcidMask) : Pcid{0};
    enter_current(v);
}

InvalidationEffect TlbModel::mov_to_cr3(unsigned v, uint64_t value) {
    index_.tick();
    Vcpu& c = vcpus_.at(v);
    const Pcid pcid = c.ctl.pcide ? Pcid(value & cr_bits::kCr3PcidMask) : Pcid{0};
    // Bit 63 asks for no invalidation only when PCIDE=1 (SDM 4.10.4.1, MOV to CR3).
    const bool no_flush = c.ctl.pcide && (value & cr_bits::kCr3NoFlush);
    leave_current(v);
    InvalidationEffect eff;
    if (!no_flush) eff = flush_pcid(v, pcid, true);
    c.ctl.root = value & root_mask_;
    c.ctl.pcid = pcid;
    enter_current(v);
    return eff;
}

InvalidationEffect TlbModel::mov_to_cr4(unsigned v, uint64_t cr4) {
    index_.tick();
    Vcpu& c = vcpus_.at(v);
    const bool pge = cr4 & cr_bits::kCr4Pge;
    const bool pcide = cr4 & cr_bits::kCr4Pcide;
    const bool smep = cr4 & cr_bits::kCr4Smep;
    InvalidationEffect eff;
    if (pge != c.ctl.pge || (c.ctl.pcide && !pcide)) {
        eff = flush_all(v);
        if (c.ctl.pcide && !pcide && c.ctl.pcid != 0) {
            // With PCIDE=0 the current PCID is 000H (SDM 4.10.1).
            const uint32_t cur = c.current;
            leave_current(v);
            if (cur != kNone) drop_record(cur);
            c.ctl.pcid = 0;
            c.ctl.pcide = false;
            enter_current(v);
        }
    } else if (!c.ctl.smep && smep) {
        // "All TLB entries ... for the current PCID": global entries are not tracked per
        // PCID, so they are kept (the conservative reading).
        eff = flush_pcid(v, c.ctl.pcid, true);
    }
    c.ctl.pge = pge;
    c.ctl.pcide = pcide;
    c.ctl.smep = smep;
    return eff;
}

InvalidationEffect TlbModel::mov_to_cr0(unsigned v, uint64_t cr0) {
    index_.tick();
    Vcpu& c = vcpus_.at(v);
    const bool pg = cr0 & cr_bits::kCr0Pg;
    InvalidationEffect eff;
    if (c.ctl.paging && !pg) {
        eff = flush_all(v);
        const uint32_t cur = c.current;
        leave_current(v);
        if (cur != kNone) drop_record(cur);
        c.ctl.paging = false;
    } else if (!c.ctl.paging && pg) {
        c.ctl.paging = true;
        enter_current(v);
    }
    return eff;
}

InvalidationEffect TlbModel::invlpg(unsigned v, uint64_t va) {
    const uint64_t now = index_.tick();
    InvalidationEffect eff;
    if (!mmu::is_canonical(va)) return eff;  // a NOP in 64-bit mode (INVLPG reference)
    Vcpu& c = vcpus_.at(v);
    const Pcid pcid = c.ctl.pcid;
    auto cur_pcid = c.pcids.find(pcid);
    if (cur_pcid != c.pcids.end())
        eff.stale_entries += static_cast<uint32_t>(cur_pcid->second.stale.erase_page(va));
    eff.stale_entries += static_cast<uint32_t>(c.global_stale.erase_page(va));

    // TLB entries for the page: every kind under the current PCID, global ones under any.
    auto punch = [&](uint32_t id) {
        Record& r = records_.at(id);
        const bool own = !r.globals_only && r.pcid == pcid;
        const bool global = c.ctl.pge;  // without PGE no global translations exist
        const uint8_t kinds = (own ? kHoleNonGlobal : 0) | (global ? kHoleGlobal : 0);
        if (kinds == 0) return;
        account(r, va, kinds, eff);
        if (id != c.current) r.holes.add(va, own, global, now);
    };
    for (auto& [p, ps] : c.pcids)
        for (uint32_t id : ps.records) punch(id);
    for (uint32_t id : c.global_records) punch(id);

    // Every PS-cache entry of the current PCID: records other than the current root can no
    // longer gain translations.
    if (cur_pcid != c.pcids.end()) {
        for (uint32_t id : cur_pcid->second.records) {
            Record& r = records_.at(id);
            if (id == c.current || r.frozen_at != kNotFrozen) continue;
            freeze(r, now);
            if (r.is_root) ++eff.live;
            else ++eff.stale_tables;
        }
    }
    return eff;
}

InvalidationEffect TlbModel::invpcid(unsigned v, InvpcidType type, Pcid pcid, uint64_t va) {
    index_.tick();
    switch (type) {
    case InvpcidType::IndividualAddress:
        if (!mmu::is_canonical(va)) return {};  // #GP, raised by the caller
        return invalidate_address(v, pcid, va);
    case InvpcidType::SingleContext:
        return flush_pcid(v, pcid, true);
    case InvpcidType::AllContextsAndGlobals:
        return flush_all(v);
    case InvpcidType::AllContexts: {
        InvalidationEffect eff;
        for (auto& [p, ps] : vcpus_.at(v).pcids) eff += flush_pcid(v, p, true);
        return eff;
    }
    }
    return {};
}

InvalidationEffect TlbModel::page_fault(unsigned v, uint64_t va) {
    index_.tick();
    const Vcpu& c = vcpus_.at(v);
    if (!c.ctl.paging || !mmu::is_canonical(va)) return {};
    return invalidate_address(v, c.ctl.pcid, va);
}

// ---- Page-table changes -----------------------------------------------------------------

// A present entry reachable through some record changed. Whatever the processor may have
// cached from the old value stays cached (SDM 4.10.4: entries are kept after the paging
// structures change, until invalidated): a leaf becomes an explicit stale entry, an entry
// referencing a table becomes a record anchored at that old table.
void TlbModel::on_entry_change(const mmu::EntryChange& ch) {
    if (!(ch.old_value & kPresent)) return;  // not-present entries are never cached
    if (only_sets_accessed_dirty(ch.old_value, ch.new_value)) return;
    const bool leaf = mmu::entry_maps_page(ch.level, ch.old_value);
    const uint64_t span = mmu::span_of(ch.level);
    const uint64_t entry_off = uint64_t{ch.index} * span;
    const uint64_t target = mmu::entry_address(ch.level, ch.old_value);

    struct NewStale {
        unsigned vcpu;
        bool global;
        StaleEntry e;
    };
    std::vector<NewStale> stale;
    std::vector<Record> tables;
    index_.for_each_place({ch.table_frame, ch.level}, [&](const mmu::Place& pl) {
        auto it = by_anchor_.find(pl.anchor);
        if (it == by_anchor_.end()) return true;
        const uint64_t path_seq = std::max(pl.path_seq, ch.old_seq);
        const bool at_anchor = pl.anchor == mmu::TableKey{ch.table_frame, ch.level};
        const uint64_t top_seq = at_anchor ? ch.old_seq : pl.top_seq;
        for (uint32_t id : it->second) {
            const Record& r = records_.at(id);
            if (!visible(r, path_seq, top_seq)) continue;
            const uint64_t va = mmu::canonical_va(r.va_base + pl.va_offset + entry_off);
            if (leaf) {
                const bool global = (ch.old_value & kGlobal) && vcpus_.at(r.vcpu).ctl.pge;
                if (r.globals_only && !global) continue;
                if (!is_current(r) && r.holes.covers(va, span, global, cache_until(r))) continue;
                stale.push_back({r.vcpu, global, StaleEntry{va, span, target, ch.old_value, r.pcid}});
            } else {
                Record t;
                t.vcpu = r.vcpu;
                t.pcid = r.pcid;
                t.globals_only = r.globals_only;
                t.anchor = {target, level_below(ch.level)};
                t.va_base = va;
                t.frozen_at = r.frozen_at;
                if (!is_current(r)) t.holes = r.holes.restricted(va, span);
                tables.push_back(std::move(t));
            }
        }
        return true;
    });
    for (const NewStale& s : stale) {
        Vcpu& c = vcpus_.at(s.vcpu);
        if (s.global) c.global_stale.add(s.e);
        else c.pcids[s.e.pcid].stale.add(s.e);
    }
    // The old table is still tracked here (observers run before the index unlinks it), so
    // pinning it costs no re-read.
    for (Record& t : tables) make_record(std::move(t));
}

}  // namespace cpu_model
