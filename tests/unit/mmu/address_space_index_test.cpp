#include "mmu/address_space_index.h"

#include <gtest/gtest.h>

#include <set>
#include <tuple>
#include <vector>

#include "tests/unit/mmu/page_table_builder.h"

namespace mmu {
namespace {

using namespace pte_bits;
using testing::FakeRam;
using testing::PageTableBuilder;

constexpr uint64_t kRam = 8ull << 20;
constexpr uint64_t kVa = 0xffff888000345000ull;

// Counts reads, to show that tables are read once when they become tracked.
class CountingReader final : public TableReader {
public:
    explicit CountingReader(const PhysicalMemory& m) : inner_(m) {}
    bool read_table(uint64_t pa, TableEntries& out) override {
        ++reads;
        return inner_.read_table(pa, out);
    }
    int reads = 0;

private:
    RamTableReader inner_;
};

struct Recorder final : IndexObserver {
    explicit Recorder(AddressSpaceIndex& i) : index(i) {}
    void on_entry_change(const EntryChange& c) override {
        changes.push_back(c);
        // The old subtree is still tracked while observers look at it.
        if ((c.old_value & kPresent) && !entry_maps_page(c.level, c.old_value) &&
            c.level != PteLevel::Pte) {
            old_child_tracked.push_back(index.is_tracked(
                {entry_address(c.level, c.old_value),
                 static_cast<PteLevel>(static_cast<unsigned>(c.level) - 1)}));
        }
    }
    void on_table_tracked(const TableKey& k) override { tracked.push_back(k); }
    void on_table_untracked(const TableKey& k) override { untracked.push_back(k); }
    AddressSpaceIndex& index;
    std::vector<EntryChange> changes;
    std::vector<bool> old_child_tracked;
    std::vector<TableKey> tracked, untracked;
};

class IndexTest : public ::testing::Test {
protected:
    IndexTest() : ram(kRam), b(ram, 1ull << 20), reader(ram.mem()), index(reader) {}

    // Writes through RAM and reports the store, as the emulator's write hook does.
    void store(uint64_t pa, uint64_t v) {
        ram.write(pa, v);
        index.write(pa, 8, v);
    }
    std::vector<std::tuple<uint64_t, uint64_t>> places_of_frame(uint64_t frame) {
        std::vector<std::tuple<uint64_t, uint64_t>> out;  // (anchor, canonical va)
        index.for_each_leaf_mapping(frame, [&](const LeafRef& l) {
            index.for_each_place(l.table, [&](const Place& p) {
                out.emplace_back(p.anchor.frame,
                                 canonical_va(p.va_offset + l.index * span_of(l.table.level)));
                return true;
            });
            return true;
        });
        return out;
    }

    FakeRam ram;
    PageTableBuilder b;
    CountingReader reader;
    AddressSpaceIndex index;
};

TEST_F(IndexTest, PinningARootTracksItsTablesAndLeaves) {
    uint64_t root = b.new_root();
    b.map(root, kVa, 0x60'1000, kWritable);
    b.map(root, 0x40'0000, 0x80'0000, kWritable, kPageSize2M);
    index.pin_root(root);
    EXPECT_TRUE(index.is_table_frame(root));
    EXPECT_EQ(index.node_count(), 1u + 2 + 2 + 1);  // PML4, 2 PDPTs, 2 PDs, 1 PT
    EXPECT_EQ(places_of_frame(0x60'1000),
              (std::vector<std::tuple<uint64_t, uint64_t>>{{root, kVa}}));
    // Every 4 KiB frame of the 2 MiB page is found.
    EXPECT_EQ(places_of_frame(0x80'0000 + 0x1f'f000),
              (std::vector<std::tuple<uint64_t, uint64_t>>{{root, 0x40'0000}}));
    EXPECT_TRUE(places_of_frame(0x60'2000).empty());
    EXPECT_FALSE(index.is_table_frame(0x60'1000));
}

TEST_F(IndexTest, OneGibLeaf) {
    uint64_t root = b.new_root();
    b.map(root, 0xffff888040000000ull, 0x4000'0000, 0, kPageSize1G);
    index.pin_root(root);
    EXPECT_EQ(places_of_frame(0x4000'0000 + 0x3fff'f000),
              (std::vector<std::tuple<uint64_t, uint64_t>>{{root, 0xffff888040000000ull}}));
}

TEST_F(IndexTest, TablesAreReadOnceWhenLinkedNotOnEveryWrite) {
    uint64_t root = b.new_root();
    uint64_t pte = b.map(root, kVa, 0x60'1000, kWritable);
    index.pin_root(root);
    const int reads = reader.reads;
    EXPECT_EQ(reads, 4);
    for (int i = 0; i < 100; ++i) store(pte, Pte::page(0x60'0000 + i * 0x1000).raw());
    EXPECT_EQ(reader.reads, reads);
    EXPECT_EQ(index.now(), 100u);
}

TEST_F(IndexTest, SharedTableHasOnePlacePerRoot) {
    uint64_t r1 = b.new_root();
    b.map(r1, kVa, 0x60'1000, 0);
    uint64_t r2 = b.new_root();
    const unsigned i4 = index_of(PteLevel::Pml4e, kVa);
    ram.write(r2 + i4 * 8, ram.read(r1 + i4 * 8));  // share the PDPT, as kernel halves do
    index.pin_root(r1);
    index.pin_root(r2);
    auto places = places_of_frame(0x60'1000);
    std::set<std::tuple<uint64_t, uint64_t>> got(places.begin(), places.end());
    EXPECT_EQ(got, (std::set<std::tuple<uint64_t, uint64_t>>{{r1, kVa}, {r2, kVa}}));
    index.unpin_root(r1);
    EXPECT_EQ(places_of_frame(0x60'1000),
              (std::vector<std::tuple<uint64_t, uint64_t>>{{r2, kVa}}));
    index.unpin_root(r2);
    EXPECT_EQ(index.node_count(), 0u);
    EXPECT_FALSE(index.is_table_frame(r1));
}

TEST_F(IndexTest, UnlinkingAPdeUntracksTheTableAndItsLeaves) {
    uint64_t root = b.new_root();
    b.map(root, kVa, 0x60'1000, 0);
    index.pin_root(root);
    uint64_t pde_pa = b.entry_pa(root, kVa, PteLevel::Pde);
    const uint64_t pt = Pde(ram.read(pde_pa)).table_address();
    ASSERT_TRUE(index.is_table_frame(pt));
    Recorder rec(index);
    index.add_observer(&rec);
    store(pde_pa, 0);
    EXPECT_FALSE(index.is_table_frame(pt));
    EXPECT_TRUE(places_of_frame(0x60'1000).empty());
    ASSERT_EQ(rec.changes.size(), 1u);
    EXPECT_EQ(rec.changes[0].level, PteLevel::Pde);
    EXPECT_EQ(rec.changes[0].new_value, 0u);
    EXPECT_EQ(rec.changes[0].seq, index.now());
    EXPECT_EQ(rec.old_child_tracked, std::vector<bool>{true});
    EXPECT_EQ(rec.untracked, (std::vector<TableKey>{{pt, PteLevel::Pte}}));
    // Linking it again reads it again.
    store(pde_pa, Pde::table(pt).raw());
    EXPECT_TRUE(index.is_table_frame(pt));
    EXPECT_EQ(rec.tracked, (std::vector<TableKey>{{pt, PteLevel::Pte}}));
    EXPECT_EQ(places_of_frame(0x60'1000).size(), 1u);
    index.remove_observer(&rec);
}

TEST_F(IndexTest, PinnedTableOutlivesItsLink) {
    uint64_t root = b.new_root();
    b.map(root, kVa, 0x60'1000, 0);
    index.pin_root(root);
    uint64_t pde_pa = b.entry_pa(root, kVa, PteLevel::Pde);
    const TableKey pt{Pde(ram.read(pde_pa)).table_address(), PteLevel::Pte};
    index.pin(pt);
    store(pde_pa, 0);
    EXPECT_TRUE(index.is_tracked(pt));
    auto places = places_of_frame(0x60'1000);
    ASSERT_EQ(places.size(), 1u);
    EXPECT_EQ(std::get<0>(places[0]), pt.frame);
    EXPECT_EQ(std::get<1>(places[0]), (kVa & 0x1f'ffff));  // offset inside the PT's region
    // Writes to it are still seen.
    store(pt.frame + index_of(PteLevel::Pte, kVa) * 8, Pte::page(0x70'0000).raw());
    EXPECT_TRUE(places_of_frame(0x60'1000).empty());
    EXPECT_EQ(places_of_frame(0x70'0000).size(), 1u);
    index.unpin(pt);
    EXPECT_FALSE(index.is_tracked(pt));
}

TEST_F(IndexTest, PartialAndMisalignedStores) {
    uint64_t root = b.new_root();
    uint64_t pte = b.map(root, kVa, 0x60'1000, 0);
    index.pin_root(root);
    // Clear P with a one-byte store.
    ram.write(pte, ram.read(pte) & ~kPresent);
    index.write(pte, 1, ram.read(pte) & 0xff);
    EXPECT_TRUE(places_of_frame(0x60'1000).empty());
    // Set the high dword (NX) with a 4-byte store at +4 and P again with a byte store.
    index.write(pte + 4, 4, 0x8000'0000u);
    index.write(pte, 1, (0x60'1000 | kPresent) & 0xff);
    const TableKey pt{pte & ~0xfffull, PteLevel::Pte};
    EXPECT_EQ((*index.entries(pt))[index_of(PteLevel::Pte, kVa)], 0x60'1000 | kPresent | kNoExecute);
    // A store straddling two entries updates both.
    index.write(pte + 4, 8, 0x1122334455667788ull);
    EXPECT_EQ((*index.entries(pt))[index_of(PteLevel::Pte, kVa)] >> 32, 0x55667788u);
    EXPECT_EQ((*index.entries(pt))[index_of(PteLevel::Pte, kVa) + 1] & 0xffffffff, 0x11223344u);
    // Stores outside tables are ignored.
    const uint64_t before = index.now();
    index.write(0x60'1000, 8, ~0ull);
    EXPECT_EQ(index.now(), before);
}

TEST_F(IndexTest, SequenceNumbersDatePaths) {
    uint64_t root = b.new_root();
    uint64_t pte = b.map(root, kVa, 0x60'1000, 0);
    index.pin_root(root);
    EXPECT_EQ(index.now(), 0u);
    store(pte, Pte::page(0x60'2000).raw());  // seq 1
    uint64_t pde_pa = b.entry_pa(root, kVa, PteLevel::Pde);
    // Setting A (as the processor does) changes no translation: the PDE keeps its date.
    store(pde_pa, ram.read(pde_pa) | kAccessed);
    EXPECT_EQ(index.entry_seq({pde_pa & ~0xfffull, PteLevel::Pde}, index_of(PteLevel::Pde, kVa)),
              0u);
    EXPECT_EQ(index.tick(), 3u);
    store(pde_pa, ram.read(pde_pa) & ~kUser);  // seq 4: the PT's path is now dated 4
    AnchoredWalk w = index.walk_from({root, PteLevel::Pml4e}, kVa);
    ASSERT_EQ(w.stop, AnchoredWalk::Stop::Leaf);
    EXPECT_EQ(w.frame, 0x60'2000u);
    EXPECT_EQ(w.page_size, kPageSize4K);
    EXPECT_EQ(w.path_seq, 4u);
    EXPECT_EQ(w.top_seq, 0u);  // the PML4E was read when the root was pinned
    index.for_each_leaf_mapping(0x60'2000, [&](const LeafRef& l) {
        EXPECT_EQ(l.seq, 1u);
        index.for_each_place(l.table, [&](const Place& p) {
            EXPECT_EQ(p.path_seq, 4u);
            EXPECT_EQ(p.top_seq, 0u);
            return true;
        });
        return true;
    });
    store(pte, 0);
    w = index.walk_from({root, PteLevel::Pml4e}, kVa);
    EXPECT_EQ(w.stop, AnchoredWalk::Stop::NotPresent);
    EXPECT_EQ(w.table.level, PteLevel::Pte);
}

TEST_F(IndexTest, ResyncAppliesBulkChanges) {
    uint64_t root = b.new_root();
    uint64_t pte = b.map(root, kVa, 0x60'1000, 0);
    index.pin_root(root);
    Recorder rec(index);
    index.add_observer(&rec);
    ram.write(pte, 0);
    ram.write(pte + 8, Pte::page(0x61'0000).raw());
    index.resync(pte & ~0xfffull, kPageSize4K);
    EXPECT_EQ(rec.changes.size(), 2u);
    EXPECT_TRUE(places_of_frame(0x60'1000).empty());
    EXPECT_EQ(places_of_frame(0x61'0000).size(), 1u);
    index.resync(0, kRam);  // no differences left
    EXPECT_EQ(rec.changes.size(), 2u);
    index.remove_observer(&rec);
}

TEST_F(IndexTest, SelfMappedPml4TerminatesAndCleansUp) {
    uint64_t root = b.new_root();
    b.map(root, kVa, 0x60'1000, 0);
    ram.write(root + 510 * 8, Pml4e::table(root, kWritable).raw());  // recursive slot
    index.pin_root(root);
    // The PML4 is a node at every level.
    for (unsigned l = 1; l <= 4; ++l)
        EXPECT_TRUE(index.is_tracked({root, static_cast<PteLevel>(l)})) << l;
    // The PML4 itself is reachable as a 4 KiB page at the recursive address.
    const uint64_t self_va = canonical_va((510ull << 39) | (510ull << 30) | (510ull << 21) |
                                          (510ull << 12));
    bool found = false;
    for (auto& [anchor, va] : places_of_frame(root)) found |= anchor == root && va == self_va;
    EXPECT_TRUE(found);
    store(root + 510 * 8, 0);
    EXPECT_FALSE(index.is_tracked({root, PteLevel::Pte}));
    index.unpin_root(root);
    EXPECT_EQ(index.node_count(), 0u);
}

TEST_F(IndexTest, NonPresentEntriesKeepTheirFrameForL1tf) {
    uint64_t root = b.new_root();
    uint64_t pte = b.map(root, kVa, 0x60'1000, 0);
    index.pin_root(root);
    store(pte, 0x60'1000);  // P=0, frame number kept
    int n = 0;
    index.for_each_nonpresent_ref(0x60'1000, [&](const LeafRef& l) {
        EXPECT_EQ(l.entry, 0x60'1000u);
        ++n;
        return true;
    });
    EXPECT_EQ(n, 1);
    store(pte, 0);
    n = 0;
    index.for_each_nonpresent_ref(0x60'1000, [&](const LeafRef&) { return ++n, true; });
    EXPECT_EQ(n, 0);
}

TEST_F(IndexTest, TableOutsideRamIsEmptyAndHarmless) {
    uint64_t root = b.new_root();
    ram.write(root, Pml4e::table(kRam + 0x1000).raw());
    index.pin_root(root);
    EXPECT_TRUE(index.is_tracked({kRam + 0x1000, PteLevel::Pdpte}));
    EXPECT_EQ(index.walk_from({root, PteLevel::Pml4e}, 0).stop, AnchoredWalk::Stop::NotPresent);
    index.unpin_root(root);
    EXPECT_EQ(index.node_count(), 0u);
}

TEST(CanonicalVa, SignExtendsBit47) {
    EXPECT_EQ(canonical_va(0x0000'8000'0000'0000ull), 0xffff'8000'0000'0000ull);
    EXPECT_EQ(canonical_va(0x0000'7fff'ffff'f000ull), 0x0000'7fff'ffff'f000ull);
    EXPECT_EQ(region_size(PteLevel::Pte), kPageSize2M);
    EXPECT_EQ(region_size(PteLevel::Pml4e), 1ull << 48);
}

}  // namespace
}  // namespace mmu
