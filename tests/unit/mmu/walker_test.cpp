// Walker rules, each from SDM vol. 3A 4.5-4.8, with a case that faults and one that must not.
#include "mmu/walker.h"

#include <gtest/gtest.h>

#include "tests/unit/mmu/page_table_builder.h"

namespace mmu {
namespace {

using namespace pte_bits;
using testing::FakeRam;
using testing::PageTableBuilder;

constexpr uint64_t kRam = 4ull << 20;
constexpr uint64_t kTables = 1ull << 20;
constexpr uint64_t kVa = 0xffff888000345000ull;
constexpr uint64_t kUserVa = 0x0000'7f00'0012'3000ull;

class WalkerTest : public ::testing::Test {
protected:
    WalkerTest() : ram(kRam), b(ram, kTables), root(b.new_root()) {}

    WalkResult go(uint64_t va, AccessType a, AccessContext c = {}) {
        return walk(ram.mem(), root, va, a, c);
    }
    static AccessContext user() {
        AccessContext c;
        c.user = true;
        return c;
    }
    static AccessContext nxe(bool u = false) {
        AccessContext c;
        c.efer_nxe = true;
        c.user = u;
        return c;
    }

    FakeRam ram;
    PageTableBuilder b;
    uint64_t root;
};

// ---- Canonical addresses (SDM 3.3.7.1) ---------------------------------------------------

TEST(Canonical, Bits63To47Equal) {
    EXPECT_TRUE(is_canonical(0));
    EXPECT_TRUE(is_canonical(0x0000'7fff'ffff'ffffull));
    EXPECT_FALSE(is_canonical(0x0000'8000'0000'0000ull));
    EXPECT_FALSE(is_canonical(0xffff'7fff'ffff'ffffull));
    EXPECT_TRUE(is_canonical(0xffff'8000'0000'0000ull));
    EXPECT_TRUE(is_canonical(~0ull));
}

TEST_F(WalkerTest, NonCanonicalIsNotAPageFault) {
    b.map(root, 0x1000, 0x2000, kWritable);
    WalkResult r = go(0x0000'8000'0000'1000ull, AccessType::Read);
    EXPECT_EQ(r.status, WalkStatus::NonCanonical);
    EXPECT_EQ(r.error_code, 0u);
    EXPECT_EQ(go(0x1000, AccessType::Read).status, WalkStatus::Ok);
}

// ---- Basic 4 KiB translation (SDM 4.5) ---------------------------------------------------

TEST_F(WalkerTest, FourKibTranslationReportsEverything) {
    uint64_t leaf_pa = b.map(root, kVa, 0x20'7000, kWritable);
    WalkResult r = go(kVa + 0x123, AccessType::Read);
    ASSERT_EQ(r.status, WalkStatus::Ok);
    EXPECT_EQ(r.error_code, 0u);
    EXPECT_EQ(r.t.va_page, kVa);
    EXPECT_EQ(r.t.pa, 0x20'7123u);
    EXPECT_EQ(r.t.frame, 0x20'7000u);
    EXPECT_EQ(r.t.page_size, kPageSize4K);
    EXPECT_EQ(r.t.leaf_level, 1);
    EXPECT_EQ(r.t.leaf_entry_pa, leaf_pa);
    EXPECT_EQ(r.t.leaf_entry, ram.read(leaf_pa));
    EXPECT_TRUE(r.t.writable);
    EXPECT_FALSE(r.t.user);
    EXPECT_TRUE(r.t.executable);
    EXPECT_FALSE(r.t.global);
    EXPECT_EQ(r.t.table_pa[0], root);
    for (int i = 1; i < 4; ++i) EXPECT_NE(r.t.table_pa[i], 0u) << i;
    EXPECT_EQ(r.t.table_pa[3], leaf_pa & ~0xfffull);
}

TEST_F(WalkerTest, Cr3LowBitsAndBit63AreNotPartOfTheAddress) {
    b.map(root, kVa, 0x20'7000, 0);
    EXPECT_EQ(walk(ram.mem(), root | 0xfff, kVa, AccessType::Read, {}).status, WalkStatus::Ok);
    WalkResult r = walk(ram.mem(), root | (1ull << 63) | 0x5, kVa, AccessType::Read, {});
    ASSERT_EQ(r.status, WalkStatus::Ok);
    EXPECT_EQ(r.t.table_pa[0], root);
    EXPECT_EQ(cr3_table_address(0x8000'0000'0012'3fffull), 0x123000u);
}

// ---- Not present (SDM 4.7: P=0) ----------------------------------------------------------

TEST_F(WalkerTest, NotPresentAtEachLevel) {
    // Nothing mapped: the PML4E is not present.
    WalkResult r = go(kVa, AccessType::Read);
    EXPECT_EQ(r.status, WalkStatus::PageFault);
    EXPECT_EQ(r.error_code, 0u);
    EXPECT_EQ(r.t.leaf_level, 4);
    EXPECT_EQ(r.t.leaf_entry_pa, root + index_of(PteLevel::Pml4e, kVa) * 8);

    uint64_t pte_pa = b.map(root, kVa, 0x20'7000, kWritable);
    ram.write(pte_pa, Pte(ram.read(pte_pa)).with_present(false).raw());
    r = go(kVa, AccessType::Write, user());
    EXPECT_EQ(r.status, WalkStatus::PageFault);
    EXPECT_EQ(r.error_code, pf_error::kWrite | pf_error::kUser);
    EXPECT_EQ(r.t.leaf_level, 1);

    // A not-present PDE stops the walk at level 2.
    uint64_t pde_pa = b.entry_pa(root, kVa, PteLevel::Pde);
    ram.write(pde_pa, Pde(ram.read(pde_pa)).with_present(false).raw());
    r = go(kVa, AccessType::Read);
    EXPECT_EQ(r.status, WalkStatus::PageFault);
    EXPECT_EQ(r.t.leaf_level, 2);
    EXPECT_EQ(r.t.table_pa[3], 0u);
}

TEST_F(WalkerTest, NotPresentIgnoresEveryOtherBit) {
    // Reserved bits in a not-present entry do not make it a RSVD fault.
    uint64_t pte_pa = b.map(root, kVa, 0x20'7000, 0);
    ram.write(pte_pa, (1ull << 50) | kNoExecute | 0x20'7000);
    WalkResult r = go(kVa, AccessType::Read);
    EXPECT_EQ(r.status, WalkStatus::PageFault);
    EXPECT_EQ(r.error_code, 0u);
}

TEST_F(WalkerTest, FetchFromNotPresentSetsIdOnlyWithNxe) {
    EXPECT_EQ(go(kVa, AccessType::Execute).error_code, 0u);
    EXPECT_EQ(go(kVa, AccessType::Execute, nxe()).error_code, pf_error::kInstructionFetch);
    AccessContext smep;
    smep.cr4_smep = true;
    EXPECT_EQ(go(kVa, AccessType::Execute, smep).error_code, pf_error::kInstructionFetch);
}

// ---- Reserved bits (SDM 4.5 tables 4-15..4-20; 4.7: RSVD with P=1) ----------------------

TEST_F(WalkerTest, MaxPhysAddrBitsAreReserved) {
    uint64_t pte_pa = b.map(root, kVa, 0x20'7000, 0);
    ram.write(pte_pa, ram.read(pte_pa) | (1ull << 46));
    WalkResult r = go(kVa, AccessType::Read);
    EXPECT_EQ(r.status, WalkStatus::PageFault);
    EXPECT_EQ(r.error_code, pf_error::kPresent | pf_error::kReservedBit);
    EXPECT_EQ(go(kVa, AccessType::Write, user()).error_code,
              pf_error::kPresent | pf_error::kReservedBit | pf_error::kWrite | pf_error::kUser);

    AccessContext wide;
    wide.maxphyaddr = 52;
    r = go(kVa, AccessType::Read, wide);
    EXPECT_EQ(r.status, WalkStatus::Ok);
    EXPECT_EQ(r.t.frame, (1ull << 46) | 0x20'7000);
}

TEST_F(WalkerTest, ReservedBitInUpperLevelStopsThere) {
    b.map(root, kVa, 0x20'7000, 0);
    uint64_t pdpte_pa = b.entry_pa(root, kVa, PteLevel::Pdpte);
    ram.write(pdpte_pa, ram.read(pdpte_pa) | (1ull << 51));
    WalkResult r = go(kVa, AccessType::Read);
    EXPECT_EQ(r.error_code, pf_error::kPresent | pf_error::kReservedBit);
    EXPECT_EQ(r.t.leaf_level, 3);
}

TEST_F(WalkerTest, PsInPml4eIsReserved) {
    b.map(root, kVa, 0x20'7000, 0);
    uint64_t pml4e_pa = root + index_of(PteLevel::Pml4e, kVa) * 8;
    ram.write(pml4e_pa, ram.read(pml4e_pa) | kPageSize);
    EXPECT_EQ(go(kVa, AccessType::Read).error_code, pf_error::kPresent | pf_error::kReservedBit);
}

TEST_F(WalkerTest, LargePageReservedBits) {
    const uint64_t va2m = 0xffff888000400000ull;
    uint64_t pde_pa = b.map(root, va2m, 0x40'0000, 0, kPageSize2M);
    EXPECT_EQ(go(va2m, AccessType::Read).status, WalkStatus::Ok);
    ram.write(pde_pa, ram.read(pde_pa) | kPatLarge);  // bit 12 is PAT: allowed
    EXPECT_EQ(go(va2m, AccessType::Read).status, WalkStatus::Ok);
    ram.write(pde_pa, ram.read(pde_pa) | (1ull << 13));
    EXPECT_EQ(go(va2m, AccessType::Read).error_code, pf_error::kPresent | pf_error::kReservedBit);

    const uint64_t va1g = 0xffff888040000000ull;
    uint64_t pdpte_pa = b.map(root, va1g, 0x4000'0000, 0, kPageSize1G);
    EXPECT_EQ(go(va1g, AccessType::Read).status, WalkStatus::Ok);
    ram.write(pdpte_pa, ram.read(pdpte_pa) | (1ull << 29));
    EXPECT_EQ(go(va1g, AccessType::Read).error_code, pf_error::kPresent | pf_error::kReservedBit);
}

TEST_F(WalkerTest, XdIsReservedWhenNxeIsClear) {
    b.map(root, kVa, 0x20'7000, kNoExecute);
    EXPECT_EQ(go(kVa, AccessType::Read).error_code, pf_error::kPresent | pf_error::kReservedBit);
    EXPECT_EQ(go(kVa, AccessType::Read, nxe()).status, WalkStatus::Ok);
}

// ---- Access rights (SDM 4.6) --------------------------------------------------------------

TEST_F(WalkerTest, UserAccessToSupervisorPageFaults) {
    b.map(root, kVa, 0x20'7000, kWritable);  // U/S=0 in the PTE
    WalkResult r = go(kVa, AccessType::Read, user());
    EXPECT_EQ(r.status, WalkStatus::PageFault);
    EXPECT_EQ(r.error_code, pf_error::kPresent | pf_error::kUser);
    EXPECT_EQ(go(kVa, AccessType::Read).status, WalkStatus::Ok);

    b.map(root, kUserVa, 0x20'8000, kUser);
    EXPECT_EQ(go(kUserVa, AccessType::Read, user()).status, WalkStatus::Ok);
}

TEST_F(WalkerTest, UserBitMustBeSetAtEveryLevel) {
    b.map(root, kUserVa, 0x20'8000, kUser, kPageSize4K, kWritable);  // upper levels U/S=0
    WalkResult r = go(kUserVa, AccessType::Read, user());
    EXPECT_EQ(r.status, WalkStatus::PageFault);
    EXPECT_EQ(r.error_code, pf_error::kPresent | pf_error::kUser);
    EXPECT_FALSE(r.t.user);
}

TEST_F(WalkerTest, SupervisorWriteToReadOnlyFaultsOnlyWithWp) {
    b.map(root, kVa, 0x20'7000, 0);
    WalkResult r = go(kVa, AccessType::Write);
    EXPECT_EQ(r.status, WalkStatus::PageFault);
    EXPECT_EQ(r.error_code, pf_error::kPresent | pf_error::kWrite);
    AccessContext no_wp;
    no_wp.cr0_wp = false;
    EXPECT_EQ(go(kVa, AccessType::Write, no_wp).status, WalkStatus::Ok);
}

TEST_F(WalkerTest, ReadOnlyAtUpperLevelMakesThePageReadOnly) {
    b.map(root, kVa, 0x20'7000, kWritable, kPageSize4K, 0);  // upper levels R/W=0
    WalkResult r = go(kVa, AccessType::Write);
    EXPECT_EQ(r.error_code, pf_error::kPresent | pf_error::kWrite);
    EXPECT_FALSE(r.t.writable);
}

TEST_F(WalkerTest, UserWriteToReadOnlyFaultsEvenWithoutWp) {
    b.map(root, kUserVa, 0x20'8000, kUser);
    AccessContext c = user();
    c.cr0_wp = false;
    EXPECT_EQ(go(kUserVa, AccessType::Write, c).error_code,
              pf_error::kPresent | pf_error::kWrite | pf_error::kUser);
    b.map(root, kUserVa, 0x20'8000, kUser | kWritable);
    EXPECT_EQ(go(kUserVa, AccessType::Write, c).status, WalkStatus::Ok);
}

TEST_F(WalkerTest, SupervisorWriteToWritableUserPageIsAllowed) {
    b.map(root, kUserVa, 0x20'8000, kUser | kWritable);
    EXPECT_EQ(go(kUserVa, AccessType::Write).status, WalkStatus::Ok);
}

TEST_F(WalkerTest, FetchFromNxPageFaultsOnlyWithNxe) {
    b.map(root, kVa, 0x20'7000, kNoExecute);
    WalkResult r = go(kVa, AccessType::Execute, nxe());
    EXPECT_EQ(r.status, WalkStatus::PageFault);
    EXPECT_EQ(r.error_code, pf_error::kPresent | pf_error::kInstructionFetch);
    EXPECT_FALSE(r.t.executable);
    // Reads of an NX page are fine.
    EXPECT_EQ(go(kVa, AccessType::Read, nxe()).status, WalkStatus::Ok);
    // Without NX the bit must be clear (else RSVD), and every page is executable.
    b.map(root, kVa, 0x20'7000, 0);
    r = go(kVa, AccessType::Execute);
    EXPECT_EQ(r.status, WalkStatus::Ok);
    EXPECT_TRUE(r.t.executable);
}

TEST_F(WalkerTest, NxAtUpperLevelMakesThePageNonExecutable) {
    b.map(root, kVa, 0x20'7000, 0, kPageSize4K, kWritable | kNoExecute);
    EXPECT_EQ(go(kVa, AccessType::Execute, nxe()).error_code,
              pf_error::kPresent | pf_error::kInstructionFetch);
}

TEST_F(WalkerTest, UserFetchFromSupervisorPage) {
    b.map(root, kVa, 0x20'7000, 0);
    EXPECT_EQ(go(kVa, AccessType::Execute, nxe(true)).error_code,
              pf_error::kPresent | pf_error::kUser | pf_error::kInstructionFetch);
    // Without NXE and SMEP the I/D bit is not reported.
    EXPECT_EQ(go(kVa, AccessType::Execute, user()).error_code,
              pf_error::kPresent | pf_error::kUser);
    b.map(root, kUserVa, 0x20'8000, kUser);
    EXPECT_EQ(go(kUserVa, AccessType::Execute, nxe(true)).status, WalkStatus::Ok);
}

TEST_F(WalkerTest, SmepBlocksSupervisorFetchFromUserPage) {
    b.map(root, kUserVa, 0x20'8000, kUser);
    EXPECT_EQ(go(kUserVa, AccessType::Execute).status, WalkStatus::Ok);
    AccessContext smep;
    smep.cr4_smep = true;
    EXPECT_EQ(go(kUserVa, AccessType::Execute, smep).error_code,
              pf_error::kPresent | pf_error::kInstructionFetch);
    EXPECT_EQ(go(kUserVa, AccessType::Read, smep).status, WalkStatus::Ok);
}

// ---- Global (SDM 4.10.2.4) ---------------------------------------------------------------

TEST_F(WalkerTest, GlobalCountsOnlyWithPgeAndOnlyInTheLeaf) {
    b.map(root, kVa, 0x20'7000, kGlobal);
    EXPECT_FALSE(go(kVa, AccessType::Read).t.global);
    AccessContext pge;
    pge.cr4_pge = true;
    EXPECT_TRUE(go(kVa, AccessType::Read, pge).t.global);

    b.map(root, kVa, 0x20'7000, 0, kPageSize4K, kWritable | kGlobal);  // G only upstairs
    EXPECT_FALSE(go(kVa, AccessType::Read, pge).t.global);
}

// ---- Large pages (SDM 4.5) ---------------------------------------------------------------

TEST_F(WalkerTest, TwoMibPage) {
    const uint64_t va = 0xffff888000600000ull;
    uint64_t pde_pa = b.map(root, va, 0x80'0000, kWritable, kPageSize2M);
    WalkResult r = go(va + 0x12'3456, AccessType::Write);
    ASSERT_EQ(r.status, WalkStatus::Ok);
    EXPECT_EQ(r.t.page_size, kPageSize2M);
    EXPECT_EQ(r.t.leaf_level, 2);
    EXPECT_EQ(r.t.va_page, va);
    EXPECT_EQ(r.t.pa, 0x80'0000u + 0x12'3456u);
    EXPECT_EQ(r.t.frame, 0x92'3000u);
    EXPECT_EQ(r.t.leaf_entry_pa, pde_pa);
    EXPECT_EQ(r.t.table_pa[3], 0u);
}

TEST_F(WalkerTest, OneGibPage) {
    const uint64_t va = 0xffff888080000000ull;
    uint64_t pdpte_pa = b.map(root, va, 0xC000'0000, kWritable, kPageSize1G);
    WalkResult r = go(va + 0x3456'7890, AccessType::Read);
    ASSERT_EQ(r.status, WalkStatus::Ok);
    EXPECT_EQ(r.t.page_size, kPageSize1G);
    EXPECT_EQ(r.t.leaf_level, 3);
    EXPECT_EQ(r.t.va_page, va);
    EXPECT_EQ(r.t.pa, 0xC000'0000u + 0x3456'7890u);
    EXPECT_EQ(r.t.frame, 0xF456'7000u);
    EXPECT_EQ(r.t.leaf_entry_pa, pdpte_pa);
    EXPECT_EQ(r.t.table_pa[2], 0u);
}

// ---- A/D bits (SDM 4.8) ------------------------------------------------------------------

TEST_F(WalkerTest, ReadSetsAccessedEverywhereButNotDirty) {
    uint64_t pte_pa = b.map(root, kVa, 0x20'7000, kWritable);
    AccessContext ad;
    ad.set_accessed_dirty = true;
    WalkResult r = go(kVa, AccessType::Read, ad);
    ASSERT_EQ(r.status, WalkStatus::Ok);
    for (int i = 0; i < 4; ++i) {
        uint64_t e = ram.read(r.t.table_pa[i] + index_of(static_cast<PteLevel>(4 - i), kVa) * 8);
        EXPECT_TRUE(e & kAccessed) << i;
        EXPECT_FALSE(e & kDirty) << i;
    }
    EXPECT_EQ(r.t.leaf_entry, ram.read(pte_pa));
}

TEST_F(WalkerTest, WriteSetsDirtyInTheLeafOnly) {
    const uint64_t va = 0xffff888000600000ull;
    uint64_t pde_pa = b.map(root, va, 0x80'0000, kWritable, kPageSize2M);
    AccessContext ad;
    ad.set_accessed_dirty = true;
    WalkResult r = go(va, AccessType::Write, ad);
    ASSERT_EQ(r.status, WalkStatus::Ok);
    EXPECT_TRUE(Pde(ram.read(pde_pa)).dirty());
    EXPECT_TRUE(Pde(ram.read(pde_pa)).accessed());
    uint64_t pdpte = ram.read(r.t.table_pa[1] + index_of(PteLevel::Pdpte, va) * 8);
    EXPECT_TRUE(pdpte & kAccessed);
    EXPECT_FALSE(pdpte & kDirty);
}

TEST_F(WalkerTest, NoAdUpdateWhenDisabledOrFaulting) {
    uint64_t pte_pa = b.map(root, kVa, 0x20'7000, 0);
    const uint64_t before = ram.read(pte_pa);
    EXPECT_EQ(go(kVa, AccessType::Read).status, WalkStatus::Ok);
    EXPECT_EQ(ram.read(pte_pa), before);
    AccessContext ad;
    ad.set_accessed_dirty = true;
    EXPECT_EQ(go(kVa, AccessType::Write, ad).status, WalkStatus::PageFault);
    EXPECT_EQ(ram.read(pte_pa), before);
}

// ---- Tables outside RAM -------------------------------------------------------------------

TEST_F(WalkerTest, TableOutsideRam) {
    uint64_t pml4e_pa = root + index_of(PteLevel::Pml4e, kVa) * 8;
    ram.write(pml4e_pa, Pml4e::table(kRam + 0x1000, kWritable).raw());
    WalkResult r = go(kVa, AccessType::Read);
    EXPECT_EQ(r.status, WalkStatus::TableOutsideRam);
    EXPECT_EQ(r.t.leaf_level, 3);
    EXPECT_EQ(r.t.table_pa[1], kRam + 0x1000);

    EXPECT_EQ(walk(ram.mem(), kRam, kVa, AccessType::Read, {}).status,
              WalkStatus::TableOutsideRam);
    // A leaf frame outside RAM is not the walker's business: the walk succeeds.
    b.map(root, kUserVa, 1ull << 40, 0);
    EXPECT_EQ(go(kUserVa, AccessType::Read).status, WalkStatus::Ok);
}

}  // namespace
}  // namespace mmu
