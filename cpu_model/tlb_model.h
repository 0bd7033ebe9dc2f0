// The architectural envelope of every vCPU's TLBs and paging-structure caches (SDM vol. 3A
// 4.10): not what one CPU does, but everything the architecture *allows* a CPU to hold.
//
// Rules (SDM 4.10.2, 4.10.3):
//   * While CR0.PG=1, a logical processor may at any moment (speculative walks included)
//     create TLB entries and paging-structure-cache entries (PML4E, PDPTE, PDE caches) from the
//     paging structures of its current CR3, associated with the current PCID, and through a
//     paging-structure-cache entry of the current PCID it may walk the *current* content of
//     the table that entry points to.
//   * A translation whose leaf has G=1 while CR4.PGE=1 is global: it may be used under every
//     PCID (SDM 4.10.2.4).
//   * Entries stay until an invalidation the SDM *requires* to remove them; every "may
//     invalidate" is ignored. Not-present entries are never cached.
//
// Invalidations (SDM 4.10.4.1, INVLPG and INVPCID instruction pages):
//   MOV to CR3, PCIDE=0       non-global TLB entries and all PS-cache entries of PCID 000H
//   MOV to CR3, PCIDE=1, b63=0 the same for the PCID in CR3[11:0]
//   MOV to CR3, PCIDE=1, b63=1 nothing
//   INVLPG va                 current PCID's entries for va's page, global entries for that
//                             page (any PCID), every PS-cache entry of the current PCID;
//                             a non-canonical va makes it a NOP (64-bit mode)
//   INVPCID 0 (pcid, va)      that PCID's non-global entries for va's page and the PS-cache
//                             entries that would be used to translate va
//   INVPCID 1 (pcid)          that PCID's non-global entries and PS-cache entries
//   INVPCID 2                 everything, global entries included, every PCID
//   INVPCID 3                 every PCID's non-global entries and PS-cache entries
//   MOV to CR4                changing PGE, or PCIDE 1->0: everything, every PCID, globals;
//                             SMEP 0->1: the current PCID's entries; PCIDE 0->1: nothing
//   MOV to CR0                clearing PG: everything, every PCID, globals
//   #PF on va                 the current PCID's entries for va's page and the PS-cache
//                             entries that would be used for va (SDM 4.10.4.1, last item)
// Each vCPU has its own TLB: nothing here ever touches another vCPU's state.
//
// Where the model keeps more than the SDM allows (never less), on purpose:
//   * INVPCID 0 / #PF: PS-cache entries for va's prefix held by a retained root or by an old
//     table above PT level stay, so later content under that prefix still counts;
//   * SMEP 0->1 and #PF keep global entries (they are not tracked per PCID);
//   * entries with reserved bits set are treated as cacheable (SDM: they fault, not cached).
// Contract: every store to a frame the index tracks reaches AddressSpaceIndex::write() (or
// resync()), and every CR0/CR3/CR4 write, INVLPG, INVPCID and delivered #PF reaches the
// matching function here, in the order the vCPUs executed them.
//
// Representation (cost grows with page-table changes and invalidations, never with the
// number of translations a root holds). Per vCPU and PCID:
//   * Time: the AddressSpaceIndex clock, advanced by every page-table write and by every
//     operation here (index.tick()), so that events are strictly ordered.
//   * Records: an anchor table plus the linear region it translates. A root record stands
//     for everything reachable from a root loaded under the PCID; a table record for a
//     PS-cache entry whose paging-structure entry now points elsewhere (its old table stays
//     pinned in the AddressSpaceIndex, so later writes to it are still seen). A record
//     covers the anchor's *current* content, restricted by:
//       - frozen_at: once the PS-cache entries behind a record are invalidated (INVLPG for a
//         record that is not the current root), nothing new can be cached through it: only
//         paths whose entries are all dated <= frozen_at still count;
//       - holes: pages whose translations an INVLPG / INVPCID 0 / #PF removed, unless the
//         record could cache them again afterwards (see HoleSet);
//       - activity: nothing can be cached for a PCID while the vCPU does not run under it,
//         so paths dated after the PCID last stopped being current do not count; and a root
//         no longer in CR3 is reached only through PML4E-cache entries made while it was, so
//         its root-table entries dated after it was left do not count.
//     After a non-global flush a record with CR4.PGE=1 survives as a frozen globals-only
//     record (its global translations stay, for every PCID).
//   * Stale entries: when the index reports that a present leaf reachable through a record
//     changed (other than the processor setting A/D), the old translation becomes an
//     explicit stale entry; when an upper-level entry changed, the old table becomes a new
//     table record (with the parent's freeze time and holes).
// The current root's record is never frozen or holed: its tables may be re-cached at once.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "cpu_model/hole_set.h"
#include "cpu_model/stale_entry_set.h"
#include "cpu_model/tlb_types.h"
#include "mmu/address_space_index.h"

namespace cpu_model {

// Control state of one vCPU as the model sees it.
struct VcpuControl {
    bool paging = false;  // CR0.PG
    bool pge = false;     // CR4.PGE
    bool pcide = false;   // CR4.PCIDE
    bool smep = false;    // CR4.SMEP
    uint64_t root = 0;    // CR3 bits M-1:12
    Pcid pcid = 0;        // current PCID: CR3[11:0] when PCIDE=1, else 0
};

// A place where a vCPU may hold a paging-structure-cache entry pointing to a table.
struct TableHolder {
    unsigned vcpu = 0;
    Pcid pcid = 0;
    CacheSource source = CacheSource::CurrentRoot;
    uint64_t va = 0;  // canonical base of the region the table translates
    mmu::PteLevel level = mmu::PteLevel::Pte;
};

class TlbModel final : public mmu::IndexObserver {
public:
    // maxphyaddr decides which CR3 bits form the root address (SDM 4.5, table 4-12).
    TlbModel(mmu::AddressSpaceIndex& index, unsigned vcpus,
             int maxphyaddr = mmu::pte_bits::kDefaultMaxPhysAddr);
    ~TlbModel() override;
    TlbModel(const TlbModel&) = delete;
    TlbModel& operator=(const TlbModel&) = delete;
    // A copy of `other` observing `index`, which must be a copy of other's index (a machine
    // snapshot): the records' pins are already in it.
    TlbModel(const TlbModel& other, mmu::AddressSpaceIndex& index);
    // Takes other's state; this model's index must have taken other's index's state.
    void assign_state(const TlbModel& other);

    unsigned vcpu_count() const { return static_cast<unsigned>(vcpus_.size()); }

    // Sets the control registers without any invalidation semantics and forgets everything
    // cached on the vCPU (reset, or host-side set-up before the vCPU first runs).
    void set_state(unsigned v, uint64_t cr0, uint64_t cr3, uint64_t cr4);

    // Instruction effects. value/cr0/cr4 are the full register values written; the caller
    // raises #GP for invalid ones (reserved bits, PCIDE=1 with CR3[11:0]!=0, INVPCID with a
    // non-zero PCID while PCIDE=0, ...) instead of calling these.
    InvalidationEffect mov_to_cr3(unsigned v, uint64_t value);
    InvalidationEffect mov_to_cr4(unsigned v, uint64_t cr4);
    InvalidationEffect mov_to_cr0(unsigned v, uint64_t cr0);
    InvalidationEffect invlpg(unsigned v, uint64_t va);
    InvalidationEffect invpcid(unsigned v, InvpcidType type, Pcid pcid, uint64_t va);
    InvalidationEffect page_fault(unsigned v, uint64_t va);

    // ---- Queries ------------------------------------------------------------------------
    const VcpuControl& control(unsigned v) const { return vcpus_.at(v).ctl; }

    // Every translation vCPU v may use for va while running under PCID pcid (its own,
    // global ones, stale ones, and the current root's when pcid is current).
    std::vector<CachedTranslation> translations_at(unsigned v, Pcid pcid, uint64_t va) const;
    // Every translation vCPU v may use under PCID pcid that leads to the 4 KiB frame.
    std::vector<CachedTranslation> reaching_frame(unsigned v, Pcid pcid, uint64_t frame) const;
    // Every vCPU/PCID that may hold a paging-structure-cache entry pointing to the frame as
    // a table (at any level), through a current, retained or stale path.
    std::vector<TableHolder> table_holders(uint64_t table_frame) const;

    struct Stats {
        size_t root_records = 0;    // current and retained roots, all PCIDs
        size_t table_records = 0;   // stale PS-cache records, all PCIDs
        size_t global_records = 0;  // globals-only records
        size_t stale_entries = 0;   // explicit non-global stale entries, all PCIDs
        size_t global_stale_entries = 0;
        size_t frozen_records = 0;
    };
    Stats stats(unsigned v) const;
    // The control state of every vCPU and what each record is (kind, anchor, times, holes).
    uint64_t digest() const;
    // True when vCPU v may use under PCID pcid anything besides its current root's tables:
    // retained roots, old tables, stale entries, or global translations (any PCID).
    bool holds_more_than_current_root(unsigned v, Pcid pcid) const;

    // mmu::IndexObserver
    void on_entry_change(const mmu::EntryChange& change) override;

private:
    static constexpr uint64_t kNotFrozen = ~0ull;
    static constexpr uint32_t kNone = ~0u;

    struct Record {
        uint32_t id = 0;
        unsigned vcpu = 0;
        Pcid pcid = 0;
        bool globals_only = false;
        bool is_root = false;
        mmu::TableKey anchor{};
        uint64_t va_base = 0;  // canonical base of the anchor's region (0 for a root)
        uint64_t frozen_at = kNotFrozen;
        // Roots only: when it stopped being the vCPU's CR3. A root not in CR3 is used only
        // through PML4E-cache entries made before, so root-table entries dated later do not
        // count.
        uint64_t left_at = kNotFrozen;
        HoleSet holes;
    };
    using RecordKey = std::tuple<unsigned, bool, Pcid, uint64_t, uint8_t, uint64_t>;

    struct PcidState {
        std::set<uint32_t> records;
        StaleEntrySet stale;            // non-global
        uint64_t last_active_end = 0;   // index time when it last stopped being current
    };
    struct Vcpu {
        VcpuControl ctl;
        std::map<Pcid, PcidState> pcids;
        std::set<uint32_t> global_records;
        StaleEntrySet global_stale{false};
        uint32_t current = kNone;  // record of the root in CR3 (while paging)
    };

    static RecordKey key_of(const Record& r);
    uint32_t make_record(Record proto);
    void drop_record(uint32_t id);
    void to_globals_only(uint32_t id);
    bool is_current(const Record& r) const;
    CacheSource source_of(const Record& r) const;
    bool region_contains(const Record& r, uint64_t va) const;
    // The last moment the record could gain translations: kNotFrozen while it still can.
    uint64_t cache_until(const Record& r) const;
    void freeze(Record& r, uint64_t now);
    bool visible(const Record& r, uint64_t path_seq, uint64_t top_seq) const;
    bool usable(const Record& r, Pcid pcid, uint64_t va_page, uint64_t size, uint64_t entry,
                uint64_t path_seq, uint64_t top_seq, bool& global) const;
    // Does the record hold a translation for va of the given hole kinds? Counts it in eff.
    void account(const Record& r, uint64_t va, uint8_t kinds, InvalidationEffect& eff) const;

    void enter_current(unsigned v);
    void leave_current(unsigned v);
    InvalidationEffect flush_pcid(unsigned v, Pcid pcid, bool keep_globals);
    InvalidationEffect flush_all(unsigned v);
    InvalidationEffect invalidate_address(unsigned v, Pcid pcid, uint64_t va);

    mmu::AddressSpaceIndex& index_;
    uint64_t root_mask_;
    std::vector<Vcpu> vcpus_;
    std::map<uint32_t, Record> records_;
    std::map<RecordKey, uint32_t> by_key_;
    std::unordered_map<mmu::TableKey, std::vector<uint32_t>, mmu::TableKeyHash> by_anchor_;
    uint32_t next_id_ = 0;
};

}  // namespace cpu_model
