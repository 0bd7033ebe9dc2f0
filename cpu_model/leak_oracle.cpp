#include "mmu/hex.h"
#include "cpu_model/leak_oracle.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string_view>

#include "guest_kernel/abi/asi_emu_abi.h"
#include "mmu/state_digest.h"

namespace cpu_model {
namespace {

using mmu::hex;

bool is_leaf(mmu::PteLevel level, uint64_t raw) {
    return (raw & mmu::pte_bits::kPresent) && mmu::entry_maps_page(level, raw);
}

}  // namespace

const char* rule_name(Rule r) {
    static const char* names[] = {"?", "R1", "R2", "R3", "R4", "R5", "R6"};
    return names[static_cast<int>(r)];
}

const char* rule_title(Rule r) {
    switch (r) {
        case Rule::R1Mapped: return "sensitive frame mapped in a restricted page table";
        case Rule::R2Stale: return "sensitive frame reachable through a stale restricted translation";
        case Rule::R3Global: return "global translation to a sensitive frame survives into the restricted space";
        case Rule::R4Residue: return "frame holding residue reachable in a restricted context before it was zeroed";
        case Rule::R5TableReuse: return "page-table frame freed while a paging-structure cache may still point to it";
        case Rule::R6L1tf: return "not-present restricted entry names a sensitive frame (L1TF)";
    }
    return "?";
}

LeakOracle::LeakOracle(uint64_t ram_size, unsigned vcpus, const CpuProfile& profile, mmu::TableReader& tables,
                       FrameContentSource& content)
    : profile_(profile), content_(content), index_(tables), tlb_(index_, vcpus), ledger_(ram_size),
      table_levels_(ram_size >> 12, 0), vcpu_history_(vcpus) {
    index_.add_observer(this);
}

void LeakOracle::on_table_tracked(const mmu::TableKey& key) {
    const uint64_t i = key.frame >> 12;
    if (i < table_levels_.size()) ++table_levels_.writable(i);
}

void LeakOracle::on_table_untracked(const mmu::TableKey& key) {
    const uint64_t i = key.frame >> 12;
    if (i < table_levels_.size() && table_levels_[i]) --table_levels_.writable(i);
}

// An empty oracle on the same inputs (no RAM yet: assign_state sizes everything), then
// other's state.
LeakOracle::LeakOracle(const LeakOracle& other)
    : LeakOracle(0, other.tlb_.vcpu_count(), other.profile_, other.index_.reader(), other.content_) {
    assign_state(other);
}

LeakOracle::~LeakOracle() { index_.remove_observer(this); }

void LeakOracle::assign_state(const LeakOracle& other) {
    profile_ = other.profile_;
    index_.assign_state(other.index_);
    tlb_.assign_state(other.tlb_);
    ledger_ = other.ledger_;
    spaces_ = other.spaces_;
    table_levels_ = other.table_levels_;
    violations_ = other.violations_;
    violation_count_ = other.violation_count_;
    metrics_ = other.metrics_;
    current_ = nullptr;
    next_index_ = other.next_index_;
    current_index_ = other.current_index_;
    pending_leaves_ = other.pending_leaves_;
    frame_history_ = other.frame_history_;
    vcpu_history_ = other.vcpu_history_;
    flush_history_ = other.flush_history_;
}

uint64_t LeakOracle::state_digest() const {
    mmu::Digest d;
    d.add(index_.digest()).add(tlb_.digest()).add(ledger_.digest());
    for (const auto& [root, info] : spaces_) d.add(root).add(info.pcid).add(info.restricted).add(info.owner);
    for (size_t i = 0; i < table_levels_.size(); ++i)
        if (table_levels_[i]) d.add(i).add(table_levels_[i]);
    d.add(violation_count_).add(next_index_).add(metrics_.pte_writes).add(metrics_.asi_entries);
    return d.value();
}

const AddressSpaceInfo* LeakOracle::restricted_root(uint64_t root) const {
    auto it = spaces_.find(root);
    return it != spaces_.end() && it->second.restricted ? &it->second : nullptr;
}

bool LeakOracle::in_restricted_space(unsigned v) const {
    const VcpuControl& c = tlb_.control(v);
    return c.paging && restricted_root(c.root) != nullptr;
}

void LeakOracle::remember_frame(uint64_t frame, const char* note) {
    auto& h = frame_history_[frame];
    h.push_back({current_index_, *current_, note});
    if (h.size() > kHistory) h.pop_front();
}

// An allocation or free goes into the history of each frame it covers, or of each 2 MiB
// block for pageblock-sized ones (report() looks up both keys), so that the cost follows
// events rather than the number of frames they cover.
void LeakOracle::remember_block(uint64_t pa, uint64_t order, const char* note) {
    const uint64_t base = pa & ~0xfffull, size = 4096ull << order;
    const uint64_t step = order >= 9 ? (1ull << 21) : 4096;
    for (uint64_t k = base & ~(step - 1); k < base + size; k += step) remember_frame(k, note);
}

void LeakOracle::remember_vcpu(unsigned v, const char* note) {
    if (v >= vcpu_history_.size()) return;
    auto& h = vcpu_history_[v];
    h.push_back({current_index_, *current_, note});
    if (h.size() > kHistory) h.pop_front();
}

void LeakOracle::remember_flush(unsigned v, const char* note) {
    remember_vcpu(v, note);
    if (tlb_.vcpu_count() < 2) return;
    flush_history_.push_back({current_index_, *current_, note});
    if (flush_history_.size() > kFlushHistory) flush_history_.pop_front();
}

// With several vCPUs, a stale entry usually means a flush that stayed on the CPU that did
// it: names the flushes other vCPUs did since the frame's mapping last changed (which, as
// vCPU v still holds the entry, did not reach v's TLB: SDM 4.10.5, INVLPG/INVPCID/MOV CR3
// act on the executing logical processor only).
std::string LeakOracle::explain_remote_flushes(unsigned v, uint64_t frame,
                                               std::vector<Violation::Link>& links) const {
    if (tlb_.vcpu_count() < 2) return "";
    uint64_t changed = 0;
    for (uint64_t key : {frame & ~0xfffull, frame & ~((1ull << 21) - 1)})
        if (auto it = frame_history_.find(key); it != frame_history_.end())
            for (const Violation::Link& l : it->second)
                if (l.note == std::string_view("page-table entry changed")) changed = std::max(changed, l.index);
    std::string others;
    for (const Violation::Link& l : flush_history_) {
        if (l.index <= changed || l.event.vcpu == v) continue;
        links.push_back({l.index, l.event, std::string(l.note) + " on vCPU " + std::to_string(l.event.vcpu) +
                                               " only: vCPU " + std::to_string(v) + " kept its entry"});
        const std::string who = "vCPU " + std::to_string(l.event.vcpu);
        if (others.find(who) == std::string::npos) others += (others.empty() ? "" : ", ") + who;
    }
    if (others.empty())
        return "; no vCPU flushed since the entry " + std::string(changed ? "changed" : "was cached");
    return "; since the entry changed, only " + others + " flushed (no shootdown reached vCPU " +
           std::to_string(v) + ")";
}

void LeakOracle::report(Rule rule, unsigned v, uint16_t pcid, uint64_t va, uint64_t frame, std::string how,
                        std::vector<Violation::Link> extra_links) {
    ++violation_count_;
    ++metrics_.violations_by_rule[static_cast<int>(rule)];
    if (violations_.size() >= kMaxStoredViolations) return;
    Violation x;
    x.rule = rule;
    x.vcpu = v;
    x.pcid = pcid;
    x.va = va;
    x.frame = frame;
    x.icount = current_->icount;
    x.rip = current_->rip;
    x.event_index = current_index_;
    x.how = std::move(how);
    for (uint64_t key : {frame & ~0xfffull, frame & ~((1ull << 21) - 1)})
        if (auto it = frame_history_.find(key); it != frame_history_.end())
            x.chain.insert(x.chain.end(), it->second.begin(), it->second.end());
    if (v < vcpu_history_.size()) x.chain.insert(x.chain.end(), vcpu_history_[v].begin(), vcpu_history_[v].end());
    x.chain.insert(x.chain.end(), std::make_move_iterator(extra_links.begin()), std::make_move_iterator(extra_links.end()));
    std::sort(x.chain.begin(), x.chain.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
    x.chain.erase(std::unique(x.chain.begin(), x.chain.end(), [](const auto& a, const auto& b) { return a.index == b.index; }),
                  x.chain.end());
    if (x.chain.empty() || x.chain.back().index != current_index_)
        x.chain.push_back({current_index_, *current_, "the event at which it became reachable"});
    violations_.push_back(std::move(x));
}

void LeakOracle::count_flush(FlushCounts& counts, const InvalidationEffect& eff) {
    if (eff.needed()) ++counts.needed;
    else ++counts.redundant;
}

// ---- Events -------------------------------------------------------------------------------

void LeakOracle::process(const emu::Event& e) {
    current_ = &e;
    current_index_ = next_index_++;
    const unsigned v = e.vcpu;
    if (v >= tlb_.vcpu_count() && e.kind != emu::EventKind::Tracepoint && e.kind != emu::EventKind::PteWrite) return;
    switch (e.kind) {
        case emu::EventKind::VcpuState:
            tlb_.set_state(v, e.a[0], e.a[1], e.a[2]);
            break;
        case emu::EventKind::Cr3Load: {
            const uint64_t value = e.a[0] | (e.a[2] ? cr_bits::kCr3NoFlush : 0);
            const InvalidationEffect eff = tlb_.mov_to_cr3(v, value);
            if (!e.a[2]) count_flush(metrics_.cr3_flush, eff);
            if (e.a[2]) remember_vcpu(v, "CR3 load, no-flush");
            else remember_flush(v, "CR3 load, flushing");
            if (in_restricted_space(v)) {
                ++metrics_.asi_entries;
                check_restricted_entry(v);
            }
            break;
        }
        case emu::EventKind::Cr4Write:
            tlb_.mov_to_cr4(v, e.a[0]);
            remember_vcpu(v, "CR4 write");
            if (in_restricted_space(v)) check_restricted_entry(v);
            break;
        case emu::EventKind::Cr0Write:
            tlb_.mov_to_cr0(v, e.a[0]);
            break;
        case emu::EventKind::Invlpg:
            count_flush(metrics_.invlpg, tlb_.invlpg(v, e.a[0]));
            remember_flush(v, "INVLPG");
            break;
        case emu::EventKind::Invpcid:
            count_flush(metrics_.invpcid,
                        tlb_.invpcid(v, static_cast<InvpcidType>(e.a[0] & 3), static_cast<Pcid>(e.a[1]), e.a[2]));
            remember_flush(v, "INVPCID");
            break;
        case emu::EventKind::Exception:
            // A #PF invalidates the translations that would be used for the faulting address
            // (SDM 4.10.4.1). a0 = vector raised, a3 = vector delivered.
            if (e.a[0] == 14 && e.a[3] == 14) tlb_.page_fault(v, e.a[2]);
            break;
        case emu::EventKind::PteWrite:
            ++metrics_.pte_writes;
            index_.write(e.a[0], static_cast<unsigned>(e.a[1]), e.a[2]);
            after_table_write();
            break;
        case emu::EventKind::Tracepoint:
            on_tracepoint(e);
            break;
        default:
            break;
    }
    current_ = nullptr;
}

void LeakOracle::on_tracepoint(const emu::Event& e) {
    const uint64_t pa = e.a[1], order = e.a[2], gfp = e.a[3], owner = e.a[4];
    switch (e.a[0]) {
        case asi_abi::kTracePageAlloc: {
            if (order > 18) return;
            const bool sensitive = gfp & asi_abi::kGfpSensitive;
            remember_block(pa, order, sensitive ? "allocated sensitive" : "allocated nonsensitive");
            for (uint64_t f = pa & ~0xfffull; f < (pa & ~0xfffull) + (4096ull << order); f += 4096) {
                ledger_.allocate(f, sensitive, owner);
                if (sensitive) frame_became_sensitive(f);
                else if (ledger_.residue(f)) check_restricted_mappings(f, true);
            }
            break;
        }
        case asi_abi::kTracePageFree: {
            if (order > 18) return;
            remember_block(pa, order, "freed");
            for (uint64_t f = pa & ~0xfffull; f < (pa & ~0xfffull) + (4096ull << order); f += 4096) {
                // R5: a frame that a paging-structure cache may still use as a table is reused.
                for (const TableHolder& h : tlb_.table_holders(f)) {
                    report(Rule::R5TableReuse, h.vcpu, h.pcid, h.va, f,
                           std::string("vCPU ") + std::to_string(h.vcpu) + " PCID " + std::to_string(h.pcid) +
                               " may hold a " + to_string(h.source) + " paging-structure-cache entry for VA " +
                               hex(h.va) + " that points to this table frame");
                    break;
                }
                ledger_.free(f);
            }
            break;
        }
        case asi_abi::kTraceAddressSpaceRegister: {
            AddressSpaceInfo info{static_cast<uint16_t>(e.a[2]), e.a[3] == asi_abi::kSpaceRestricted, e.a[4]};
            const uint64_t root = e.a[1] & mmu::pte_bits::kAddressMask;
            const bool was_restricted = restricted_root(root) != nullptr;
            spaces_[root] = info;
            if (info.restricted && !was_restricted) {
                index_.pin_root(root);  // its mappings are watched even before it is loaded
                for (uint64_t f : std::vector<uint64_t>(ledger_.sensitive_frames().begin(), ledger_.sensitive_frames().end()))
                    check_restricted_mappings(f, false);
                for (uint64_t f : std::vector<uint64_t>(ledger_.residue_frames().begin(), ledger_.residue_frames().end()))
                    check_restricted_mappings(f, true);
            }
            break;
        }
        case asi_abi::kTraceAddressSpaceUnregister: {
            const uint64_t root = e.a[1] & mmu::pte_bits::kAddressMask;
            if (restricted_root(root)) index_.unpin_root(root);
            spaces_.erase(root);
            break;
        }
        default:
            break;
    }
}

// (a): the frame just became sensitive.
void LeakOracle::frame_became_sensitive(uint64_t frame) {
    check_restricted_mappings(frame, false);
    for (unsigned v = 0; v < tlb_.vcpu_count(); ++v)
        if (in_restricted_space(v)) check_cached_paths(v, frame);
    check_l1tf(frame);
}

// R1 / R4: a restricted root's tables map the frame. A frame reachable only through
// user-accessible mappings of its own process's address spaces is not a secret to anyone there.
void LeakOracle::check_restricted_mappings(uint64_t frame, bool residue_only) {
    index_.for_each_leaf_mapping(frame, [&](const mmu::LeafRef& leaf) {
        bool reported = false;
        index_.for_each_place(leaf.table, [&](const mmu::Place& place) {
            const AddressSpaceInfo* space = place.anchor.level == mmu::PteLevel::Pml4e ? restricted_root(place.anchor.frame) : nullptr;
            if (!space) return true;
            const uint64_t page = mmu::span_of(leaf.table.level);
            const uint64_t va = mmu::canonical_va(place.va_offset + leaf.index * page + (frame & (page - 1)));
            const uint64_t owner = ledger_.owner(frame);
            if (owner != 0 && owner == space->owner && user_accessible(place.anchor, va)) return true;
            const std::string how = std::string("restricted root ") + hex(place.anchor.frame) + " (PCID " +
                                    std::to_string(space->pcid) + ") maps VA " + hex(va) + " through entry " +
                                    hex(leaf.entry) + " at table " + hex(leaf.table.frame) + "[" +
                                    std::to_string(leaf.index) + "]";
            if (ledger_.sensitive(frame) && !residue_only) {
                report(Rule::R1Mapped, current_->vcpu, space->pcid, va, frame, how);
            } else if (ledger_.residue(frame)) {
                if (content_.frame_is_zero(frame)) ledger_.clear_residue(frame);
                else report(Rule::R4Residue, current_->vcpu, space->pcid, va, frame, how + ", not zeroed");
            }
            reported = true;
            return false;
        });
        return !reported;
    });
}

// R2 / R3: what vCPU v may use in its current (restricted) PCID that reaches the frame,
// other than its current tables (R1's business).
void LeakOracle::check_cached_paths(unsigned v, uint64_t frame) {
    const VcpuControl& c = tlb_.control(v);
    for (const CachedTranslation& t : tlb_.reaching_frame(v, c.pcid, frame)) {
        if (t.source == CacheSource::CurrentRoot && !t.global) continue;
        const uint64_t owner = ledger_.owner(frame);
        const AddressSpaceInfo* space = restricted_root(c.root);
        if (owner != 0 && space && owner == space->owner && (t.entry & mmu::pte_bits::kUser) &&
            (t.source != CacheSource::CurrentRoot || user_accessible({c.root, mmu::PteLevel::Pml4e}, t.va_page)))
            continue;
        const uint64_t va = t.va_page + (frame - t.frame);
        std::string how = std::string("vCPU ") + std::to_string(v) + " in the restricted space (PCID " +
                                std::to_string(c.pcid) + ") may still use a " + to_string(t.source) +
                                (t.global ? " global" : "") + " translation VA " + hex(va) + " -> " + hex(frame) +
                                " (entry " + hex(t.entry) + ")";
        if (ledger_.sensitive(frame)) {
            std::vector<Violation::Link> links;
            if (!t.global) how += explain_remote_flushes(v, frame, links);
            report(t.global ? Rule::R3Global : Rule::R2Stale, v, c.pcid, va, frame, how, std::move(links));
        } else if (ledger_.residue(frame)) {
            if (content_.frame_is_zero(frame)) ledger_.clear_residue(frame);
            else report(Rule::R4Residue, v, c.pcid, va, frame, how + ", not zeroed");
        }
        return;  // one report per frame and moment
    }
}

// (c): a CR3 load (or CR4 write) put vCPU v into the restricted space: whatever it keeps
// besides its current tables must not reach a secret.
void LeakOracle::check_restricted_entry(unsigned v) {
    if (!tlb_.holds_more_than_current_root(v, tlb_.control(v).pcid))
        return;  // nothing but the current root: R1 has already judged its tables
    for (uint64_t f : std::vector<uint64_t>(ledger_.sensitive_frames().begin(), ledger_.sensitive_frames().end()))
        check_cached_paths(v, f);
    for (uint64_t f : std::vector<uint64_t>(ledger_.residue_frames().begin(), ledger_.residue_frames().end()))
        check_cached_paths(v, f);
}

// R6 (L1TF profile): a not-present entry of a restricted table whose address field names the
// sensitive frame can feed a speculative L1D load (Linux inverts such entries).
void LeakOracle::check_l1tf(uint64_t frame) {
    if (!profile_.l1tf_vulnerable || !ledger_.sensitive(frame)) return;
    auto check = [&](uint64_t named) {
        index_.for_each_nonpresent_ref(named, [&](const mmu::LeafRef& ref) {
            bool found = false;
            index_.for_each_place(ref.table, [&](const mmu::Place& place) {
                const AddressSpaceInfo* space =
                    place.anchor.level == mmu::PteLevel::Pml4e ? restricted_root(place.anchor.frame) : nullptr;
                if (!space) return true;
                const uint64_t va = mmu::canonical_va(place.va_offset + ref.index * mmu::span_of(ref.table.level));
                report(Rule::R6L1tf, current_->vcpu, space->pcid, va, frame,
                       std::string("not-present entry ") + hex(ref.entry) + " at table " + hex(ref.table.frame) + "[" +
                           std::to_string(ref.index) + "] of restricted root " + hex(place.anchor.frame) +
                           " still names frame " + hex(named));
                found = true;
                return false;
            });
            return !found;
        });
    };
    check(frame);
    // A not-present PDE/PDPTE names the base of the block it mapped.
    if ((frame & ((1ull << 21) - 1)) != 0) check(frame & ~((1ull << 21) - 1));
}

// ---- Page-table changes -------------------------------------------------------------------

void LeakOracle::on_entry_change(const mmu::EntryChange& c) {
    const bool old_leaf = is_leaf(c.level, c.old_value), new_leaf = is_leaf(c.level, c.new_value);
    if (old_leaf) remember_frame(mmu::entry_address(c.level, c.old_value), "page-table entry changed");
    if (new_leaf) {
        const uint64_t base = mmu::entry_address(c.level, c.new_value);
        remember_frame(base, "page-table entry now maps it");
        if (ledger_.range_has_secrets(base, mmu::span_of(c.level))) pending_leaves_.push_back(c);
    } else if (c.new_value & mmu::pte_bits::kPresent) {
        // A table linked in: its leaves (read by the index, no EntryChange of their own)
        // become reachable now and are judged once the write is applied.
        if (c.level != mmu::PteLevel::Pte) pending_leaves_.push_back(c);
    } else if (profile_.l1tf_vulnerable && c.new_value != 0) {
        pending_leaves_.push_back(c);
    }
}

// The US bit of every entry on va's path from the root: an address is user-mode only when
// U/S=1 at every level (SDM 4.6.1).
bool LeakOracle::user_accessible(const mmu::TableKey& root, uint64_t va) const {
    mmu::TableKey key = root;
    for (;;) {
        const mmu::TableEntries* entries = index_.entries(key);
        if (!entries) return false;
        const uint64_t e = (*entries)[mmu::index_of(key.level, va)];
        if (!(e & mmu::pte_bits::kPresent) || !(e & mmu::pte_bits::kUser)) return false;
        if (mmu::entry_maps_page(key.level, e)) return true;
        key = {mmu::entry_address(key.level, e), static_cast<mmu::PteLevel>(static_cast<int>(key.level) - 1)};
    }
}

void LeakOracle::judge_secret_frame_mapped(uint64_t f) {
    check_restricted_mappings(f, !ledger_.sensitive(f));
    for (unsigned v = 0; v < tlb_.vcpu_count(); ++v)
        if (in_restricted_space(v)) check_cached_paths(v, f);
}

// Leaves of a newly linked table (and its subtables) that map secrets, or (L1TF) not-present
// entries that name them.
void LeakOracle::check_linked_subtree(const mmu::TableKey& table, int depth) {
    const mmu::TableEntries* entries = index_.entries(table);
    if (!entries || depth > 4) return;
    const uint64_t span = mmu::span_of(table.level);
    for (unsigned i = 0; i < entries->size(); ++i) {
        const uint64_t e = (*entries)[i];
        if (!(e & mmu::pte_bits::kPresent)) {
            if (profile_.l1tf_vulnerable && e) check_l1tf_range(e & mmu::pte_bits::kAddressMask, 4096);
            continue;
        }
        if (mmu::entry_maps_page(table.level, e)) {
            const uint64_t base = mmu::entry_address(table.level, e);
            if (!ledger_.range_has_secrets(base, span)) continue;
            for (uint64_t f = base; f < base + span; f += 4096)
                if (ledger_.sensitive(f) || ledger_.residue(f)) judge_secret_frame_mapped(f);
        } else if (table.level != mmu::PteLevel::Pte) {
            check_linked_subtree({mmu::entry_address(table.level, e),
                                  static_cast<mmu::PteLevel>(static_cast<int>(table.level) - 1)},
                                 depth + 1);
        }
    }
}

// R6 for a not-present entry naming [base, base + size): the first sensitive frame in it.
void LeakOracle::check_l1tf_range(uint64_t base, uint64_t size) {
    if (!profile_.l1tf_vulnerable || !ledger_.range_has_secrets(base, size)) return;
    const auto& sensitive = ledger_.sensitive_frames();
    for (auto it = sensitive.lower_bound(base); it != sensitive.end() && *it < base + size; ++it) {
        const uint64_t before = violation_count_;
        check_l1tf(*it);
        if (violation_count_ != before) return;
    }
}

// (b): once the write is applied, a new leaf that maps secrets is judged.
void LeakOracle::after_table_write() {
    std::vector<mmu::EntryChange> pending;
    pending.swap(pending_leaves_);
    for (const mmu::EntryChange& c : pending) {
        if (!(c.new_value & mmu::pte_bits::kPresent)) {
            // A not-present entry with PS set names a whole large page's frames.
            const bool large = c.level != mmu::PteLevel::Pte && (c.new_value & mmu::pte_bits::kPageSize);
            const uint64_t size = large ? mmu::span_of(c.level) : 4096;
            check_l1tf_range(c.new_value & mmu::pte_bits::kAddressMask & ~(size - 1), size);
            continue;
        }
        if (!mmu::entry_maps_page(c.level, c.new_value)) {
            bool restricted = false;
            index_.for_each_place({c.table_frame, c.level}, [&](const mmu::Place& p) {
                restricted = p.anchor.level == mmu::PteLevel::Pml4e && restricted_root(p.anchor.frame);
                return !restricted;
            });
            if (restricted)
                check_linked_subtree({mmu::entry_address(c.level, c.new_value),
                                      static_cast<mmu::PteLevel>(static_cast<int>(c.level) - 1)},
                                     0);
            continue;
        }
        const uint64_t base = mmu::entry_address(c.level, c.new_value), size = mmu::span_of(c.level);
        for (uint64_t f = base; f < base + size; f += 4096)
            if (ledger_.sensitive(f) || ledger_.residue(f)) judge_secret_frame_mapped(f);
    }
}

}  // namespace cpu_model
