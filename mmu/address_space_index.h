// Which physical frames are paging structures, where they sit under which anchors, and which
// leaf entries map a given frame, kept up to date from page-table-entry writes.
//
// Model. A *node* is a frame used as a paging structure at one level (SDM vol. 3A 4.5):
// level 4 = PML4 table, 3 = PDPT, 2 = PD, 1 = PT. A present entry of a level-L node that does
// not map a page links the level-(L-1) node at its address; a present entry that maps a page
// (PTE; PDE/PDPTE with PS=1) is a *leaf* and goes into the reverse map. Because the level falls
// by one on every link, the node graph is acyclic even when tables are shared or a PML4 maps
// itself. A frame used at two levels is two nodes.
//
// A node is *tracked* while it is pinned (an anchor: a CR3 root, or a table a TLB model still
// holds a paging-structure-cache entry for) or linked from a tracked node. When a node becomes
// tracked its 512 entries are read once through the TableReader and shadowed; from then on the
// shadow changes only through write()/set_entry()/resync(), so the cost of the index grows with
// the number of page-table changes, not with RAM size. When a node stops being tracked its
// links and leaves are removed recursively.
//
// Every entry carries a write sequence number (now() after the write that stored its value;
// for content read when the node became tracked, the time it became tracked; a write that
// only sets A and/or D in a present entry keeps the date, the translation being unchanged,
// SDM 4.8). A path's sequence is the largest over its entries: the moment since which the
// whole path has existed.
// Observers get every entry change *before* the index applies it, so the old subtree is still
// tracked while they look at it (and may pin it).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "mmu/physical_memory.h"
#include "mmu/pte.h"
#include "mmu/restorable.h"

namespace mmu {

using TableEntries = std::array<uint64_t, kEntriesPerTable>;

// Where the content of a frame that becomes a paging structure comes from. Live runs read
// guest RAM; a replay can serve recorded contents instead.
class TableReader {
public:
    virtual ~TableReader() = default;
    // Fills out with the 512 entries of the 4 KiB frame at table_pa; false when the frame is not
    // in RAM (the node is then tracked as all-not-present and can never change).
    virtual bool read_table(uint64_t table_pa, TableEntries& out) = 0;
};

class RamTableReader final : public TableReader {
public:
    explicit RamTableReader(const PhysicalMemory& mem) : mem_(mem) {}
    bool read_table(uint64_t table_pa, TableEntries& out) override;

private:
    const PhysicalMemory& mem_;
};

struct TableKey {
    uint64_t frame = 0;
    PteLevel level = PteLevel::Pte;
    friend bool operator==(const TableKey&, const TableKey&) = default;
};

struct TableKeyHash {
    size_t operator()(const TableKey& k) const {
        return std::hash<uint64_t>()(k.frame ^ (uint64_t{static_cast<uint8_t>(k.level)} << 60));
    }
};

// One entry of a tracked node changed from old_value to new_value.
struct EntryChange {
    uint64_t table_frame = 0;
    PteLevel level = PteLevel::Pte;  // level of the node (of its entries)
    unsigned index = 0;
    uint64_t old_value = 0;
    uint64_t new_value = 0;
    uint64_t old_seq = 0;  // sequence number of old_value
    uint64_t seq = 0;      // now() for this write (new_value keeps old_seq if it only sets A/D)
};

class IndexObserver {
public:
    virtual ~IndexObserver() = default;
    // Called before the index updates links and leaves for the change.
    virtual void on_entry_change(const EntryChange& change) = 0;
    // A node became tracked (its content was just read) / stopped being tracked.
    virtual void on_table_tracked(const TableKey&) {}
    virtual void on_table_untracked(const TableKey&) {}
};

// One way down from a pinned anchor to a node: the anchor, where the node's region starts
// relative to the anchor's region, and since when the path of linking entries has existed.
struct Place {
    TableKey anchor;
    uint64_t va_offset = 0;  // node region base - anchor region base (not sign-extended)
    uint64_t path_seq = 0;   // max sequence number of the linking entries (0 at the anchor)
    uint64_t top_seq = 0;    // sequence number of the anchor's own entry on the path
                             // (0 when the node is the anchor itself)
};

// A present leaf entry.
struct LeafRef {
    TableKey table;  // the node holding the entry; its level is the leaf level
    unsigned index = 0;
    uint64_t entry = 0;
    uint64_t seq = 0;
};

// Result of walking the shadowed tables from an anchor.
struct AnchoredWalk {
    enum class Stop : uint8_t { Leaf, NotPresent, NotTracked };
    Stop stop = Stop::NotTracked;
    TableKey table;           // node holding the last entry read
    unsigned index = 0;
    uint64_t entry = 0;       // the leaf (Stop::Leaf) or the not-present entry
    uint64_t path_seq = 0;    // max sequence number over every entry read, the last included
    uint64_t top_seq = 0;     // sequence number of the entry read in the anchor itself
    uint64_t page_size = 0;   // Stop::Leaf only
    uint64_t frame = 0;       // Stop::Leaf only: base of the mapped page
};

// Sign-extends bit 47: the canonical form of a 48-bit linear address (SDM 3.3.7.1).
constexpr uint64_t canonical_va(uint64_t va) {
    va &= (1ull << 48) - 1;
    return (va & (1ull << 47)) ? (va | 0xffff'0000'0000'0000ull) : va;
}

// Bytes of linear-address space a node at this level translates: 512 entries' spans.
constexpr uint64_t region_size(PteLevel level) {
    return static_cast<uint64_t>(kEntriesPerTable) * span_of(level);
}

class AddressSpaceIndex {
public:
    explicit AddressSpaceIndex(TableReader& reader);
    ~AddressSpaceIndex();
    // A deep copy with the same reader and no observers (a machine snapshot; the copy's
    // owners register themselves).
    AddressSpaceIndex(const AddressSpaceIndex& other);
    AddressSpaceIndex& operator=(const AddressSpaceIndex&) = delete;
    // Takes other's tracked state (restoring a machine snapshot), keeping this index's reader
    // and observers and reusing its allocations. Observers are not notified: their own state
    // is restored alongside.
    void assign_state(const AddressSpaceIndex& other);
    TableReader& reader() const { return reader_; }

    // ---- Anchors ------------------------------------------------------------------------
    // Pins are counted; a pinned node stays tracked and is reported as an anchor by places.
    void pin(const TableKey& key);
    void unpin(const TableKey& key);
    uint32_t pin_count(const TableKey& key) const;
    void pin_root(uint64_t root_pa) { pin({root_pa, PteLevel::Pml4e}); }
    void unpin_root(uint64_t root_pa) { unpin({root_pa, PteLevel::Pml4e}); }

    // ---- Changes ------------------------------------------------------------------------
    // A guest store of len (1..8) bytes of value (little-endian) at pa. Stores that do not touch
    // a tracked frame are ignored; may be called before or after RAM itself is updated.
    void write(uint64_t pa, unsigned len, uint64_t value);
    // Entry `index` of the tracked frame table_frame now holds new_value.
    void set_entry(uint64_t table_frame, unsigned index, uint64_t new_value);
    // Re-reads every tracked frame overlapping [pa, pa + len) through the reader and applies
    // the differences (for bulk host-side changes: rep stos emulation, snapshot restore).
    void resync(uint64_t pa, uint64_t len);

    void add_observer(IndexObserver* o);
    void remove_observer(IndexObserver* o);

    // The clock of sequence numbers: advanced by every entry change and by tick().
    uint64_t now() const { return now_; }
    // Advances the clock without a change, so that users can date their own events (a CR3
    // load, an invalidation) strictly between page-table writes.
    uint64_t tick() { return ++now_; }

    // ---- Queries ------------------------------------------------------------------------
    // True when the frame containing pa is tracked at some level (the write-hook filter).
    // Visitors given to the for_each_* functions must not change the index.
    bool is_table_frame(uint64_t pa) const;
    bool is_tracked(const TableKey& key) const;
    size_t node_count() const { return nodes_.size(); }
    // Every tracked node's entries, sequence numbers, links and pins, and the clock.
    uint64_t digest() const;
    // Shadowed value and sequence number of an entry of a tracked node.
    const TableEntries* entries(const TableKey& key) const;
    uint64_t entry_seq(const TableKey& key, unsigned index) const;

    // Every path from a pinned anchor down to the node (the node itself counts when pinned).
    // The visitor returns false to stop; the function returns false if it was stopped.
    bool for_each_place(const TableKey& node, const std::function<bool(const Place&)>& visit) const;
    // Every present leaf entry (4 KiB, 2 MiB or 1 GiB) whose page contains the 4 KiB frame.
    bool for_each_leaf_mapping(uint64_t frame,
                               const std::function<bool(const LeafRef&)>& visit) const;
    // Every not-present entry whose address field (bits 51:12) names the 4 KiB frame: what an
    // L1 terminal fault can load from (Linux inverts these fields for that reason).
    bool for_each_nonpresent_ref(uint64_t frame,
                                 const std::function<bool(const LeafRef&)>& visit) const;
    // Walks the shadowed tables from the anchor node for va (only va's bits below the anchor's
    // region size are used).
    AnchoredWalk walk_from(const TableKey& anchor, uint64_t va) const;

private:
    struct ParentRef {
        uint64_t frame;
        unsigned index;
    };
    struct Node {
        TableEntries entries{};
        std::array<uint64_t, kEntriesPerTable> seq{};
        std::vector<ParentRef> parents;  // nodes one level up linking this one
        uint32_t pins = 0;
        bool tracked() const { return pins != 0 || !parents.empty(); }
    };
    struct RefKey {
        uint64_t frame;
        unsigned index;
        PteLevel level;
    };

    Node* find(const TableKey& key);
    const Node* find(const TableKey& key) const;
    void add_ref(const TableKey& key, const ParentRef* parent);
    void drop_ref(const TableKey& key, const ParentRef* parent);
    void activate(const TableKey& key, Node& node);
    void deactivate(const TableKey& key);
    void link_entry(const TableKey& key, unsigned index, uint64_t raw);
    void unlink_entry(const TableKey& key, unsigned index, uint64_t raw);
    bool up(const TableKey& node, uint64_t offset, uint64_t path_seq, uint64_t top_seq,
            const std::function<bool(const Place&)>& visit) const;
    void apply_bytes(uint64_t entry_pa, unsigned offset, unsigned len, uint64_t value);

    TableReader& reader_;
    uint64_t now_ = 0;
    std::unordered_map<TableKey, std::unique_ptr<Node>, TableKeyHash> nodes_;
    std::unordered_map<uint64_t, uint8_t> frame_levels_;  // frame -> bit (level-1) tracked
    // Leaves keyed by page base, one map per page size (4K, 2M, 1G).
    std::array<RestorableMap<uint64_t, std::vector<RefKey>>, 3> leaves_;
    RestorableMap<uint64_t, std::vector<RefKey>> nonpresent_;
    std::vector<IndexObserver*> observers_;
};

}  // namespace mmu
