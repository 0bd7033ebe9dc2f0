// Read-only questions the leak oracle asks the TLB model.
#include "cpu_model/tlb_model.h"

#include <algorithm>

namespace cpu_model {

std::vector<CachedTranslation> TlbModel::translations_at(unsigned v, Pcid pcid,
                                                         uint64_t va) const {
    std::vector<CachedTranslation> out;
    const Vcpu& c = vcpus_.at(v);
    va = mmu::canonical_va(va);
    auto explicit_entry = [&](bool global) {
        return [&out, global](const StaleEntry& e) {
            out.push_back({e.va_page, e.page_size, e.frame, e.entry, global,
                           CacheSource::StaleEntry, e.pcid, {}});
        };
    };
    if (auto it = c.pcids.find(pcid); it != c.pcids.end())
        it->second.stale.for_each_at(va, explicit_entry(false));
    c.global_stale.for_each_at(va, explicit_entry(true));

    auto consider = [&](uint32_t id) {
        const Record& r = records_.at(id);
        if (!region_contains(r, va)) return;
        const mmu::AnchoredWalk w = index_.walk_from(r.anchor, va);
        if (w.stop != mmu::AnchoredWalk::Stop::Leaf) return;
        const uint64_t va_page = va & ~(w.page_size - 1);
        bool global = false;
        if (!usable(r, pcid, va_page, w.page_size, w.entry, w.path_seq, w.top_seq, global))
            return;
        out.push_back({va_page, w.page_size, w.frame, w.entry, global, source_of(r), r.pcid,
                       r.anchor});
    };
    for (const auto& [p, ps] : c.pcids)
        for (uint32_t id : ps.records) consider(id);
    for (uint32_t id : c.global_records) consider(id);
    return out;
}

std::vector<CachedTranslation> TlbModel::reaching_frame(unsigned v, Pcid pcid,
                                                        uint64_t frame) const {
    std::vector<CachedTranslation> out;
    const Vcpu& c = vcpus_.at(v);
    frame &= ~(mmu::kPageSize4K - 1);
    auto explicit_entry = [&](bool global) {
        return [&out, global](const StaleEntry& e) {
            out.push_back({e.va_page, e.page_size, e.frame, e.entry, global,
                           CacheSource::StaleEntry, e.pcid, {}});
        };
    };
    if (auto it = c.pcids.find(pcid); it != c.pcids.end())
        it->second.stale.for_each_frame(frame, explicit_entry(false));
    c.global_stale.for_each_frame(frame, explicit_entry(true));

    index_.for_each_leaf_mapping(frame, [&](const mmu::LeafRef& l) {
        const uint64_t size = mmu::span_of(l.table.level);
        index_.for_each_place(l.table, [&](const mmu::Place& pl) {
            auto it = by_anchor_.find(pl.anchor);
            if (it == by_anchor_.end()) return true;
            for (uint32_t id : it->second) {
                const Record& r = records_.at(id);
                if (r.vcpu != v) continue;
                const uint64_t va =
                    mmu::canonical_va(r.va_base + pl.va_offset + uint64_t{l.index} * size);
                const uint64_t top = pl.anchor == l.table ? l.seq : pl.top_seq;
                bool global = false;
                if (!usable(r, pcid, va, size, l.entry, std::max(pl.path_seq, l.seq), top,
                            global))
                    continue;
                out.push_back({va, size, mmu::entry_address(l.table.level, l.entry), l.entry,
                               global, source_of(r), r.pcid, r.anchor});
            }
            return true;
        });
        return true;
    });
    return out;
}

// Paging-structure-cache entries point to PDPTs, PDs and PTs (SDM 4.10.3.1); they exist only
// in records whose PS-cache part has not been invalidated (not frozen, not globals-only).
std::vector<TableHolder> TlbModel::table_holders(uint64_t table_frame) const {
    std::vector<TableHolder> out;
    table_frame &= ~(mmu::kPageSize4K - 1);
    for (mmu::PteLevel level : {mmu::PteLevel::Pdpte, mmu::PteLevel::Pde, mmu::PteLevel::Pte}) {
        const mmu::TableKey key{table_frame, level};
        if (!index_.is_tracked(key)) continue;
        index_.for_each_place(key, [&](const mmu::Place& pl) {
            auto it = by_anchor_.find(pl.anchor);
            if (it == by_anchor_.end()) return true;
            for (uint32_t id : it->second) {
                const Record& r = records_.at(id);
                if (r.globals_only || r.frozen_at != kNotFrozen) continue;
                if (!visible(r, pl.path_seq, pl.top_seq)) continue;
                out.push_back({r.vcpu, r.pcid, source_of(r),
                               mmu::canonical_va(r.va_base + pl.va_offset), level});
            }
            return true;
        });
    }
    return out;
}

bool TlbModel::holds_more_than_current_root(unsigned v, Pcid pcid) const {
    const Vcpu& c = vcpus_.at(v);
    if (!c.global_records.empty() || c.global_stale.size() != 0) return true;
    // With CR4.PGE=1, any root cached under another PCID may hold global translations,
    // which are used under every PCID (SDM 4.10.2.4).
    if (c.ctl.pge)
        for (const auto& [p, ps] : c.pcids)
            for (uint32_t id : ps.records)
                if (id != c.current) return true;
    auto it = c.pcids.find(pcid);
    if (it == c.pcids.end()) return false;
    if (it->second.stale.size() != 0) return true;
    for (uint32_t id : it->second.records)
        if (id != c.current) return true;
    return false;
}

TlbModel::Stats TlbModel::stats(unsigned v) const {
    Stats s;
    const Vcpu& c = vcpus_.at(v);
    for (const auto& [p, ps] : c.pcids) {
        s.stale_entries += ps.stale.size();
        for (uint32_t id : ps.records) {
            const Record& r = records_.at(id);
            (r.is_root ? s.root_records : s.table_records) += 1;
            s.frozen_records += r.frozen_at != kNotFrozen;
        }
    }
    s.global_records = c.global_records.size();
    s.global_stale_entries = c.global_stale.size();
    return s;
}

}  // namespace cpu_model
