#include "mmu/pte.h"

#include <gtest/gtest.h>

namespace mmu {
namespace {

using namespace pte_bits;

TEST(Pte, FlagAccessors) {
    Pte e(kPresent | kWritable | kUser | kAccessed | kDirty | kGlobal | kNoExecute | 0x1234000);
    EXPECT_TRUE(e.present());
    EXPECT_TRUE(e.writable());
    EXPECT_TRUE(e.user());
    EXPECT_TRUE(e.accessed());
    EXPECT_TRUE(e.dirty());
    EXPECT_TRUE(e.global());
    EXPECT_TRUE(e.no_execute());
    EXPECT_TRUE(e.maps_page());
    EXPECT_EQ(e.frame(), 0x1234000u);
    EXPECT_EQ(e.page_size(), kPageSize4K);
    EXPECT_FALSE(Pte(0).present());
}

TEST(Pte, WithersChangeOneBit) {
    Pte e = Pte::page(0x5000, kWritable);
    EXPECT_EQ(e.raw(), 0x5000u | kWritable | kPresent);
    EXPECT_EQ(e.with_present(false).raw(), 0x5000u | kWritable);
    EXPECT_EQ(e.with_writable(false).raw(), 0x5000u | kPresent);
    EXPECT_EQ(e.with_user(true).raw(), e.raw() | kUser);
    EXPECT_EQ(e.with_global(true).raw(), e.raw() | kGlobal);
    EXPECT_EQ(e.with_no_execute(true).raw(), e.raw() | kNoExecute);
    EXPECT_EQ(e.with_accessed(true).with_dirty(true).raw(), e.raw() | kAccessed | kDirty);
    EXPECT_EQ(e.with_address(0x9000).frame(), 0x9000u);
    EXPECT_EQ(e.with_address(0x9000).raw() & ~kAddressMask, e.raw() & ~kAddressMask);
}

TEST(Pte, PatBitSevenIsNotPageSize) {
    Pte e(kPresent | kPatSmall | 0x3000);
    EXPECT_TRUE(e.pat());
    EXPECT_TRUE(e.maps_page());
    EXPECT_EQ(e.frame(), 0x3000u);
    EXPECT_EQ(e.reserved_bits_set(46, true), 0u);
}

TEST(Pde, PsBitIsTheTag) {
    Pde table = Pde::table(0x7000, kWritable);
    EXPECT_FALSE(table.is_large_page());
    EXPECT_TRUE(table.references_table());
    EXPECT_EQ(table.table_address(), 0x7000u);
    EXPECT_EQ(table.page_size(), 0u);
    // D and G are ignored in an entry that references a table.
    EXPECT_FALSE(Pde(table.raw() | kDirty | kGlobal).dirty());
    EXPECT_FALSE(Pde(table.raw() | kDirty | kGlobal).global());

    Pde big = Pde::page(0x40'0000, kGlobal | kPatLarge);
    EXPECT_TRUE(big.is_large_page());
    EXPECT_TRUE(big.maps_page());
    EXPECT_TRUE(big.global());
    EXPECT_TRUE(big.pat());
    EXPECT_EQ(big.frame(), 0x40'0000u);  // PAT (bit 12) is not part of a 2 MiB frame
    EXPECT_EQ(big.page_size(), kPageSize2M);
    EXPECT_EQ(big.with_address(0x60'0000).frame(), 0x60'0000u);
    EXPECT_TRUE(big.with_address(0x60'0000).pat());
}

TEST(Pdpte, OneGigPage) {
    Pdpte big = Pdpte::page(0x8000'0000, 0);
    EXPECT_TRUE(big.is_large_page());
    EXPECT_EQ(big.frame(), 0x8000'0000u);
    EXPECT_EQ(big.page_size(), kPageSize1G);
    EXPECT_EQ(Pdpte(big.raw() | (1ull << 13)).reserved_bits_set(46, true), 1ull << 13);
    EXPECT_EQ(Pdpte(big.raw() | (1ull << 29)).reserved_bits_set(46, true), 1ull << 29);
    EXPECT_EQ(Pdpte(big.raw() | kPatLarge).reserved_bits_set(46, true), 0u);
    // The same bits in a PDPTE that references a table are address bits.
    EXPECT_EQ(Pdpte::table(0x2000'0000 | (1ull << 13)).reserved_bits_set(46, true), 0u);
}

TEST(Pml4e, PsIsReservedAndNeverMapsAPage) {
    Pml4e e = Pml4e::table(0x1000);
    EXPECT_FALSE(e.maps_page());
    EXPECT_EQ(Pml4e(e.raw() | kPageSize).reserved_bits_set(52, true), kPageSize);
    EXPECT_EQ(e.reserved_bits_set(52, true), 0u);
}

TEST(ReservedBits, MaxPhysAddrAndNx) {
    Pte e = Pte::page(1ull << 46);
    EXPECT_EQ(e.reserved_bits_set(46, true), 1ull << 46);
    EXPECT_EQ(e.reserved_bits_set(47, true), 0u);
    EXPECT_EQ(e.reserved_bits_set(52, true), 0u);
    EXPECT_EQ(Pte::page(0x1000, kNoExecute).reserved_bits_set(46, false), kNoExecute);
    EXPECT_EQ(Pte::page(0x1000, kNoExecute).reserved_bits_set(46, true), 0u);
    // Bits 62:52 are ignored, not reserved.
    EXPECT_EQ(Pte(kPresent | (1ull << 52) | (1ull << 62)).reserved_bits_set(46, false), 0u);
    EXPECT_EQ(Pde::page(0x20'0000 | (1ull << 20)).reserved_bits_set(46, true), 0u);
    EXPECT_EQ(Pde(Pde::page(0x20'0000).raw() | (1ull << 20)).reserved_bits_set(46, true),
              1ull << 20);
}

TEST(Indexing, SpanAndIndex) {
    EXPECT_EQ(span_of(PteLevel::Pte), 4096u);
    EXPECT_EQ(span_of(PteLevel::Pde), 2u << 20);
    EXPECT_EQ(span_of(PteLevel::Pdpte), 1u << 30);
    EXPECT_EQ(span_of(PteLevel::Pml4e), 512ull << 30);
    const uint64_t va = 0xffff888012345678ull;
    EXPECT_EQ(index_of(PteLevel::Pml4e, va), 273u);
    EXPECT_EQ(index_of(PteLevel::Pdpte, va), 0u);
    EXPECT_EQ(index_of(PteLevel::Pde, va), 0x91u);
    EXPECT_EQ(index_of(PteLevel::Pte, va), 0x145u);
}

TEST(LevelGeneric, MatchesTypedViews) {
    uint64_t big = Pde::page(0x40'0000, kPatLarge).raw();
    EXPECT_TRUE(entry_maps_page(PteLevel::Pde, big));
    EXPECT_EQ(entry_address(PteLevel::Pde, big), 0x40'0000u);
    EXPECT_FALSE(entry_maps_page(PteLevel::Pml4e, big));
    EXPECT_EQ(entry_address(PteLevel::Pml4e, Pml4e::table(0x3000).raw()), 0x3000u);
    EXPECT_TRUE(entry_maps_page(PteLevel::Pte, 0));
}

}  // namespace
}  // namespace mmu
