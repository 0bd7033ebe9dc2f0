// The TLB model against each row of SDM vol. 3A 4.10.4.1 (and the INVLPG / INVPCID
// instruction pages): what must go and what may stay.
#include "cpu_model/tlb_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "tests/unit/mmu/page_table_builder.h"

namespace cpu_model {
namespace {

using mmu::PteLevel;
using mmu::pte_bits::kAccessed;
using mmu::pte_bits::kDirty;
using mmu::pte_bits::kGlobal;
using mmu::pte_bits::kWritable;

constexpr uint64_t kRam = 16ull << 20;
constexpr uint64_t kA = 0xffff888000100000ull;
constexpr uint64_t kB = kA + 0x1000;       // same PT as kA
constexpr uint64_t kC = kA + 0x20'0000;    // another 2 MiB region
constexpr uint64_t kG = 0xffffffff80200000ull;
constexpr uint64_t kUser = 0x0000'7000'0000'0000ull;  // another PML4 slot
constexpr uint64_t F1 = 0x40'0000, F2 = 0x40'1000, F3 = 0x40'2000, F4 = 0x40'3000;
constexpr uint64_t FG = 0x50'0000;

constexpr uint64_t kCr0 = 0x8001'0001;  // PG | WP | PE
constexpr uint64_t kPae = 1ull << 5;
constexpr uint64_t kPge = cr_bits::kCr4Pge;
constexpr uint64_t kPcide = cr_bits::kCr4Pcide;
constexpr uint64_t kNoFlush = cr_bits::kCr3NoFlush;

class TlbModelTest : public ::testing::Test {
protected:
    TlbModelTest() : ram(kRam), b(ram, 1ull << 20), reader(ram.mem()), index(reader) {
        ram.on_write = [this](uint64_t pa, uint64_t v) { index.write(pa, 8, v); };
        tlb.emplace(index, 2);
        r1 = b.new_root();
        r2 = b.new_root();
    }

    void map(uint64_t root, uint64_t va, uint64_t frame, uint64_t flags = kWritable,
             uint64_t size = mmu::kPageSize4K) {
        b.map(root, va, frame, flags, size);
    }
    uint64_t pte_pa(uint64_t root, uint64_t va) { return b.entry_pa(root, va, PteLevel::Pte); }
    void unmap(uint64_t root, uint64_t va) { ram.write(pte_pa(root, va), 0); }
    void boot(unsigned v, uint64_t root, uint64_t cr4, Pcid pcid = 0) {
        tlb->set_state(v, kCr0, root | pcid, kPae | cr4);
    }
    std::optional<CachedTranslation> find(unsigned v, Pcid p, uint64_t va, uint64_t frame,
                                          std::optional<CacheSource> src = {}) {
        for (const CachedTranslation& t : tlb->translations_at(v, p, va))
            if (t.frame == frame && (!src || t.source == *src)) return t;
        return std::nullopt;
    }
    bool has(unsigned v, Pcid p, uint64_t va, uint64_t frame,
             std::optional<CacheSource> src = {}) {
        return find(v, p, va, frame, src).has_value();
    }
    bool holds_table(uint64_t table, unsigned v, Pcid p) {
        auto hs = tlb->table_holders(table);
        return std::any_of(hs.begin(), hs.end(),
                           [&](const TableHolder& h) { return h.vcpu == v && h.pcid == p; });
    }

    mmu::testing::FakeRam ram;
    mmu::testing::PageTableBuilder b;
    mmu::RamTableReader reader;
    mmu::AddressSpaceIndex index;
    std::optional<TlbModel> tlb;
    uint64_t r1 = 0, r2 = 0;
};

// ---- MOV to CR3 ---------------------------------------------------------------------------

TEST_F(TlbModelTest, Cr3LoadWithoutPcideFlushesPcid0ButKeepsGlobals) {
    map(r1, kA, F1);
    map(r1, kG, FG, kGlobal);
    map(r2, kB, F2);
    boot(0, r1, kPge);
    EXPECT_TRUE(has(0, 0, kA, F1, CacheSource::CurrentRoot));
    EXPECT_TRUE(find(0, 0, kG, FG)->global);
    unmap(r1, kA);
    EXPECT_TRUE(has(0, 0, kA, F1, CacheSource::StaleEntry));

    InvalidationEffect eff = tlb->mov_to_cr3(0, r2 | 0x18);  // PWT|PCD: not a PCID
    EXPECT_TRUE(eff.needed());
    EXPECT_EQ(tlb->control(0).pcid, 0);
    EXPECT_FALSE(has(0, 0, kA, F1));
    EXPECT_TRUE(has(0, 0, kG, FG, CacheSource::RetainedRoot));  // global: survives
    EXPECT_TRUE(has(0, 0, kB, F2, CacheSource::CurrentRoot));
    map(r1, kC, F3);  // r1 is no longer loaded: nothing new can come from it
    EXPECT_FALSE(has(0, 0, kC, F3));
}

TEST_F(TlbModelTest, Cr3LoadWithPcidFlushesOnlyTheNewPcid) {
    map(r1, kA, F1);
    map(r2, kB, F2);
    boot(0, r1, kPcide, 1);
    unmap(r1, kA);
    InvalidationEffect eff = tlb->mov_to_cr3(0, r2 | 2);
    EXPECT_FALSE(eff.needed());
    EXPECT_TRUE(has(0, 1, kA, F1, CacheSource::StaleEntry));  // PCID 1 untouched
    EXPECT_FALSE(has(0, 2, kA, F1));  // and not usable under PCID 2
    eff = tlb->mov_to_cr3(0, r1 | 1);
    EXPECT_TRUE(eff.needed());
    EXPECT_FALSE(has(0, 1, kA, F1));
}

TEST_F(TlbModelTest, Cr3LoadWithBit63KeepsEverythingIncludingTheOldRoot) {
    map(r1, kA, F1);
    map(r1, kB, F2);
    boot(0, r1, kPcide, 1);
    unmap(r1, kA);
    InvalidationEffect eff = tlb->mov_to_cr3(0, r2 | 1 | kNoFlush);
    EXPECT_FALSE(eff.removed_anything());
    EXPECT_EQ(tlb->control(0).root, r2);  // bit 63 is never part of CR3
    EXPECT_TRUE(has(0, 1, kA, F1, CacheSource::StaleEntry));
    // The old root's translations stay associated with PCID 1 and are used under r2.
    EXPECT_TRUE(has(0, 1, kB, F2, CacheSource::RetainedRoot));
}

TEST_F(TlbModelTest, Bit63MeansNothingWithoutPcide) {
    map(r1, kA, F1);
    boot(0, r1, 0);
    unmap(r1, kA);
    EXPECT_TRUE(tlb->mov_to_cr3(0, r1 | kNoFlush).needed());
    EXPECT_FALSE(has(0, 0, kA, F1));
}

TEST_F(TlbModelTest, Cr3LoadOnOneVcpuLeavesTheOther) {
    map(r1, kA, F1);
    boot(0, r1, kPcide, 1);
    boot(1, r1, kPcide, 1);
    unmap(r1, kA);
    tlb->mov_to_cr3(0, r1 | 1);
    EXPECT_FALSE(has(0, 1, kA, F1));
    EXPECT_TRUE(has(1, 1, kA, F1, CacheSource::StaleEntry));
}

// ---- INVLPG -------------------------------------------------------------------------------

TEST_F(TlbModelTest, InvlpgRemovesOnlyThatPageOfTheCurrentPcid) {
    map(r1, kA, F1);
    map(r1, kB, F2);
    boot(0, r1, kPcide, 1);
    unmap(r1, kA);
    unmap(r1, kB);
    InvalidationEffect eff = tlb->invlpg(0, kA + 0x123);
    EXPECT_EQ(eff.stale_entries, 1u);
    EXPECT_FALSE(has(0, 1, kA, F1));
    EXPECT_TRUE(has(0, 1, kB, F2, CacheSource::StaleEntry));
    EXPECT_FALSE(tlb->invlpg(0, kA).needed());  // nothing stale left for that page
}

TEST_F(TlbModelTest, InvlpgOnVcpu0LeavesVcpu1) {
    map(r1, kA, F1);
    boot(0, r1, kPcide, 1);
    boot(1, r1, kPcide, 1);
    unmap(r1, kA);
    EXPECT_TRUE(tlb->invlpg(0, kA).needed());
    EXPECT_FALSE(has(0, 1, kA, F1));
    EXPECT_TRUE(has(1, 1, kA, F1, CacheSource::StaleEntry));
}

TEST_F(TlbModelTest, InvlpgKeepsOtherPcidsNonGlobalEntries) {
    map(r1, kA, F1);
    boot(0, r1, kPcide, 1);
    unmap(r1, kA);
    tlb->mov_to_cr3(0, r2 | 2);
    EXPECT_FALSE(tlb->invlpg(0, kA).needed());
    EXPECT_TRUE(has(0, 1, kA, F1, CacheSource::StaleEntry));
}

TEST_F(TlbModelTest, InvlpgRemovesGlobalEntriesOfEveryPcid) {
    map(r1, kG, FG, kGlobal);
    boot(0, r1, kPcide | kPge, 1);
    unmap(r1, kG);
    tlb->mov_to_cr3(0, r2 | 2);
    auto t = find(0, 2, kG, FG, CacheSource::StaleEntry);
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->global);
    EXPECT_TRUE(tlb->invlpg(0, kG).needed());
    EXPECT_FALSE(has(0, 2, kG, FG));
    EXPECT_FALSE(has(0, 1, kG, FG));
}

TEST_F(TlbModelTest, InvlpgRemovesGlobalTranslationsOfRetainedRoots) {
    map(r1, kG, FG, kGlobal);
    boot(0, r1, kPcide | kPge, 1);
    tlb->mov_to_cr3(0, r2 | 2);
    EXPECT_TRUE(has(0, 2, kG, FG, CacheSource::RetainedRoot));
    EXPECT_EQ(tlb->invlpg(0, kG).live, 1u);
    EXPECT_FALSE(has(0, 2, kG, FG));
}

TEST_F(TlbModelTest, InvlpgWithNonCanonicalAddressIsANop) {
    map(r1, kA, F1);
    boot(0, r1, kPcide, 1);
    unmap(r1, kA);
    EXPECT_FALSE(tlb->invlpg(0, 0x0000'8000'0000'0000ull).removed_anything());
    EXPECT_TRUE(has(0, 1, kA, F1));
}

TEST_F(TlbModelTest, CachedPdeKeepsPointingToItsOldTableUntilInvlpg) {
    map(r1, kA, F1);
    boot(0, r1, kPcide, 1);
    boot(1, r2, kPcide, 1);
    const uint64_t pde = b.entry_pa(r1, kA, PteLevel::Pde);
    const uint64_t pt1 = mmu::Pde(ram.read(pde)).table_address();
    const uint64_t pt2 = b.alloc_table();
    ram.write(pt2 + mmu::index_of(PteLevel::Pte, kA) * 8, mmu::Pte::page(F2).raw());
    ram.write(pde, mmu::Pde::table(pt2, kWritable).raw());

    EXPECT_TRUE(has(0, 1, kA, F2, CacheSource::CurrentRoot));
    EXPECT_TRUE(has(0, 1, kA, F1, CacheSource::StaleTable));
    EXPECT_TRUE(holds_table(pt1, 0, 1));
    EXPECT_FALSE(holds_table(pt1, 1, 1));  // vCPU 1 never ran r1
    // The cached PDE makes the old table's *current* content usable.
    ram.write(pt1 + mmu::index_of(PteLevel::Pte, kB) * 8, mmu::Pte::page(F3).raw());
    EXPECT_TRUE(has(0, 1, kB, F3, CacheSource::StaleTable));

    // INVLPG of any address removes every PS-cache entry of the current PCID...
    InvalidationEffect eff = tlb->invlpg(0, kUser);
    EXPECT_EQ(eff.stale_tables, 1u);
    EXPECT_TRUE(eff.needed());
    EXPECT_FALSE(holds_table(pt1, 0, 1));
    // ...but TLB entries made through the old table before it stay, for other pages...
    EXPECT_TRUE(has(0, 1, kA, F1, CacheSource::StaleTable));
    EXPECT_TRUE(has(0, 1, kB, F3, CacheSource::StaleTable));
    // ...and nothing new comes through it.
    ram.write(pt1 + mmu::index_of(PteLevel::Pte, kB + 0x1000) * 8, mmu::Pte::page(F4).raw());
    EXPECT_FALSE(has(0, 1, kB + 0x1000, F4));
    // Rewriting an entry the old table still shows keeps the old translation as stale.
    ram.write(pt1 + mmu::index_of(PteLevel::Pte, kB) * 8, 0);
    EXPECT_TRUE(has(0, 1, kB, F3, CacheSource::StaleEntry));
    EXPECT_EQ(tlb->invlpg(0, kA).stale_entries, 1u);
    EXPECT_FALSE(has(0, 1, kA, F1));
}

// ---- INVPCID --------------------------------------------------------------------------------

class InvpcidTest : public TlbModelTest {
protected:
    // vCPU 0 has run r1 under PCIDs 1 and 2 (now 2), with PGE; kA, kB and the global kG
    // were then unmapped, so each is stale in both PCIDs (kG once, as a global entry).
    void SetUp() override {
        map(r1, kA, F1);
        map(r1, kB, F2);
        map(r1, kG, FG, kGlobal);
        boot(0, r1, kPcide | kPge, 1);
        tlb->mov_to_cr3(0, r1 | 2);
        unmap(r1, kA);
        unmap(r1, kB);
        unmap(r1, kG);
    }
};

TEST_F(InvpcidTest, Type0RemovesOneAddressOfOnePcidButNotGlobals) {
    EXPECT_TRUE(has(0, 1, kA, F1, CacheSource::StaleEntry));
    InvalidationEffect eff = tlb->invpcid(0, InvpcidType::IndividualAddress, 1, kA);
    EXPECT_EQ(eff.stale_entries, 1u);
    EXPECT_FALSE(has(0, 1, kA, F1));
    EXPECT_TRUE(has(0, 2, kA, F1, CacheSource::StaleEntry));
    EXPECT_TRUE(has(0, 1, kB, F2, CacheSource::StaleEntry));
    EXPECT_FALSE(tlb->invpcid(0, InvpcidType::IndividualAddress, 1, kG).needed());
    EXPECT_TRUE(has(0, 1, kG, FG, CacheSource::StaleEntry));
}

TEST_F(InvpcidTest, Type1RemovesOnePcidButNotGlobals) {
    InvalidationEffect eff = tlb->invpcid(0, InvpcidType::SingleContext, 1, 0);
    EXPECT_EQ(eff.stale_entries, 2u);
    EXPECT_FALSE(has(0, 1, kA, F1));
    EXPECT_FALSE(has(0, 1, kB, F2));
    EXPECT_TRUE(has(0, 2, kA, F1));
    EXPECT_TRUE(has(0, 1, kG, FG, CacheSource::StaleEntry));
}

TEST_F(InvpcidTest, Type2RemovesEverythingIncludingGlobals) {
    InvalidationEffect eff = tlb->invpcid(0, InvpcidType::AllContextsAndGlobals, 0, 0);
    EXPECT_EQ(eff.stale_entries, 5u);  // kA, kB in two PCIDs, kG once
    for (Pcid p : {1, 2}) {
        EXPECT_FALSE(has(0, p, kA, F1));
        EXPECT_FALSE(has(0, p, kB, F2));
        EXPECT_FALSE(has(0, p, kG, FG));
    }
    EXPECT_EQ(tlb->stats(0).root_records, 1u);  // only the current root
}

TEST_F(InvpcidTest, Type3RemovesEveryPcidButKeepsGlobals) {
    InvalidationEffect eff = tlb->invpcid(0, InvpcidType::AllContexts, 0, 0);
    EXPECT_EQ(eff.stale_entries, 4u);
    for (Pcid p : {1, 2}) {
        EXPECT_FALSE(has(0, p, kA, F1));
        EXPECT_TRUE(has(0, p, kG, FG, CacheSource::StaleEntry));
    }
}

TEST_F(TlbModelTest, InvpcidType0RemovesThePdeCacheEntryForThatAddress) {
    map(r1, kA, F1);
    boot(0, r1, kPcide, 1);
    const uint64_t pde = b.entry_pa(r1, kA, PteLevel::Pde);
    const uint64_t pt1 = mmu::Pde(ram.read(pde)).table_address();
    ram.write(pde, 0);
    ASSERT_TRUE(holds_table(pt1, 0, 1));
    // Another address: the stale PDE-cache entry does not translate it and stays.
    EXPECT_FALSE(tlb->invpcid(0, InvpcidType::IndividualAddress, 1, kC).needed());
    EXPECT_TRUE(holds_table(pt1, 0, 1));
    InvalidationEffect eff = tlb->invpcid(0, InvpcidType::IndividualAddress, 1, kB);
    EXPECT_EQ(eff.stale_tables, 1u);
    EXPECT_FALSE(holds_table(pt1, 0, 1));
    EXPECT_TRUE(has(0, 1, kA, F1, CacheSource::StaleTable));  // the TLB entry for kA stays
}

// ---- Globals and MOV to CR4 ---------------------------------------------------------------

TEST_F(TlbModelTest, GlobalEntriesCountOnlyWithPge) {
    map(r1, kG, FG, kGlobal);
    boot(0, r1, 0);
    EXPECT_FALSE(find(0, 0, kG, FG)->global);
    tlb->mov_to_cr3(0, r2);
    EXPECT_FALSE(has(0, 0, kG, FG));

    boot(1, r1, kPge);
    EXPECT_TRUE(find(1, 0, kG, FG)->global);
    tlb->mov_to_cr3(1, r2);
    EXPECT_TRUE(has(1, 0, kG, FG, CacheSource::RetainedRoot));
}

TEST_F(TlbModelTest, Cr4PgeChangeFlushesEverything) {
    map(r1, kA, F1);
    map(r1, kG, FG, kGlobal);
    boot(0, r1, kPcide | kPge, 1);
    tlb->mov_to_cr3(0, r2 | 2);
    map(r2, kB, F2);
    unmap(r2, kB);
    ASSERT_TRUE(has(0, 2, kG, FG));
    ASSERT_TRUE(has(0, 1, kA, F1));
    InvalidationEffect eff = tlb->mov_to_cr4(0, kPae | kPcide);
    EXPECT_TRUE(eff.needed());
    EXPECT_FALSE(has(0, 2, kG, FG));
    EXPECT_FALSE(has(0, 1, kA, F1));
    EXPECT_FALSE(has(0, 2, kB, F2));
    EXPECT_EQ(tlb->stats(0).root_records, 1u);
    // Setting PGE again flushes too (nothing left to remove but the current root's).
    eff = tlb->mov_to_cr4(0, kPae | kPcide | kPge);
    EXPECT_FALSE(eff.needed());
    EXPECT_EQ(eff.live, 1u);
}

TEST_F(TlbModelTest, Cr4PcideOneToZeroFlushesEverythingZeroToOneNothing) {
    map(r1, kA, F1);
    boot(0, r1, kPcide, 1);
    tlb->mov_to_cr3(0, r2 | 2);
    unmap(r1, kA);
    EXPECT_TRUE(tlb->mov_to_cr4(0, kPae).needed());
    EXPECT_EQ(tlb->control(0).pcid, 0);
    EXPECT_FALSE(has(0, 1, kA, F1));
    EXPECT_EQ(tlb->stats(0).root_records, 1u);

    map(r2, kB, F2);
    unmap(r2, kB);
    EXPECT_FALSE(tlb->mov_to_cr4(0, kPae | kPcide).removed_anything());
    EXPECT_TRUE(has(0, 0, kB, F2, CacheSource::StaleEntry));
}

TEST_F(TlbModelTest, Cr4SmepSetFlushesTheCurrentPcid) {
    map(r1, kA, F1);
    boot(0, r1, kPcide, 1);
    unmap(r1, kA);
    tlb->mov_to_cr3(0, r2 | 2 | kNoFlush);
    map(r2, kB, F2);
    unmap(r2, kB);
    EXPECT_TRUE(tlb->mov_to_cr4(0, kPae | kPcide | cr_bits::kCr4Smep).needed());
    EXPECT_FALSE(has(0, 2, kB, F2));
    EXPECT_TRUE(has(0, 1, kA, F1, CacheSource::StaleEntry));
    EXPECT_FALSE(tlb->mov_to_cr4(0, kPae | kPcide).removed_anything());  // clearing: nothing
}

// ---- MOV to CR0 and #PF -------------------------------------------------------------------

TEST_F(TlbModelTest, Cr0PgClearFlushesEverything) {
    map(r1, kA, F1);
    map(r1, kG, FG, kGlobal);
    boot(0, r1, kPcide | kPge, 1);
    unmap(r1, kA);
    tlb->mov_to_cr3(0, r2 | 2);
    InvalidationEffect eff = tlb->mov_to_cr0(0, kCr0 & ~cr_bits::kCr0Pg);
    EXPECT_TRUE(eff.needed());
    EXPECT_EQ(tlb->stats(0).root_records, 0u);
    EXPECT_TRUE(tlb->translations_at(0, 1, kA).empty());
    EXPECT_TRUE(tlb->translations_at(0, 2, kG).empty());
    // Setting PG again starts caching from CR3 (r2, PCID 2) at once.
    map(r2, kB, F2);
    EXPECT_FALSE(tlb->mov_to_cr0(0, kCr0).removed_anything());
    EXPECT_TRUE(has(0, 2, kB, F2, CacheSource::CurrentRoot));
}

TEST_F(TlbModelTest, PageFaultRemovesTheStaleEntryForThatAddress) {
    map(r1, kA, F1);
    map(r1, kB, F2);
    boot(0, r1, kPcide, 1);
    unmap(r1, kA);
    unmap(r1, kB);
    EXPECT_TRUE(tlb->page_fault(0, kA).needed());
    EXPECT_FALSE(has(0, 1, kA, F1));
    EXPECT_TRUE(has(0, 1, kB, F2));
}

// ---- Needed vs redundant --------------------------------------------------------------------

TEST_F(TlbModelTest, NonPresentToPresentNeedsNoFlush) {
    boot(0, r1, kPcide, 1);
    map(r1, kA, F1);
    InvalidationEffect eff = tlb->invlpg(0, kA);
    EXPECT_FALSE(eff.needed());
    EXPECT_EQ(eff.live, 1u);  // it did drop the current translation, which the tables still hold
    EXPECT_FALSE(tlb->invlpg(0, kB).removed_anything());
}

TEST_F(TlbModelTest, UnmapAndPermissionChangeNeedAFlushAccessedDirtySetDoesNot) {
    map(r1, kA, F1);
    boot(0, r1, kPcide, 1);
    const uint64_t pte = pte_pa(r1, kA);
    ram.write(pte, ram.read(pte) | kAccessed | kDirty);  // what the processor writes
    EXPECT_FALSE(tlb->invlpg(0, kA).needed());
    ram.write(pte, ram.read(pte) & ~kDirty);  // software clears D: a cached D=1 is stale
    EXPECT_TRUE(tlb->invlpg(0, kA).needed());
    ram.write(pte, ram.read(pte) & ~kWritable);  // write-protect
    auto t = find(0, 1, kA, F1, CacheSource::StaleEntry);
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->entry & kWritable);
    EXPECT_TRUE(tlb->invlpg(0, kA).needed());
    unmap(r1, kA);
    EXPECT_TRUE(tlb->invlpg(0, kA).needed());
}

TEST_F(TlbModelTest, ShootdownToAVcpuThatNeverRanTheMappingIsRedundant) {
    boot(0, r1, kPcide, 1);
    boot(1, r1, kPcide, 1);
    tlb->mov_to_cr3(1, r2 | 2);  // vCPU 1 leaves PCID 1 before the page is mapped
    map(r1, kA, F1);
    unmap(r1, kA);
    EXPECT_FALSE(tlb->invpcid(1, InvpcidType::SingleContext, 1, 0).needed());
    EXPECT_TRUE(tlb->invlpg(0, kA).needed());
}

TEST_F(TlbModelTest, FlushOfAPcidThatHoldsOnlyLiveTranslationsIsRedundant) {
    map(r1, kA, F1);
    boot(0, r1, kPcide, 1);
    InvalidationEffect eff = tlb->mov_to_cr3(0, r1 | 1);
    EXPECT_FALSE(eff.needed());
    EXPECT_TRUE(eff.removed_anything());
}

// ---- Retained roots -----------------------------------------------------------------------

TEST_F(TlbModelTest, RetainedRootUnderTheSamePcidAndItsFreeze) {
    map(r1, kA, F1);
    boot(0, r1, kPcide, 1);
    tlb->mov_to_cr3(0, r2 | 1 | kNoFlush);  // r2 under the same PCID, no flush
    EXPECT_TRUE(has(0, 1, kA, F1, CacheSource::RetainedRoot));
    // Cached upper-level entries of r1 keep its subtrees' current content usable...
    map(r1, kB, F2);
    EXPECT_TRUE(has(0, 1, kB, F2, CacheSource::RetainedRoot));
    // ...but a PML4 entry written after r1 left CR3 was never cached.
    map(r1, kUser, F3);
    EXPECT_FALSE(has(0, 1, kUser, F3));
    // INVLPG drops the PS-cache entries: from then on only what was there may be cached.
    tlb->invlpg(0, kC);
    map(r1, kB + 0x1000, F4);
    EXPECT_FALSE(has(0, 1, kB + 0x1000, F4));
    EXPECT_TRUE(has(0, 1, kA, F1, CacheSource::RetainedRoot));
    // Loading r1 again makes all of its current content cacheable.
    tlb->mov_to_cr3(0, r1 | 1 | kNoFlush);
    EXPECT_TRUE(has(0, 1, kB + 0x1000, F4, CacheSource::CurrentRoot));
    EXPECT_TRUE(has(0, 1, kUser, F3, CacheSource::CurrentRoot));
}

// ---- Reverse queries ------------------------------------------------------------------------

TEST_F(TlbModelTest, ReachingFrameNamesEveryWay) {
    map(r1, kA, F1);
    constexpr uint64_t k2M = 0xffff888000600000ull;
    map(r1, k2M, 0x80'0000, kWritable, mmu::kPageSize2M);
    boot(0, r1, kPcide, 1);
    auto r = tlb->reaching_frame(0, 1, F1);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].va_page, kA);
    EXPECT_EQ(r[0].source, CacheSource::CurrentRoot);
    // A frame inside a 2 MiB page.
    r = tlb->reaching_frame(0, 1, 0x80'0000 + 0x5000);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].va_page, k2M);
    EXPECT_EQ(r[0].page_size, mmu::kPageSize2M);

    unmap(r1, kA);
    r = tlb->reaching_frame(0, 1, F1);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].source, CacheSource::StaleEntry);
    EXPECT_TRUE(tlb->reaching_frame(0, 2, F1).empty());  // another PCID
    EXPECT_TRUE(tlb->reaching_frame(1, 1, F1).empty());  // another vCPU
    tlb->invlpg(0, kA);
    EXPECT_TRUE(tlb->reaching_frame(0, 1, F1).empty());
}

TEST_F(TlbModelTest, ReachingFrameThroughAStaleTable) {
    map(r1, kA, F1);
    boot(0, r1, kPcide, 1);
    const uint64_t pde = b.entry_pa(r1, kA, PteLevel::Pde);
    const uint64_t pt1 = mmu::Pde(ram.read(pde)).table_address();
    ram.write(pde, 0);
    ram.write(pt1 + 7 * 8, mmu::Pte::page(F3).raw());  // the freed table is reused...
    auto r = tlb->reaching_frame(0, 1, F3);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].source, CacheSource::StaleTable);
    EXPECT_EQ(r[0].va_page, (kA & ~0x1f'ffffull) + 7 * 0x1000);
    EXPECT_EQ(r[0].anchor, (mmu::TableKey{pt1, PteLevel::Pte}));
}

TEST_F(TlbModelTest, TableHoldersForTableReuse) {
    map(r1, kA, F1);
    boot(0, r1, kPcide, 1);
    boot(1, r1, kPcide, 1);
    const uint64_t pde = b.entry_pa(r1, kA, PteLevel::Pde);
    const uint64_t pt1 = mmu::Pde(ram.read(pde)).table_address();
    auto hs = tlb->table_holders(pt1);
    ASSERT_EQ(hs.size(), 2u);
    EXPECT_EQ(hs[0].source, CacheSource::CurrentRoot);
    EXPECT_EQ(hs[0].level, PteLevel::Pte);
    EXPECT_EQ(hs[0].va, kA & ~0x1f'ffffull);
    ram.write(pde, 0);  // unlink the PT
    hs = tlb->table_holders(pt1);
    ASSERT_EQ(hs.size(), 2u);
    EXPECT_EQ(hs[0].source, CacheSource::StaleTable);
    tlb->mov_to_cr3(0, r1 | 1);  // vCPU 0 flushes; vCPU 1 does not
    hs = tlb->table_holders(pt1);
    ASSERT_EQ(hs.size(), 1u);
    EXPECT_EQ(hs[0].vcpu, 1u);
    tlb->invlpg(1, kA);
    EXPECT_TRUE(tlb->table_holders(pt1).empty());
}

TEST_F(TlbModelTest, PinsAreReleased) {
    map(r1, kA, F1);
    boot(0, r1, kPcide | kPge, 1);
    tlb->mov_to_cr3(0, r2 | 2);
    ram.write(b.entry_pa(r1, kA, PteLevel::Pde), 0);
    EXPECT_GT(index.node_count(), 0u);
    tlb.reset();
    EXPECT_EQ(index.node_count(), 0u);
}

}  // namespace
}  // namespace cpu_model
