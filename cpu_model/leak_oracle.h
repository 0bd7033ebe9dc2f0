// The leak oracle (DESIGN 5): a pure function of the event stream that reports the first
// moment a sensitive physical frame becomes reachable while a restricted CR3 is, or can
// become, active: through the page tables (R1, R4, R6) or through a translation the
// architecture allows a TLB or paging-structure cache to keep (R2, R3, R5).
//
// Inputs it never takes from the guest's word: page-table contents (observed writes, and
// snapshots of a frame when it becomes a table), CR3/CR4/CR0 loads, INVLPG, INVPCID, #PF.
// What only the guest knows comes from its tracepoints: allocations and frees with their gfp
// flags and owner (the frame ledger), and which roots are restricted (registrations).
//
// Reporting moments (DESIGN 5): (a) a frame becomes sensitive while a vCPU in the restricted
// space can reach it; (b) a page-table write makes a sensitive (or residue) frame reachable
// from a restricted root or through a stale path of a vCPU in the restricted space; (c) a CR3
// load puts a vCPU into the restricted space while what it keeps (no-flush, globals, paging-
// structure caches) still reaches a sensitive frame. Stale restricted entries on a vCPU outside
// the restricted space are not yet a leak.
#pragma once
#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "cpu_model/cpu_profile.h"
#include "cpu_model/frame_ledger.h"
#include "cpu_model/tlb_model.h"
#include "cpu_model/violation.h"
#include "emu/events.h"
#include "mmu/address_space_index.h"
#include "mmu/restorable.h"

namespace cpu_model {

// Whether a frame's bytes are all zero. Live: guest RAM; replay: the recorded answers.
class FrameContentSource {
public:
    virtual ~FrameContentSource() = default;
    virtual bool frame_is_zero(uint64_t frame) = 0;
};

struct FlushCounts {
    uint64_t needed = 0;     // removed something the page tables no longer back
    uint64_t redundant = 0;  // removed nothing stale: the RFC's "pointless shootdowns"
};

struct OracleMetrics {
    FlushCounts cr3_flush, invlpg, invpcid;
    uint64_t pte_writes = 0;
    uint64_t asi_entries = 0;  // CR3 loads into a restricted root
    std::array<uint64_t, 7> violations_by_rule{};
};

struct AddressSpaceInfo {
    uint16_t pcid = 0;
    bool restricted = false;
    uint64_t owner = 0;
};

class LeakOracle final : private mmu::IndexObserver {
public:
    LeakOracle(uint64_t ram_size, unsigned vcpus, const CpuProfile& profile, mmu::TableReader& tables,
               FrameContentSource& content);
    ~LeakOracle() override;
    // A deep copy judging from the same state with the same inputs (a machine snapshot).
    LeakOracle(const LeakOracle& other);
    LeakOracle& operator=(const LeakOracle&) = delete;
    // Takes the state of `other`, a copy of this oracle taken earlier (restoring a machine
    // snapshot), reusing this oracle's allocations: a restore costs no more at 1 GiB of RAM
    // than at 64 MiB.
    void assign_state(const LeakOracle& other);
    // A digest of everything that decides future verdicts (page-table index, TLB model,
    // ledger, registrations, counters): equal digests, equal futures. For snapshot tests.
    uint64_t state_digest() const;

    // Feeds one event. TableSnapshot/TableEntry/FrameContent are inputs of the readers, not
    // of the oracle: callers route them there.
    void process(const emu::Event& e);

    // The write-hook filter: stores to these frames must reach process() as PteWrite.
    // A byte per frame, so that the check costs one load on every guest store it watches.
    bool is_table_frame(uint64_t pa) const {
        const uint64_t i = pa >> 12;
        return i < table_levels_.size() ? table_levels_[i] != 0 : index_.is_table_frame(pa);
    }
    const std::vector<Violation>& violations() const { return violations_; }
    uint64_t violation_count() const { return violation_count_; }
    const OracleMetrics& metrics() const { return metrics_; }
    const CpuProfile& profile() const { return profile_; }
    uint64_t events_processed() const { return next_index_; }

private:
    void on_entry_change(const mmu::EntryChange& change) override;
    void on_table_tracked(const mmu::TableKey& key) override;
    void on_table_untracked(const mmu::TableKey& key) override;
    void on_tracepoint(const emu::Event& e);
    void after_table_write();
    void frame_became_sensitive(uint64_t frame);
    void check_restricted_mappings(uint64_t frame, bool residue_only);
    void check_cached_paths(unsigned v, uint64_t frame);
    void check_restricted_entry(unsigned v);
    void check_l1tf(uint64_t frame);
    void check_l1tf_range(uint64_t base, uint64_t size);
    void check_linked_subtree(const mmu::TableKey& table, int depth);
    bool user_accessible(const mmu::TableKey& root, uint64_t va) const;
    void judge_secret_frame_mapped(uint64_t frame);
    bool in_restricted_space(unsigned v) const;
    const AddressSpaceInfo* restricted_root(uint64_t root) const;
    void count_flush(FlushCounts& counts, const InvalidationEffect& eff);
    void report(Rule rule, unsigned v, uint16_t pcid, uint64_t va, uint64_t frame, std::string how,
                std::vector<Violation::Link> extra_links = {});
    void remember_frame(uint64_t frame, const char* note);
    void remember_vcpu(unsigned v, const char* note);
    void remember_flush(unsigned v, const char* note);
    std::string explain_remote_flushes(unsigned v, uint64_t frame, std::vector<Violation::Link>& links) const;
    void remember_block(uint64_t pa, uint64_t order, const char* note);

    CpuProfile profile_;
    FrameContentSource& content_;
    mmu::AddressSpaceIndex index_;
    TlbModel tlb_;
    FrameLedger ledger_;
    std::map<uint64_t, AddressSpaceInfo> spaces_;  // root -> registration
    mmu::RestorableArray<uint8_t> table_levels_;   // per frame: levels it is tracked at
    std::vector<Violation> violations_;
    uint64_t violation_count_ = 0;
    OracleMetrics metrics_;

    // The event being processed.
    const emu::Event* current_ = nullptr;
    uint64_t next_index_ = 0;
    uint64_t current_index_ = 0;
    // Leaves written by the current PteWrite that map secrets: checked once it is applied.
    std::vector<mmu::EntryChange> pending_leaves_;

    // Bounded histories for the causal chain of a report.
    static constexpr size_t kHistory = 6;
    std::unordered_map<uint64_t, std::deque<Violation::Link>> frame_history_;
    std::vector<std::deque<Violation::Link>> vcpu_history_;
    // The latest TLB flushes of every vCPU (SMP: a flush done on one CPU only).
    static constexpr size_t kFlushHistory = 16;
    std::deque<Violation::Link> flush_history_;
    static constexpr size_t kMaxStoredViolations = 1000;
};

}  // namespace cpu_model
