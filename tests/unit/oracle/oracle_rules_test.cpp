// Each leak-oracle rule (DESIGN 5, R1-R6) with a stream that triggers it and a near-identical
// stream that must not. Violations are checked for rule, vCPU, PCID, VA and frame, and for the
// event at which they are reported (the reporting moments (a), (b), (c)).
#include <gtest/gtest.h>

#include <functional>

#include "tests/unit/oracle/oracle_fixture.h"

namespace oracle_testing {
namespace {

using cpu_model::Rule;
using mmu::pte_bits::kGlobal;
using mmu::pte_bits::kPresent;
using mmu::pte_bits::kUser;
using mmu::pte_bits::kWritable;

constexpr unsigned kInvpcidAddress = 0, kInvpcidSingle = 1, kInvpcidAllGlobals = 2, kInvpcidAll = 3;

#define EXPECT_NO_VIOLATIONS(s) EXPECT_EQ((s).oracle().violation_count(), 0u) << describe((s).violations())

// ============================== R1: mapped ================================================

// Moment (a): the frame becomes sensitive while its pageblock is still present in the
// restricted direct map.
TEST(OracleR1, SensitiveAllocationInABlockStillInTheRestrictedDirectMap) {
    Scenario s;
    const uint64_t f = block_pa(5) + 0x3000;
    s.alloc_sensitive(f, /*owner=*/0, /*vcpu=*/1);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R1Mapped, 1, kRestrictedPcid, dm_va(f), f));
    EXPECT_EQ(s.violations()[0].event_index, s.last_event_index());
    EXPECT_EQ(s.metrics().violations_by_rule[1], 1u);
    ASSERT_FALSE(s.violations()[0].chain.empty());
    EXPECT_EQ(s.violations()[0].chain.back().index, s.last_event_index());
}

TEST(OracleR1, NearMissBlockUnmappedBeforeTheAllocation) {
    Scenario s;
    const uint64_t f = block_pa(5) + 0x3000;
    s.unmap_restricted_block(5);
    s.alloc_sensitive(f, 0, 1);
    EXPECT_NO_VIOLATIONS(s);
}

TEST(OracleR1, EveryFrameOfAHigherOrderAllocationIsJudged) {
    Scenario s;
    const uint64_t f = block_pa(5) + 0x4000;
    s.alloc_sensitive(f, 0, 0, /*order=*/2);
    ASSERT_EQ(s.violations().size(), 4u) << describe(s.violations());
    for (unsigned i = 0; i < 4; ++i)
        EXPECT_TRUE(IsViolation(s.violations()[i], Rule::R1Mapped, 0, kRestrictedPcid, dm_va(f + i * kFrameSize),
                                f + i * kFrameSize));
}

// Moment (b): a PteWrite maps an already-sensitive frame into a restricted table.
TEST(OracleR1, PteWriteMapsASensitiveFrameIntoARestrictedTable) {
    Scenario s;
    const uint64_t f = block_pa(6) + 0x1000;
    s.unmap_restricted_block(6);
    s.alloc_sensitive(f);
    ASSERT_EQ(s.oracle().violation_count(), 0u) << describe(s.violations());
    s.map_vmalloc(/*restricted=*/true, 3, f, kWritable, /*vcpu=*/1);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R1Mapped, 1, kRestrictedPcid, vmalloc_va(3), f));
    EXPECT_EQ(s.violations()[0].event_index, s.last_event_index());
}

TEST(OracleR1, NearMissPteWriteIntoTheUnrestrictedTableOnly) {
    Scenario s;
    const uint64_t f = block_pa(6) + 0x1000;
    s.unmap_restricted_block(6);
    s.alloc_sensitive(f);
    s.map_vmalloc(/*restricted=*/false, 3, f, kWritable, 1);
    EXPECT_NO_VIOLATIONS(s);
}

// Moment (b) through a table linked whole: ASI (or any kernel) prepares a PT and then links
// it with one PDE write. The PDE write is what makes the PT's leaves reachable.
TEST(OracleR1, LinkingAPrefilledTableThatMapsASensitiveFrame) {
    Scenario s;
    const uint64_t f = block_pa(6) + 0x2000;
    s.unmap_restricted_block(6);
    s.alloc_sensitive(f);
    const uint64_t pt = s.new_table();
    s.ram().mem().write_u64(pt + 5 * 8, mmu::Pte::page(f, kWritable).raw());
    // Link the PT at the vmalloc PD slot right after the existing vmalloc PT.
    const uint64_t va = kVmallocBase + mmu::kPageSize2M;
    const uint64_t pdpt =
        s.read_entry(s.restricted_root() + mmu::index_of(mmu::PteLevel::Pml4e, va) * 8) & mmu::pte_bits::kAddressMask;
    const uint64_t pd = s.read_entry(pdpt + mmu::index_of(mmu::PteLevel::Pdpte, va) * 8) & mmu::pte_bits::kAddressMask;
    s.write_entry(pd + mmu::index_of(mmu::PteLevel::Pde, va) * 8, mmu::Pde::table(pt, kWritable).raw());
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R1Mapped, 0, kRestrictedPcid, va + 5 * kFrameSize, f));
}

// Registering a restricted root whose tables already map a sensitive frame.
TEST(OracleR1, RegisteringARestrictedRootThatAlreadyMapsASensitiveFrame) {
    Scenario s;
    const uint64_t f = block_pa(5);
    s.unmap_restricted_block(5);
    s.alloc_sensitive(f);
    // A second restricted root whose direct map is the *unrestricted* one (a wrong copy).
    const uint64_t root = s.new_table();
    for (unsigned i = 256; i < 512; ++i)
        s.ram().mem().write_u64(root + i * 8ull, s.read_entry(s.unrestricted_root() + i * 8ull));
    s.register_space(root, 5, true, 0);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R1Mapped, 0, 5, dm_va(f), f));
}

// Owner exception: a user mapping of the owner's own restricted space is not a leak.
class OracleR1Owner : public ::testing::Test {
protected:
    // Process 7's restricted space; the frame lives in a block that is not in the restricted
    // direct map (so only the user mapping reaches it).
    void run(uint64_t alloc_owner, uint64_t pte_flags) {
        p = s.make_process_space(/*owner=*/7, /*pcid=*/3);
        s.unmap_restricted_block(7);
        s.alloc_sensitive(f, alloc_owner);
        s.write_entry(p.user_pte(2), mmu::Pte::page(f, pte_flags).raw(), /*vcpu=*/1);
    }
    Scenario s;
    ProcessSpace p;
    const uint64_t f = block_pa(7) + 0x2000;
};

TEST_F(OracleR1Owner, OwnUserMappingIsNotAViolation) {
    run(7, kWritable | kUser);
    EXPECT_NO_VIOLATIONS(s);
}

TEST_F(OracleR1Owner, AnotherOwnersFrameIsAViolation) {
    run(8, kWritable | kUser);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R1Mapped, 1, 3, user_va(2), f));
}

TEST_F(OracleR1Owner, KernelOwnedFrameIsAViolation) {
    run(0, kWritable | kUser);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R1Mapped, 1, 3, user_va(2), f));
}

TEST_F(OracleR1Owner, OwnFrameThroughASupervisorMappingIsAViolation) {
    run(7, kWritable);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R1Mapped, 1, 3, user_va(2), f));
}

// "User-accessible" is the effective U/S of the whole walk (SDM 4.6.1: U/S=1 in every
// paging-structure entry), not the leaf's bit alone: a U=1 PTE under a U=0 PDE is a
// supervisor-only mapping, which the owner exception does not cover.
TEST_F(OracleR1Owner, OwnFrameThroughASupervisorUpperLevelIsAViolation) {
    p = s.make_process_space(7, 3);
    const uint64_t pdpt = s.read_entry(p.root) & mmu::pte_bits::kAddressMask;
    const uint64_t pd = s.read_entry(pdpt) & mmu::pte_bits::kAddressMask;
    const uint64_t pde = pd + mmu::index_of(mmu::PteLevel::Pde, kUserBase) * 8;
    ASSERT_EQ(s.read_entry(pde) & mmu::pte_bits::kAddressMask, p.user_pt);
    s.write_entry(pde, s.read_entry(pde) & ~kUser);
    s.unmap_restricted_block(7);
    s.alloc_sensitive(f, 7);
    s.write_entry(p.user_pte(2), mmu::Pte::page(f, kWritable | kUser).raw(), 1);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R1Mapped, 1, 3, user_va(2), f));
}

// ---- R2: stale restricted translations ---------------------------------------------------

constexpr unsigned kR2Block = 8;
constexpr uint64_t kR2Frame = block_pa(kR2Block) + 0x4000;

// vCPU 1 runs in the restricted space (the pageblock is in its tables: possibly cached),
// the pageblock is unmapped from the restricted direct map, `flush` runs, then vCPU 0
// allocates a frame of the block sensitive (moment a).
template <typename Flush>
void r2_stream(Scenario& s, Flush flush) {
    s.enter_restricted(1);
    s.unmap_restricted_block(kR2Block);
    flush(s);
    s.alloc_sensitive(kR2Frame);
}

TEST(OracleR2, MissingFlushNamesTheVcpuInTheRestrictedSpace) {
    Scenario s;
    r2_stream(s, [](Scenario&) {});
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R2Stale, 1, kRestrictedPcid, dm_va(kR2Frame), kR2Frame));
    EXPECT_EQ(s.violations()[0].event_index, s.last_event_index());
}

TEST(OracleR2, NearMissInvlpgOfTheFrame) {
    Scenario s;
    r2_stream(s, [](Scenario& x) { x.invlpg(1, dm_va(kR2Frame)); });
    EXPECT_NO_VIOLATIONS(s);
}

TEST(OracleR2, NearMissInvlpgOfTheBlock) {
    Scenario s;
    r2_stream(s, [](Scenario& x) { x.invlpg(1, dm_va(block_pa(kR2Block))); });
    EXPECT_NO_VIOLATIONS(s);
}

TEST(OracleR2, NearMissInvpcidOfTheRestrictedPcid) {
    for (unsigned type : {kInvpcidAddress, kInvpcidSingle, kInvpcidAll}) {
        SCOPED_TRACE(type);
        Scenario s;
        r2_stream(s, [type](Scenario& x) { x.invpcid(1, type, kRestrictedPcid, dm_va(kR2Frame)); });
        EXPECT_NO_VIOLATIONS(s);
    }
}

TEST(OracleR2, NearMissPageFault) {
    Scenario s;
    r2_stream(s, [](Scenario& x) { x.page_fault(1, dm_va(kR2Frame)); });
    EXPECT_NO_VIOLATIONS(s);
}

TEST(OracleR2, NearMissFlushingCr3Reload) {
    Scenario s;
    r2_stream(s, [](Scenario& x) { x.enter_restricted(1, /*no_flush=*/false); });
    EXPECT_NO_VIOLATIONS(s);
}

TEST(OracleR2, InvpcidOfTheWrongPcidStillLeaks) {
    for (unsigned type : {kInvpcidAddress, kInvpcidSingle}) {
        SCOPED_TRACE(type);
        Scenario s;
        r2_stream(s, [type](Scenario& x) { x.invpcid(1, type, kUnrestrictedPcid, dm_va(kR2Frame)); });
        ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
        EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R2Stale, 1, kRestrictedPcid, dm_va(kR2Frame), kR2Frame));
    }
}

TEST(OracleR2, InvlpgOfAnotherPageStillLeaks) {
    Scenario s;
    r2_stream(s, [](Scenario& x) { x.invlpg(1, dm_va(block_pa(kR2Block + 1))); });
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R2Stale, 1, kRestrictedPcid, dm_va(kR2Frame), kR2Frame));
}

TEST(OracleR2, LocalOnlyFlushLeavesTheOtherVcpu) {
    Scenario s;
    s.enter_restricted(0);
    r2_stream(s, [](Scenario& x) { x.invlpg(0, dm_va(kR2Frame)); });
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R2Stale, 1, kRestrictedPcid, dm_va(kR2Frame), kR2Frame));
}

// The report says why vCPU 1 still holds the entry: the flush since the change ran on
// vCPU 0 only, and the chain carries that flush.
TEST(OracleR2, LocalOnlyFlushIsNamedInTheExplanation) {
    Scenario s;
    s.enter_restricted(0);
    r2_stream(s, [](Scenario& x) { x.invlpg(0, dm_va(kR2Frame)); });
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    const cpu_model::Violation& v = s.violations()[0];
    EXPECT_NE(v.how.find("only vCPU 0 flushed (no shootdown reached vCPU 1)"), std::string::npos) << v.how;
    bool linked = false;
    for (const auto& link : v.chain)
        linked |= link.event.kind == emu::EventKind::Invlpg && link.event.vcpu == 0 &&
                  link.note == "INVLPG on vCPU 0 only: vCPU 1 kept its entry";
    EXPECT_TRUE(linked) << describe(v);
}

TEST(OracleR2, NoFlushAnywhereSaysSo) {
    Scenario s;
    r2_stream(s, [](Scenario&) {});
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_NE(s.violations()[0].how.find("no vCPU flushed since the entry changed"), std::string::npos)
        << s.violations()[0].how;
}

TEST(OracleR2, ASingleVcpuReportHasNoShootdownClause) {
    ScenarioOptions one;
    one.vcpus = 1;
    Scenario s(one);
    s.enter_restricted(0);
    s.unmap_restricted_block(kR2Block);
    s.alloc_sensitive(kR2Frame);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    // Neither clause of the SMP explanation ("only vCPU k flushed", "no vCPU flushed").
    EXPECT_EQ(s.violations()[0].how.find("flushed"), std::string::npos) << s.violations()[0].how;
    EXPECT_EQ(s.violations()[0].how.find("shootdown"), std::string::npos) << s.violations()[0].how;
}

TEST(OracleR2, NoFlushAnywhereNamesBothRestrictedVcpus) {
    Scenario s;
    s.enter_restricted(0);
    r2_stream(s, [](Scenario&) {});
    ASSERT_EQ(s.violations().size(), 2u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R2Stale, 0, kRestrictedPcid, dm_va(kR2Frame), kR2Frame));
    EXPECT_TRUE(IsViolation(s.violations()[1], Rule::R2Stale, 1, kRestrictedPcid, dm_va(kR2Frame), kR2Frame));
}

TEST(OracleR2, NearMissBothVcpusFlushLocally) {
    Scenario s;
    s.enter_restricted(0);
    r2_stream(s, [](Scenario& x) {
        x.invlpg(0, dm_va(kR2Frame));
        x.invpcid(1, kInvpcidSingle, kRestrictedPcid);
    });
    EXPECT_NO_VIOLATIONS(s);
}

// Moment (c): stale restricted entries on a vCPU outside the restricted space are not yet a
// leak; the CR3 load that brings them back is.
void r2_outside_stream(Scenario& s, bool no_flush_entry) {
    s.enter_restricted(1);
    s.unmap_restricted_block(kR2Block);
    s.enter_unrestricted(1);  // flushes PCID 1 only
    s.alloc_sensitive(kR2Frame);
    EXPECT_EQ(s.oracle().violation_count(), 0u) << "reported at the allocation: " << describe(s.violations());
    s.enter_restricted(1, no_flush_entry);
}

TEST(OracleR2, StaleEntriesOutsideTheRestrictedSpaceAreReportedAtANoFlushEntry) {
    Scenario s;
    r2_outside_stream(s, /*no_flush_entry=*/true);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R2Stale, 1, kRestrictedPcid, dm_va(kR2Frame), kR2Frame));
    EXPECT_EQ(s.violations()[0].event_index, s.last_event_index());
    EXPECT_EQ(s.stream()[s.violations()[0].event_index].kind, emu::EventKind::Cr3Load);
}

TEST(OracleR2, NearMissFlushingEntry) {
    Scenario s;
    r2_outside_stream(s, /*no_flush_entry=*/false);
    EXPECT_NO_VIOLATIONS(s);
}

// Moment (b) through a paging-structure cache: the restricted PDE that linked a PT is
// cleared without a flush; a later store into the old PT makes a sensitive frame reachable
// through the PDE-cache entry vCPU 1 may still hold.
void r2_stale_table_stream(Scenario& s, bool flush) {
    const uint64_t pt = s.split_restricted_block(11);
    s.unmap_restricted_block(12);  // before any vCPU is in the restricted space: nothing stale
    s.alloc_sensitive(block_pa(12) + 0x9000);
    s.enter_restricted(1);
    s.unmap_restricted_block(11);  // the old PT is now reachable only through vCPU 1's PDE cache
    if (flush) s.invlpg(1, dm_va(block_pa(11)));
    ASSERT_EQ(s.oracle().violation_count(), 0u) << describe(s.violations());
    s.write_entry(pt + 9 * 8, mmu::Pte::page(block_pa(12) + 0x9000, kWritable).raw());
}

TEST(OracleR2, StoreIntoATableAStalePdeCacheEntryStillReaches) {
    Scenario s;
    r2_stale_table_stream(s, false);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R2Stale, 1, kRestrictedPcid, dm_va(block_pa(11)) + 9 * kFrameSize,
                            block_pa(12) + 0x9000));
    EXPECT_EQ(s.violations()[0].event_index, s.last_event_index());
}

TEST(OracleR2, NearMissStoreIntoATableAfterInvlpg) {
    Scenario s;
    r2_stale_table_stream(s, true);
    EXPECT_NO_VIOLATIONS(s);
}

// Moment (c) through a paging-structure cache: vCPU 1 leaves the restricted space holding a
// PDE-cache entry of PCID 2 for an old PT; a store into that PT while it is outside cannot be
// cached under PCID 2 yet, but the no-flush re-entry makes the PT's current content usable.
void r2_stale_table_outside_stream(Scenario& s, bool no_flush_entry) {
    const uint64_t pt = s.split_restricted_block(11);
    const uint64_t f = block_pa(12) + 0x9000;
    s.unmap_restricted_block(12);
    s.alloc_sensitive(f);
    s.enter_restricted(1);
    s.unmap_restricted_block(11);
    s.enter_unrestricted(1);
    s.write_entry(pt + 9 * 8, mmu::Pte::page(f, kWritable).raw());
    ASSERT_EQ(s.oracle().violation_count(), 0u) << describe(s.violations());
    s.enter_restricted(1, no_flush_entry);
}

TEST(OracleR2, StaleTableRecordIsReportedAtANoFlushEntry) {
    Scenario s;
    r2_stale_table_outside_stream(s, true);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R2Stale, 1, kRestrictedPcid, dm_va(block_pa(11)) + 9 * kFrameSize,
                            block_pa(12) + 0x9000));
    EXPECT_EQ(s.violations()[0].event_index, s.last_event_index());
}

TEST(OracleR2, NearMissStaleTableRecordFlushedByTheEntry) {
    Scenario s;
    r2_stale_table_outside_stream(s, false);
    EXPECT_NO_VIOLATIONS(s);
}

// ============================== R3: global ================================================

constexpr unsigned kR3Block = 9;
constexpr uint64_t kR3Frame = block_pa(kR3Block) + 0x5000;

// vCPU 0 runs unrestricted (the unrestricted direct map may be cached, globally when G=1 and
// PGE=1); the block is not in the restricted direct map; the frame becomes sensitive; vCPU 0
// enters the restricted space with a flushing CR3 load.
void r3_stream(Scenario& s, bool no_flush = false) {
    s.unmap_restricted_block(kR3Block);
    s.alloc_sensitive(kR3Frame);
    ASSERT_EQ(s.oracle().violation_count(), 0u) << describe(s.violations());
    s.enter_restricted(0, no_flush);
}

TEST(OracleR3, GlobalTranslationSurvivesAFlushingEntry) {
    Scenario s({.global_direct_map = true});
    r3_stream(s);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R3Global, 0, kRestrictedPcid, dm_va(kR3Frame), kR3Frame));
    EXPECT_EQ(s.violations()[0].event_index, s.last_event_index());
}

TEST(OracleR3, GlobalTranslationSurvivesANoFlushEntry) {
    Scenario s({.global_direct_map = true});
    r3_stream(s, true);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R3Global, 0, kRestrictedPcid, dm_va(kR3Frame), kR3Frame));
}

TEST(OracleR3, NearMissPgeOff) {
    Scenario s({.pge = false, .global_direct_map = true});
    r3_stream(s);
    EXPECT_NO_VIOLATIONS(s);
}

TEST(OracleR3, NearMissNotGlobal) {
    Scenario s({.global_direct_map = false});
    r3_stream(s);
    EXPECT_NO_VIOLATIONS(s);
}

// Moment (a) for globals: the vCPU is already in the restricted space when the frame becomes
// sensitive; INVPCID type 2 there removes the global translation, no other flush does.
void r3_inside_stream(Scenario& s, const std::function<void(Scenario&)>& flush) {
    s.unmap_restricted_block(kR3Block);
    s.enter_restricted(0);
    flush(s);
    s.alloc_sensitive(kR3Frame, 0, 1);
}

TEST(OracleR3, GlobalTranslationReportedAtTheAllocationWhenAlreadyInside) {
    Scenario s({.global_direct_map = true});
    r3_inside_stream(s, [](Scenario& x) { x.invpcid(0, kInvpcidAll, 0); });  // type 3 keeps globals
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R3Global, 0, kRestrictedPcid, dm_va(kR3Frame), kR3Frame));
    EXPECT_EQ(s.violations()[0].event_index, s.last_event_index());
}

TEST(OracleR3, NearMissInvpcidType2) {
    Scenario s({.global_direct_map = true});
    r3_inside_stream(s, [](Scenario& x) { x.invpcid(0, kInvpcidAllGlobals, 0); });
    EXPECT_NO_VIOLATIONS(s);
}

TEST(OracleR3, NearMissInvlpgOfThePageRemovesGlobals) {
    Scenario s({.global_direct_map = true});
    r3_inside_stream(s, [](Scenario& x) { x.invlpg(0, dm_va(kR3Frame)); });
    EXPECT_NO_VIOLATIONS(s);
}

TEST(OracleR3, NearMissTogglingPge) {
    Scenario s({.global_direct_map = true});
    r3_inside_stream(s, [](Scenario& x) {
        x.cr4_write(0, kCr4Pae | kCr4Pcide);
        x.cr4_write(0, kCr4Pae | kCr4Pcide | kCr4Pge);
    });
    EXPECT_NO_VIOLATIONS(s);
}

// INVPCID type 2 while the unrestricted CR3 is still loaded does not help: the global entry
// may be cached again before the switch (SDM 4.10.2.3: any time).
TEST(OracleR3, Type2FlushBeforeLeavingTheUnrestrictedRootDoesNotHelp) {
    Scenario s({.global_direct_map = true});
    s.unmap_restricted_block(kR3Block);
    s.alloc_sensitive(kR3Frame);
    s.invpcid(0, kInvpcidAllGlobals, 0);
    s.enter_restricted(0);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R3Global, 0, kRestrictedPcid, dm_va(kR3Frame), kR3Frame));
}

// A global entry that changed in the unrestricted tables stays cached (as a global stale
// entry) on every PCID until an INVLPG of the page or a global flush.
void r3_global_stale_stream(Scenario& s, bool invlpg) {
    s.unmap_restricted_block(kR3Block);
    s.write_entry(s.unrestricted_pde(kR3Block), 0);  // e.g. the block is being remapped
    if (invlpg) s.invlpg(0, dm_va(kR3Frame));
    s.alloc_sensitive(kR3Frame);
    s.enter_restricted(0);
}

TEST(OracleR3, GlobalStaleEntrySurvivesIntoTheRestrictedSpace) {
    Scenario s({.global_direct_map = true});
    r3_global_stale_stream(s, false);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R3Global, 0, kRestrictedPcid, dm_va(kR3Frame), kR3Frame));
    EXPECT_EQ(s.violations()[0].event_index, s.last_event_index());
}

TEST(OracleR3, NearMissGlobalStaleEntryRemovedByInvlpg) {
    Scenario s({.global_direct_map = true});
    r3_global_stale_stream(s, true);
    EXPECT_NO_VIOLATIONS(s);
}

// ============================== R4: residue ===============================================

constexpr unsigned kR4Block = 10;
constexpr uint64_t kR4Frame = block_pa(kR4Block) + 0x6000;

void r4_stream(Scenario& s, bool zero) {
    s.unmap_restricted_block(kR4Block);
    s.alloc_sensitive(kR4Frame);
    s.fill_frame(kR4Frame, 0xa5);
    s.free(kR4Frame);
    if (zero) s.zero_frame(kR4Frame);
    ASSERT_EQ(s.oracle().violation_count(), 0u) << describe(s.violations());
    s.map_restricted_block(kR4Block, /*vcpu=*/1);
}

TEST(OracleR4, ResidueMappedBackBeforeZeroing) {
    Scenario s;
    r4_stream(s, false);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R4Residue, 1, kRestrictedPcid, dm_va(kR4Frame), kR4Frame));
    EXPECT_EQ(s.violations()[0].event_index, s.last_event_index());
}

TEST(OracleR4, NearMissZeroedBeforeTheMapping) {
    Scenario s;
    r4_stream(s, true);
    EXPECT_NO_VIOLATIONS(s);
    EXPECT_GT(s.content().checks, 0u);
}

TEST(OracleR4, ResidueMappedThroughA4KPte) {
    Scenario s;
    s.unmap_restricted_block(kR4Block);
    s.alloc_sensitive(kR4Frame);
    s.fill_frame(kR4Frame, 1);
    s.free(kR4Frame);
    s.alloc_plain(kR4Frame);  // a nonsensitive reuse does not remove residue
    s.map_vmalloc(true, 4, kR4Frame);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R4Residue, 0, kRestrictedPcid, vmalloc_va(4), kR4Frame));
}

TEST(OracleR4, NearMissResidueZeroedBeforeA4KMapping) {
    Scenario s;
    s.unmap_restricted_block(kR4Block);
    s.alloc_sensitive(kR4Frame);
    s.fill_frame(kR4Frame, 1);
    s.free(kR4Frame);
    s.alloc_plain(kR4Frame);
    s.zero_frame(kR4Frame);
    s.map_vmalloc(true, 4, kR4Frame);
    EXPECT_NO_VIOLATIONS(s);
}

// ============================== R5: table reuse ===========================================

// A named flush sequence, for parameterised near-misses.
struct NamedFlush {
    const char* name;
    std::function<void(Scenario&)> flush;
};

constexpr unsigned kR5Block = 11;

// A PT linked from a restricted PDE; the vCPUs in `walkers` run in the restricted space (so
// they may hold a PDE-cache entry for it); the PDE is cleared; `flush` runs; the PT is freed.
uint64_t r5_stream(Scenario& s, std::initializer_list<unsigned> walkers,
                   const std::function<void(Scenario&)>& flush) {
    const uint64_t pt = s.split_restricted_block(kR5Block);
    for (unsigned v : walkers) s.enter_restricted(v);
    s.unmap_restricted_block(kR5Block);
    flush(s);
    s.free(pt);
    return pt;
}

TEST(OracleR5, TableFreedWhileAPdeCacheEntryMayPointToIt) {
    Scenario s;
    const uint64_t pt = r5_stream(s, {1}, [](Scenario&) {});
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R5TableReuse, 1, kRestrictedPcid, dm_va(block_pa(kR5Block)), pt));
    EXPECT_EQ(s.violations()[0].event_index, s.last_event_index());
}

class OracleR5NearMiss : public ::testing::TestWithParam<NamedFlush> {};

TEST_P(OracleR5NearMiss, FlushOnTheVcpuBeforeTheFree) {
    Scenario s;
    r5_stream(s, {1}, GetParam().flush);
    EXPECT_NO_VIOLATIONS(s);
}

INSTANTIATE_TEST_SUITE_P(
    Flushes, OracleR5NearMiss,
    ::testing::Values(
        NamedFlush{"Invlpg", [](Scenario& s) { s.invlpg(1, dm_va(block_pa(kR5Block)) + 0x7000); }},
        NamedFlush{"InvpcidAddress",
                [](Scenario& s) { s.invpcid(1, kInvpcidAddress, kRestrictedPcid, dm_va(block_pa(kR5Block))); }},
        NamedFlush{"InvpcidSingleContext", [](Scenario& s) { s.invpcid(1, kInvpcidSingle, kRestrictedPcid); }},
        NamedFlush{"InvpcidAllContextsAndGlobals", [](Scenario& s) { s.invpcid(1, kInvpcidAllGlobals, 0); }}),
    [](const ::testing::TestParamInfo<NamedFlush>& i) { return std::string(i.param.name); });

TEST(OracleR5, WrongPcidFlushDoesNotHelp) {
    Scenario s;
    const uint64_t pt = r5_stream(s, {1}, [](Scenario& x) { x.invpcid(1, kInvpcidSingle, kUnrestrictedPcid); });
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R5TableReuse, 1, kRestrictedPcid, dm_va(block_pa(kR5Block)), pt));
}

TEST(OracleR5, EveryVcpuThatHadItMustFlush) {
    Scenario s;
    const uint64_t pt = r5_stream(s, {0, 1}, [](Scenario& x) { x.invlpg(1, dm_va(block_pa(kR5Block))); });
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R5TableReuse, 0, kRestrictedPcid, dm_va(block_pa(kR5Block)), pt));
}

TEST(OracleR5, NearMissEveryVcpuThatHadItFlushes) {
    Scenario s;
    r5_stream(s, {0, 1}, [](Scenario& x) {
        x.invlpg(1, dm_va(block_pa(kR5Block)));
        x.invpcid(0, kInvpcidSingle, kRestrictedPcid);
    });
    EXPECT_NO_VIOLATIONS(s);
}

// A vCPU that left the restricted space keeps its PDE-cache entries of PCID 2 (a flushing
// load of PCID 1 does not touch them); it must still flush PCID 2 before the table is reused.
TEST(OracleR5, VcpuThatLeftTheRestrictedSpaceStillHoldsTheTable) {
    Scenario s;
    const uint64_t pt = r5_stream(s, {1}, [](Scenario& x) { x.enter_unrestricted(1); });
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R5TableReuse, 1, kRestrictedPcid, dm_va(block_pa(kR5Block)), pt));
}

TEST(OracleR5, NearMissVcpuThatLeftFlushesTheRestrictedPcid) {
    Scenario s;
    r5_stream(s, {1}, [](Scenario& x) {
        x.enter_unrestricted(1);
        x.invpcid(1, kInvpcidSingle, kRestrictedPcid);
    });
    EXPECT_NO_VIOLATIONS(s);
}

// ============================== R6: L1TF ==================================================

constexpr unsigned kR6Block = 12;
constexpr uint64_t kR6Frame = block_pa(kR6Block) + 0x7000;

// The restricted PDE of the block becomes not present (value given), then a frame of the
// block becomes sensitive. No vCPU is in the restricted space.
void r6_stream(Scenario& s, uint64_t not_present_pde) {
    s.write_entry(s.restricted_pde(kR6Block), not_present_pde);
    s.alloc_sensitive(kR6Frame, 0, 1);
}

uint64_t pde_keeping_frame() { return Scenario::block_pde_value(kR6Block) & ~kPresent; }
// Linux's L1TF mitigation (pte_mknotpresent / protnone, flip_protnone_guard): the address
// bits of a not-present entry are stored inverted, so they name memory that does not exist.
uint64_t pde_inverted() { return (Scenario::block_pde_value(kR6Block) & ~kPresent) ^ mmu::pte_bits::kAddress2MMask; }

TEST(OracleR6, NotPresentPdeKeepingItsFrameNumber) {
    Scenario s({.profile = "l1tf"});
    r6_stream(s, pde_keeping_frame());
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    // A not-present 2 MiB entry names the block; the oracle reports the entry's region base.
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R6L1tf, 1, kRestrictedPcid, dm_va(block_pa(kR6Block)), kR6Frame));
    EXPECT_EQ(s.violations()[0].event_index, s.last_event_index());
}

TEST(OracleR6, NearMissInvertedAddressBits) {
    Scenario s({.profile = "l1tf"});
    r6_stream(s, pde_inverted());
    EXPECT_NO_VIOLATIONS(s);
}

TEST(OracleR6, NearMissDefaultProfile) {
    Scenario s;
    r6_stream(s, pde_keeping_frame());
    EXPECT_NO_VIOLATIONS(s);
}

TEST(OracleR6, NotPresentPteNamingASensitiveFrameIsReportedAtTheWrite) {
    Scenario s({.profile = "l1tf"});
    const uint64_t f = kR6Frame;
    s.unmap_restricted_block(kR6Block);
    s.alloc_sensitive(f);
    s.write_entry(s.vmalloc_pte(true, 6), mmu::Pte::page(f, kWritable).raw() & ~kPresent, 1);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R6L1tf, 1, kRestrictedPcid, vmalloc_va(6), f));
    EXPECT_EQ(s.violations()[0].event_index, s.last_event_index());
}

TEST(OracleR6, NearMissInvertedPte) {
    Scenario s({.profile = "l1tf"});
    const uint64_t f = kR6Frame;
    s.unmap_restricted_block(kR6Block);
    s.alloc_sensitive(f);
    s.write_entry(s.vmalloc_pte(true, 6),
                  (mmu::Pte::page(f, kWritable).raw() & ~kPresent) ^ mmu::pte_bits::kAddressMask, 1);
    EXPECT_NO_VIOLATIONS(s);
}

// Moment (b) for a 2 MiB entry: the frame is already sensitive (and not the block's first
// frame) when the not-present PDE naming its block is written.
TEST(OracleR6, NotPresentPdeWrittenAfterAFrameOfItsBlockIsSensitive) {
    Scenario s({.profile = "l1tf"});
    s.unmap_restricted_block(kR6Block);
    s.alloc_sensitive(kR6Frame);
    s.write_entry(s.restricted_pde(kR6Block), pde_keeping_frame(), 1);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R6L1tf, 1, kRestrictedPcid, dm_va(block_pa(kR6Block)), kR6Frame));
}

TEST(OracleR6, NotPresentPdeWrittenAfterTheBlocksFirstFrameIsSensitive) {
    Scenario s({.profile = "l1tf"});
    const uint64_t f = block_pa(kR6Block);
    s.unmap_restricted_block(kR6Block);
    s.alloc_sensitive(f);
    s.write_entry(s.restricted_pde(kR6Block), pde_keeping_frame(), 1);
    ASSERT_EQ(s.violations().size(), 1u) << describe(s.violations());
    EXPECT_TRUE(IsViolation(s.violations()[0], Rule::R6L1tf, 1, kRestrictedPcid, dm_va(f), f));
}

}  // namespace
}  // namespace oracle_testing
