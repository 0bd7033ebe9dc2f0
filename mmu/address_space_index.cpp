#include "mmu/address_space_index.h"

#include "mmu/state_digest.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace mmu {
namespace {

constexpr uint8_t level_bit(PteLevel l) { return uint8_t(1u << (static_cast<unsigned>(l) - 1)); }
constexpr PteLevel level_below(PteLevel l) {
    return static_cast<PteLevel>(static_cast<unsigned>(l) - 1);
}
constexpr PteLevel level_above(PteLevel l) {
    return static_cast<PteLevel>(static_cast<unsigned>(l) + 1);
}
// Reverse-map slot of a leaf: 0 = 4 KiB (PTE), 1 = 2 MiB (PDE), 2 = 1 GiB (PDPTE).
constexpr unsigned size_slot(PteLevel l) { return static_cast<unsigned>(l) - 1; }
constexpr uint64_t kSlotSize[3] = {kPageSize4K, kPageSize2M, kPageSize1G};

bool only_sets_accessed_dirty(uint64_t old_value, uint64_t new_value) {
    constexpr uint64_t ad = pte_bits::kAccessed | pte_bits::kDirty;
    return (old_value & pte_bits::kPresent) && (new_value & pte_bits::kPresent) &&
           ((old_value ^ new_value) & ~ad) == 0 && (old_value & ~new_value & ad) == 0;
}

template <class V>
void erase_one(RestorableMap<uint64_t, std::vector<V>>& map, uint64_t key, const V& v,
               bool (*same)(const V&, const V&)) {
    std::vector<V>* vec = map.writable_if_present(key);
    if (!vec) return;
    for (size_t i = 0; i < vec->size(); ++i) {
        if (same((*vec)[i], v)) {
            (*vec)[i] = vec->back();
            vec->pop_back();
            break;
        }
    }
    if (vec->empty()) map.erase(key);
}

}  // namespace

bool RamTableReader::read_table(uint64_t table_pa, TableEntries& out) {
    if (!mem_.contains(table_pa, kPageSize4K)) return false;
    std::memcpy(out.data(), mem_.data + table_pa, kPageSize4K);
    return true;
}

AddressSpaceIndex::AddressSpaceIndex(TableReader& reader) : reader_(reader) {}
AddressSpaceIndex::~AddressSpaceIndex() = default;

uint64_t AddressSpaceIndex::digest() const {
    uint64_t sum = scramble(now_);
    for (const auto& [key, node] : nodes_) {
        Digest d;
        d.add(key.frame).add(static_cast<uint64_t>(key.level)).add(node->pins).add(node->parents.size());
        for (unsigned i = 0; i < kEntriesPerTable; ++i) d.add(node->entries[i]).add(node->seq[i]);
        for (const ParentRef& p : node->parents) d.add(p.frame).add(p.index);
        sum += d.value();
    }
    // The reverse maps too (restored on their own, mmu/restorable.h); each list as a set.
    const auto add_refs = [&sum](uint64_t slot, const RestorableMap<uint64_t, std::vector<RefKey>>& map) {
        for (const auto& [frame, refs] : map) {
            uint64_t set = 0;
            for (const RefKey& r : refs)
                set += Digest().add(r.frame).add(r.index).add(static_cast<uint64_t>(r.level)).value();
            sum += Digest().add(slot).add(frame).add(refs.size()).add(set).value();
        }
    };
    for (size_t s = 0; s < leaves_.size(); ++s) add_refs(s, leaves_[s]);
    add_refs(leaves_.size(), nonpresent_);
    return sum;
}

AddressSpaceIndex::AddressSpaceIndex(const AddressSpaceIndex& other) : reader_(other.reader_) { assign_state(other); }

void AddressSpaceIndex::assign_state(const AddressSpaceIndex& other) {
    now_ = other.now_;
    frame_levels_ = other.frame_levels_;
    leaves_ = other.leaves_;
    nonpresent_ = other.nonpresent_;
    for (auto it = nodes_.begin(); it != nodes_.end();)
        it = other.nodes_.count(it->first) ? std::next(it) : nodes_.erase(it);
    for (const auto& [key, node] : other.nodes_) {
        std::unique_ptr<Node>& mine = nodes_[key];
        if (mine) *mine = *node;
        else mine = std::make_unique<Node>(*node);
    }
}

AddressSpaceIndex::Node* AddressSpaceIndex::find(const TableKey& key) {
    auto it = nodes_.find(key);
    return it == nodes_.end() ? nullptr : it->second.get();
}
const AddressSpaceIndex::Node* AddressSpaceIndex::find(const TableKey& key) const {
    auto it = nodes_.find(key);
    return it == nodes_.end() ? nullptr : it->second.get();
}

// ---- Tracking ---------------------------------------------------------------------------

void AddressSpaceIndex::pin(const TableKey& key) { add_ref(key, nullptr); }

void AddressSpaceIndex::unpin(const TableKey& key) {
    const Node* n = find(key);
    assert(n && n->pins > 0);
    if (!n || n->pins == 0) return;
    drop_ref(key, nullptr);
}

uint32_t AddressSpaceIndex::pin_count(const TableKey& key) const {
    const Node* n = find(key);
    return n ? n->pins : 0;
}

void AddressSpaceIndex::add_ref(const TableKey& key, const ParentRef* parent) {
    auto& slot = nodes_[key];
    bool fresh = false;
    if (!slot) {
        slot = std::make_unique<Node>();
        fresh = true;
    }
    Node& n = *slot;
    if (parent) n.parents.push_back(*parent);
    else ++n.pins;
    if (fresh) activate(key, n);
}

void AddressSpaceIndex::drop_ref(const TableKey& key, const ParentRef* parent) {
    Node* n = find(key);
    if (!n) return;
    if (parent) {
        auto& ps = n->parents;
        for (size_t i = 0; i < ps.size(); ++i) {
            if (ps[i].frame == parent->frame && ps[i].index == parent->index) {
                ps[i] = ps.back();
                ps.pop_back();
                break;
            }
        }
    } else if (n->pins > 0) {
        --n->pins;
    }
    if (!n->tracked()) deactivate(key);
}

void AddressSpaceIndex::activate(const TableKey& key, Node& node) {
    // Content: the same frame tracked at another level already has the current shadow;
    // otherwise it is read once, now, and dated now.
    uint8_t& levels = frame_levels_[key.frame];
    const Node* twin = nullptr;
    for (unsigned l = 1; l <= 4 && !twin; ++l) {
        if (levels & (1u << (l - 1))) twin = find({key.frame, static_cast<PteLevel>(l)});
    }
    levels |= level_bit(key.level);
    if (twin) {
        node.entries = twin->entries;
        node.seq = twin->seq;
    } else {
        if (!reader_.read_table(key.frame, node.entries)) node.entries.fill(0);
        node.seq.fill(now_);
    }
    for (IndexObserver* o : std::vector<IndexObserver*>(observers_)) o->on_table_tracked(key);
    for (unsigned i = 0; i < kEntriesPerTable; ++i) link_entry(key, i, node.entries[i]);
}

void AddressSpaceIndex::deactivate(const TableKey& key) {
    Node* n = find(key);
    if (!n) return;
    for (IndexObserver* o : std::vector<IndexObserver*>(observers_)) o->on_table_untracked(key);
    for (unsigned i = 0; i < kEntriesPerTable; ++i) unlink_entry(key, i, n->entries[i]);
    nodes_.erase(key);
    auto it = frame_levels_.find(key.frame);
    if (it != frame_levels_.end()) {
        it->second &= uint8_t(~level_bit(key.level));
        if (it->second == 0) frame_levels_.erase(it);
    }
}

void AddressSpaceIndex::link_entry(const TableKey& key, unsigned index, uint64_t raw) {
    if (raw & pte_bits::kPresent) {
        const uint64_t addr = entry_address(key.level, raw);
        if (entry_maps_page(key.level, raw)) {
            leaves_[size_slot(key.level)].writable(addr).push_back({key.frame, index, key.level});
        } else {
            ParentRef p{key.frame, index};
            add_ref({addr, level_below(key.level)}, &p);
        }
    } else if (raw & pte_bits::kAddressMask) {
        nonpresent_.writable(raw & pte_bits::kAddressMask).push_back({key.frame, index, key.level});
    }
}

void AddressSpaceIndex::unlink_entry(const TableKey& key, unsigned index, uint64_t raw) {
    auto same = +[](const RefKey& a, const RefKey& b) {
        return a.frame == b.frame && a.index == b.index && a.level == b.level;
    };
    const RefKey me{key.frame, index, key.level};
    if (raw & pte_bits::kPresent) {
        const uint64_t addr = entry_address(key.level, raw);
        if (entry_maps_page(key.level, raw)) {
            erase_one(leaves_[size_slot(key.level)], addr, me, same);
        } else {
            ParentRef p{key.frame, index};
            drop_ref({addr, level_below(key.level)}, &p);
        }
    } else if (raw & pte_bits::kAddressMask) {
        erase_one(nonpresent_, raw & pte_bits::kAddressMask, me, same);
    }
}

// ---- Changes ----------------------------------------------------------------------------

void AddressSpaceIndex::set_entry(uint64_t table_frame, unsigned index, uint64_t new_value) {
    table_frame &= ~(kPageSize4K - 1);
    if (index >= kEntriesPerTable) return;
    bool dated = false;
    // Levels are re-read on every step: applying the change at one level can start or stop
    // tracking the same frame at a lower level (a PML4 that maps itself).
    for (unsigned l = 4; l >= 1; --l) {
        const TableKey key{table_frame, static_cast<PteLevel>(l)};
        Node* n = find(key);
        if (!n) continue;
        const uint64_t old = n->entries[index];
        if (old == new_value) continue;
        if (!dated) {
            ++now_;
            dated = true;
        }
        const EntryChange c{table_frame, key.level, index, old, new_value, n->seq[index], now_};
        for (IndexObserver* o : std::vector<IndexObserver*>(observers_)) o->on_entry_change(c);
        n = find(key);
        if (!n) continue;
        n->entries[index] = new_value;
        // Setting A/D (what the processor itself writes, SDM 4.8) leaves the translation as it
        // was, so the entry keeps its date.
        if (!only_sets_accessed_dirty(old, new_value)) n->seq[index] = now_;
        // Link the new target before unlinking the old one, so that a subtree that stays
        // (attribute-only change) is not dropped and re-read.
        link_entry(key, index, new_value);
        unlink_entry(key, index, old);
    }
}

void AddressSpaceIndex::apply_bytes(uint64_t entry_pa, unsigned offset, unsigned len,
                                    uint64_t value) {
    const uint64_t frame = entry_pa & ~(kPageSize4K - 1);
    const unsigned index = static_cast<unsigned>((entry_pa & (kPageSize4K - 1)) / 8);
    auto it = frame_levels_.find(frame);
    if (it == frame_levels_.end()) return;
    const Node* n = nullptr;
    for (unsigned l = 1; l <= 4 && !n; ++l) {
        if (it->second & (1u << (l - 1))) n = find({frame, static_cast<PteLevel>(l)});
    }
    if (!n) return;
    const uint64_t mask = (len >= 8 ? ~0ull : ((1ull << (8 * len)) - 1)) << (8 * offset);
    const uint64_t cur = n->entries[index];
    set_entry(frame, index, (cur & ~mask) | ((value << (8 * offset)) & mask));
}

void AddressSpaceIndex::write(uint64_t pa, unsigned len, uint64_t value) {
    if (len == 0 || len > 8) return;
    const unsigned offset = static_cast<unsigned>(pa & 7);
    const uint64_t entry_pa = pa & ~7ull;
    if (offset + len <= 8) {
        apply_bytes(entry_pa, offset, len, value);
        return;
    }
    const unsigned first = 8 - offset;  // a misaligned store spanning two entries
    apply_bytes(entry_pa, offset, first, value);
    apply_bytes(entry_pa + 8, 0, len - first, value >> (8 * first));
}

void AddressSpaceIndex::resync(uint64_t pa, uint64_t len) {
    if (len == 0) return;
    const uint64_t first = pa & ~(kPageSize4K - 1);
    const uint64_t last = (pa + (len - 1)) & ~(kPageSize4K - 1);
    std::vector<uint64_t> frames;
    if ((last - first) / kPageSize4K + 1 > frame_levels_.size()) {
        for (const auto& [f, lv] : frame_levels_)
            if (f >= first && f <= last) frames.push_back(f);
        std::sort(frames.begin(), frames.end());
    } else {
        for (uint64_t f = first;; f += kPageSize4K) {
            if (frame_levels_.count(f)) frames.push_back(f);
            if (f == last) break;
        }
    }
    TableEntries fresh;
    for (uint64_t f : frames) {
        if (!reader_.read_table(f, fresh)) continue;
        for (unsigned i = 0; i < kEntriesPerTable; ++i) set_entry(f, i, fresh[i]);
    }
}

void AddressSpaceIndex::add_observer(IndexObserver* o) { observers_.push_back(o); }
void AddressSpaceIndex::remove_observer(IndexObserver* o) {
    observers_.erase(std::remove(observers_.begin(), observers_.end(), o), observers_.end());
}

// ---- Queries ----------------------------------------------------------------------------

bool AddressSpaceIndex::is_table_frame(uint64_t pa) const {
    return frame_levels_.count(pa & ~(kPageSize4K - 1)) != 0;
}

bool AddressSpaceIndex::is_tracked(const TableKey& key) const { return find(key) != nullptr; }

const TableEntries* AddressSpaceIndex::entries(const TableKey& key) const {
    const Node* n = find(key);
    return n ? &n->entries : nullptr;
}

uint64_t AddressSpaceIndex::entry_seq(const TableKey& key, unsigned index) const {
    const Node* n = find(key);
    return n && index < kEntriesPerTable ? n->seq[index] : 0;
}

bool AddressSpaceIndex::up(const TableKey& key, uint64_t offset, uint64_t path_seq,
                           uint64_t top_seq,
                           const std::function<bool(const Place&)>& visit) const {
    const Node* n = find(key);
    if (!n) return true;
    if (n->pins && !visit(Place{key, offset, path_seq, top_seq})) return false;
    if (key.level == PteLevel::Pml4e) return true;
    const PteLevel parent_level = level_above(key.level);
    for (const ParentRef& p : n->parents) {
        const TableKey pk{p.frame, parent_level};
        const Node* pn = find(pk);
        if (!pn) continue;
        const uint64_t off = offset + uint64_t{p.index} * span_of(parent_level);
        const uint64_t s = pn->seq[p.index];
        if (!up(pk, off, std::max(path_seq, s), s, visit)) return false;
    }
    return true;
}

bool AddressSpaceIndex::for_each_place(const TableKey& node,
                                       const std::function<bool(const Place&)>& visit) const {
    return up(node, 0, 0, 0, visit);
}

bool AddressSpaceIndex::for_each_leaf_mapping(
    uint64_t frame, const std::function<bool(const LeafRef&)>& visit) const {
    frame &= ~(kPageSize4K - 1) & pte_bits::kAddressMask;
    for (unsigned s = 0; s < 3; ++s) {
        auto it = leaves_[s].find(frame & ~(kSlotSize[s] - 1));
        if (it == leaves_[s].end()) continue;
        for (const RefKey& r : it->second) {
            const TableKey k{r.frame, r.level};
            const Node* n = find(k);
            if (!n) continue;
            if (!visit(LeafRef{k, r.index, n->entries[r.index], n->seq[r.index]})) return false;
        }
    }
    return true;
}

bool AddressSpaceIndex::for_each_nonpresent_ref(
    uint64_t frame, const std::function<bool(const LeafRef&)>& visit) const {
    auto it = nonpresent_.find(frame & pte_bits::kAddressMask);
    if (it == nonpresent_.end()) return true;
    for (const RefKey& r : it->second) {
        const TableKey k{r.frame, r.level};
        const Node* n = find(k);
        if (!n) continue;
        if (!visit(LeafRef{k, r.index, n->entries[r.index], n->seq[r.index]})) return false;
    }
    return true;
}

AnchoredWalk AddressSpaceIndex::walk_from(const TableKey& anchor, uint64_t va) const {
    AnchoredWalk w;
    TableKey key = anchor;
    for (;;) {
        const Node* n = find(key);
        if (!n) {
            w.stop = AnchoredWalk::Stop::NotTracked;
            w.table = key;
            return w;
        }
        const unsigned idx = index_of(key.level, va);
        const uint64_t raw = n->entries[idx];
        w.table = key;
        w.index = idx;
        w.entry = raw;
        w.path_seq = std::max(w.path_seq, n->seq[idx]);
        if (key == anchor) w.top_seq = n->seq[idx];
        if (!(raw & pte_bits::kPresent)) {
            w.stop = AnchoredWalk::Stop::NotPresent;
            return w;
        }
        if (entry_maps_page(key.level, raw)) {
            w.stop = AnchoredWalk::Stop::Leaf;
            w.page_size = span_of(key.level);
            w.frame = entry_address(key.level, raw);
            return w;
        }
        key = {entry_address(key.level, raw), level_below(key.level)};
    }
}

}  // namespace mmu
