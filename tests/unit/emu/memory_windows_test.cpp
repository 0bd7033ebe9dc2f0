// MemoryWindows: the static aliases of guest RAM and the demand-mapped pages that make up
// the guest's data path on Unicorn 2.0.1 (DESIGN 4.1, 4.6).
//
// Code here runs with paging off (UC_MODE_64 starts in long mode with CR0.PG=0), so a
// virtual address is used as is and only Unicorn's region permissions decide an access.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <vector>

#include "emu/backend/memory_windows.h"
#include "guest_kernel/abi/asi_emu_abi.h"
#include "tests/unit/emu/guest_env.h"

namespace emu::backend {
namespace {

using testing::HostRam;

constexpr uint64_t kRam = 16ull << 20;
constexpr uint64_t kText0 = 0x200000, kText0End = 0x203000;  // two text ranges
constexpr uint64_t kText1 = 0x210000, kText1End = 0x211000;
constexpr uint64_t kData = 0x300000;                         // an ordinary frame
constexpr uint64_t kKwin = asi_abi::kKernelWindowBase, kDmap = asi_abi::kDirectMapBase;
constexpr uint64_t kDemand = 0xffffc90000000000ull;          // vmalloc-like, outside the windows

class Windows : public ::testing::Test {
protected:
    Windows() : ram(kRam) {
        testing::check_uc(uc_open(UC_ARCH_X86, UC_MODE_64, &uc), "uc_open");
        // Given out of order: the constructor sorts them.
        windows.emplace(uc, ram.data(), kRam, std::vector<PhysRange>{{kText1, kText1End}, {kText0, kText0End}});
    }
    ~Windows() override {
        windows.reset();
        uc_close(uc);
    }

    // Permissions of the Unicorn region holding va, or -1 when unmapped.
    int perms_at(uint64_t va) const {
        uc_mem_region* regions = nullptr;
        uint32_t count = 0;
        if (uc_mem_regions(uc, &regions, &count) != UC_ERR_OK) return -2;
        int perms = -1;
        for (uint32_t i = 0; i < count; ++i)
            if (va >= regions[i].begin && va <= regions[i].end) perms = static_cast<int>(regions[i].perms);
        uc_free(regions);
        return perms;
    }
    bool readable(uint64_t va) const {
        uint8_t b;
        return uc_mem_read(uc, va, &b, 1) == UC_ERR_OK;
    }
    uint64_t read64(uint64_t va) const {
        uint64_t v = 0;
        EXPECT_EQ(uc_mem_read(uc, va, &v, 8), UC_ERR_OK) << std::hex << va;
        return v;
    }
    void put64(uint64_t pa, uint64_t v) { std::memcpy(ram.data() + pa, &v, 8); }

    // Runs `code` (placed at PA code_pa) from VA code_va with RBX = target. The instruction is
    // `mov [rbx], rax` unless code is given.
    uc_err run_store(uint64_t code_pa, uint64_t code_va, uint64_t target, uint64_t rax = 0x1122334455667788ull) {
        const uint8_t code[] = {0x48, 0x89, 0x03};  // mov [rbx], rax
        std::memcpy(ram.data() + code_pa, code, sizeof code);
        uc_reg_write(uc, UC_X86_REG_RBX, &target);
        uc_reg_write(uc, UC_X86_REG_RAX, &rax);
        return uc_emu_start(uc, code_va, code_va + sizeof code, 0, 1);
    }

    HostRam ram;
    uc_engine* uc = nullptr;
    std::optional<MemoryWindows> windows;
};

TEST_F(Windows, StaticWindowsAreTheDocumentedOnes) {
    ASSERT_EQ(windows->windows().size(), 3u);
    EXPECT_EQ(windows->windows()[0].va_base, 0u);
    EXPECT_EQ(windows->windows()[0].size, kRam);
    EXPECT_EQ(windows->windows()[1].va_base, kKwin);
    EXPECT_EQ(windows->windows()[1].size, kRam);
    EXPECT_EQ(windows->windows()[2].va_base, kDmap);
    EXPECT_EQ(windows->windows()[2].size, kRam);
}

TEST_F(Windows, KernelWindowIsCappedAtOneGiB) {
    MemoryWindows big(uc, ram.data(), 3ull << 30, {});
    EXPECT_EQ(big.windows()[1].size, 1ull << 30);
    EXPECT_EQ(big.windows()[2].size, 3ull << 30);
}

TEST_F(Windows, ThreeWindowsReadTheSameHostBytes) {
    ASSERT_EQ(windows->map_static_windows(), std::nullopt);
    for (uint64_t pa : {uint64_t{0}, uint64_t{0x1000}, kText0, kText0End - 8, kText1, kData, kRam - 8}) {
        put64(pa, 0xa5a5000000000000ull | pa);
        EXPECT_EQ(read64(pa), 0xa5a5000000000000ull | pa) << std::hex << pa;
        EXPECT_EQ(read64(kKwin + pa), 0xa5a5000000000000ull | pa) << std::hex << pa;
        EXPECT_EQ(read64(kDmap + pa), 0xa5a5000000000000ull | pa) << std::hex << pa;
    }
    // A store through one window is seen through the others and in the host buffer.
    const uint64_t v = 0x0badc0ffee;
    ASSERT_EQ(uc_mem_write(uc, kDmap + kData + 0x40, &v, 8), UC_ERR_OK);
    EXPECT_EQ(read64(kData + 0x40), v);
    EXPECT_EQ(read64(kKwin + kData + 0x40), v);
    EXPECT_EQ(std::memcmp(ram.data() + kData + 0x40, &v, 8), 0);
    // Nothing beyond RAM.
    EXPECT_FALSE(readable(kRam));
    EXPECT_FALSE(readable(kKwin + kRam));
    EXPECT_FALSE(readable(kDmap + kRam));
}

TEST_F(Windows, PermissionsSplitAtTheTextFrames) {
    ASSERT_EQ(windows->map_static_windows(), std::nullopt);
    const int rw = UC_PROT_READ | UC_PROT_WRITE, r = UC_PROT_READ, rx = UC_PROT_READ | UC_PROT_EXEC;
    for (uint64_t pa : {kText0, kText0End - 1, kText1, kText1End - 1}) {
        EXPECT_EQ(perms_at(pa), r) << std::hex << pa;
        EXPECT_EQ(perms_at(kKwin + pa), rx) << std::hex << pa;
        EXPECT_EQ(perms_at(kDmap + pa), r) << std::hex << pa;
    }
    for (uint64_t pa : {uint64_t{0}, kText0 - 1, kText0End, kText1 - 1, kText1End, kRam - 1}) {
        EXPECT_EQ(perms_at(pa), rw) << std::hex << pa;
        EXPECT_EQ(perms_at(kKwin + pa), rw) << std::hex << pa;
        EXPECT_EQ(perms_at(kDmap + pa), rw) << std::hex << pa;
    }
}

TEST_F(Windows, StoreToATextFrameThroughTheDirectMapIsRefused) {
    ASSERT_EQ(windows->map_static_windows(), std::nullopt);
    EXPECT_EQ(run_store(kText0, kKwin + kText0, kDmap + kText1 + 0x10), UC_ERR_WRITE_PROT);
    EXPECT_EQ(run_store(kText0, kKwin + kText0, kText1 + 0x10), UC_ERR_WRITE_PROT) << "identity";
    EXPECT_EQ(run_store(kText0, kKwin + kText0, kKwin + kText0 + 0x800), UC_ERR_WRITE_PROT) << "kernel window";
    uint64_t untouched = 0;
    EXPECT_EQ(std::memcmp(ram.data() + kText1 + 0x10, &untouched, 8), 0);
}

TEST_F(Windows, StoreToAnOrdinaryFrameThroughTheDirectMapWorks) {
    ASSERT_EQ(windows->map_static_windows(), std::nullopt);
    EXPECT_EQ(run_store(kText0, kKwin + kText0, kDmap + kData + 0x10, 0x42), UC_ERR_OK);
    EXPECT_EQ(ram.data()[kData + 0x10], 0x42);
    // The last byte below a text range and the first byte after it are still writable.
    EXPECT_EQ(run_store(kText0, kKwin + kText0, kDmap + kText1 - 8), UC_ERR_OK);
    EXPECT_EQ(run_store(kText0, kKwin + kText0, kDmap + kText1End), UC_ERR_OK);
}

TEST_F(Windows, TextExecutesOnlyThroughTheKernelWindow) {
    ASSERT_EQ(windows->map_static_windows(), std::nullopt);
    const uint64_t target = kDmap + kData;
    EXPECT_EQ(run_store(kText0, kKwin + kText0, target), UC_ERR_OK);
    EXPECT_EQ(run_store(kText0, kDmap + kText0, target), UC_ERR_FETCH_PROT);
    EXPECT_EQ(run_store(kText0, kText0, target), UC_ERR_FETCH_PROT);
    // Ordinary frames execute nowhere, not even through the kernel window.
    EXPECT_EQ(run_store(kData + 0x100, kKwin + kData + 0x100, target), UC_ERR_FETCH_PROT);
}

// ---- Demand aliases ----------------------------------------------------------------------

TEST_F(Windows, DemandAliasSeesItsFrameAndFollowsARemap) {
    ASSERT_EQ(windows->map_static_windows(), std::nullopt);
    put64(kData, 0x1111);
    put64(kData + 0x1000, 0x2222);
    ASSERT_EQ(windows->map_demand_alias(kDemand, kData, false), AliasOutcome::Mapped);
    EXPECT_EQ(windows->alias_frame(kDemand), kData);
    EXPECT_EQ(read64(kDemand), 0x1111u);
    EXPECT_EQ(perms_at(kDemand), UC_PROT_READ | UC_PROT_WRITE);
    EXPECT_FALSE(readable(kDemand + 0x1000)) << "one page only";

    ASSERT_EQ(windows->map_demand_alias(kDemand, kData + 0x1000, false), AliasOutcome::Mapped);
    EXPECT_EQ(windows->alias_frame(kDemand), kData + 0x1000);
    EXPECT_EQ(read64(kDemand), 0x2222u);
    EXPECT_EQ(windows->alias_count(), 1u);
    EXPECT_EQ(windows->aliases_mapped_total(), 2u);

    // Stores through the alias land in the frame.
    const uint64_t v = 0x3333;
    ASSERT_EQ(run_store(kText0, kKwin + kText0, kDemand + 8, v), UC_ERR_OK);
    EXPECT_EQ(std::memcmp(ram.data() + kData + 0x1008, &v, 8), 0);
}

TEST_F(Windows, DemandAliasOfATextFrameIsNotWritable) {
    ASSERT_EQ(windows->map_static_windows(), std::nullopt);
    ASSERT_EQ(windows->map_demand_alias(kDemand, kText1, true), AliasOutcome::Mapped);
    EXPECT_EQ(perms_at(kDemand), UC_PROT_READ | UC_PROT_EXEC);
    EXPECT_EQ(run_store(kText0, kKwin + kText0, kDemand), UC_ERR_WRITE_PROT);
    ASSERT_EQ(windows->map_demand_alias(kDemand + 0x1000, kData, false), AliasOutcome::Mapped);
    EXPECT_EQ(perms_at(kDemand + 0x1000), UC_PROT_READ | UC_PROT_WRITE) << "not executable unless asked";
}

TEST_F(Windows, RemappedExecutableAliasRunsTheNewFramesCode) {
    ASSERT_EQ(windows->map_static_windows(), std::nullopt);
    const uint8_t one[] = {0xb8, 0x01, 0x00, 0x00, 0x00};  // mov eax, 1
    const uint8_t two[] = {0xb8, 0x02, 0x00, 0x00, 0x00};  // mov eax, 2
    std::memcpy(ram.data() + kData, one, sizeof one);
    std::memcpy(ram.data() + kData + 0x1000, two, sizeof two);
    uint64_t rax = 0;
    ASSERT_EQ(windows->map_demand_alias(kDemand, kData, true), AliasOutcome::Mapped);
    ASSERT_EQ(uc_emu_start(uc, kDemand, kDemand + 5, 0, 1), UC_ERR_OK);
    uc_reg_read(uc, UC_X86_REG_RAX, &rax);
    EXPECT_EQ(rax, 1u);
    ASSERT_EQ(windows->map_demand_alias(kDemand, kData + 0x1000, true), AliasOutcome::Mapped);
    ASSERT_EQ(uc_emu_start(uc, kDemand, kDemand + 5, 0, 1), UC_ERR_OK);
    uc_reg_read(uc, UC_X86_REG_RAX, &rax);
    EXPECT_EQ(rax, 2u) << "code translated for the old frame must not run";
}

TEST_F(Windows, DemandAliasOutsideRamIsRefused) {
    ASSERT_EQ(windows->map_static_windows(), std::nullopt);
    EXPECT_EQ(windows->map_demand_alias(kDemand, kRam, false), AliasOutcome::OutsideRam);
    EXPECT_EQ(windows->map_demand_alias(kDemand, ~0xfffull, false), AliasOutcome::OutsideRam);
    EXPECT_EQ(windows->alias_count(), 0u);
    EXPECT_FALSE(readable(kDemand));
    EXPECT_EQ(windows->map_demand_alias(kDemand, kRam - 0x1000, false), AliasOutcome::Mapped);
}

TEST_F(Windows, DemandAliasOverAStaticWindowFails) {
    ASSERT_EQ(windows->map_static_windows(), std::nullopt);
    EXPECT_EQ(windows->map_demand_alias(kDmap + kData, kData + 0x1000, false), AliasOutcome::MapFailed);
    EXPECT_EQ(windows->alias_count(), 0u);
    EXPECT_EQ(windows->alias_frame(kDmap + kData), std::nullopt);
    put64(kData, 0x77);
    EXPECT_EQ(read64(kDmap + kData), 0x77u) << "the static window is intact";
}

TEST_F(Windows, DropAliasUnmapsOnlyThatPage) {
    ASSERT_EQ(windows->map_static_windows(), std::nullopt);
    ASSERT_EQ(windows->map_demand_alias(kDemand, kData, false), AliasOutcome::Mapped);
    ASSERT_EQ(windows->map_demand_alias(kDemand + 0x1000, kData + 0x1000, false), AliasOutcome::Mapped);
    windows->drop_alias(kDemand);
    EXPECT_EQ(windows->alias_frame(kDemand), std::nullopt);
    EXPECT_FALSE(readable(kDemand));
    uint8_t b;
    EXPECT_EQ(uc_mem_read(uc, kDemand, &b, 1), UC_ERR_READ_UNMAPPED);
    EXPECT_EQ(windows->alias_frame(kDemand + 0x1000), kData + 0x1000);
    EXPECT_TRUE(readable(kDemand + 0x1000));
    EXPECT_EQ(windows->alias_count(), 1u);
    // Dropping what is not an alias changes nothing, static windows included.
    windows->drop_alias(kDemand);
    windows->drop_alias(kData);
    windows->drop_alias(kDmap + kData);
    EXPECT_TRUE(readable(kData));
    EXPECT_TRUE(readable(kDmap + kData));
    EXPECT_EQ(windows->alias_count(), 1u);
}

TEST_F(Windows, DropAllAliasesKeepsTheStaticWindows) {
    ASSERT_EQ(windows->map_static_windows(), std::nullopt);
    for (uint64_t i = 0; i < 4; ++i)
        ASSERT_EQ(windows->map_demand_alias(kDemand + i * 0x1000, kData + i * 0x1000, false), AliasOutcome::Mapped);
    windows->drop_all_aliases();
    EXPECT_EQ(windows->alias_count(), 0u);
    for (uint64_t i = 0; i < 4; ++i) EXPECT_FALSE(readable(kDemand + i * 0x1000)) << i;
    EXPECT_TRUE(readable(kData));
    EXPECT_TRUE(readable(kKwin + kData));
    EXPECT_TRUE(readable(kDmap + kData));
    // The pages can be mapped again.
    EXPECT_EQ(windows->map_demand_alias(kDemand, kData, false), AliasOutcome::Mapped);
}

TEST_F(Windows, DropAliasesNotMatchingKeepsExactlyTheCurrentOnes) {
    ASSERT_EQ(windows->map_static_windows(), std::nullopt);
    const uint64_t a = kDemand, b = kDemand + 0x1000, c = kDemand + 0x2000;
    ASSERT_EQ(windows->map_demand_alias(a, kData, false), AliasOutcome::Mapped);
    ASSERT_EQ(windows->map_demand_alias(b, kData + 0x1000, false), AliasOutcome::Mapped);
    ASSERT_EQ(windows->map_demand_alias(c, kData + 0x2000, false), AliasOutcome::Mapped);
    std::map<uint64_t, std::optional<uint64_t>> now = {
        {a, kData},                  // unchanged: kept
        {b, kData + 0x5000},         // remapped: dropped
        {c, std::nullopt},           // unmapped: dropped
    };
    std::vector<uint64_t> asked;
    windows->drop_aliases_not_matching([&](uint64_t va) {
        asked.push_back(va);
        return now.at(va);
    });
    std::sort(asked.begin(), asked.end());
    EXPECT_EQ(asked, (std::vector<uint64_t>{a, b, c}));
    EXPECT_EQ(windows->alias_count(), 1u);
    EXPECT_EQ(windows->alias_frame(a), kData);
    EXPECT_TRUE(readable(a));
    EXPECT_EQ(windows->alias_frame(b), std::nullopt);
    EXPECT_FALSE(readable(b));
    EXPECT_EQ(windows->alias_frame(c), std::nullopt);
    EXPECT_FALSE(readable(c));
}

// ---- check_leaf_mapping ------------------------------------------------------------------

TEST_F(Windows, LeafMappingAtWindowBasePlusPaIsAccepted) {
    for (uint64_t base : {uint64_t{0}, kKwin, kDmap}) {
        EXPECT_EQ(windows->check_leaf_mapping(base + kData, kData, 4096), std::nullopt) << std::hex << base;
        EXPECT_EQ(windows->check_leaf_mapping(base + 0x200000, 0x200000, 2ull << 20), std::nullopt) << std::hex << base;
        EXPECT_EQ(windows->check_leaf_mapping(base, 0, 4096), std::nullopt) << std::hex << base;
        EXPECT_EQ(windows->check_leaf_mapping(base + kRam - 4096, kRam - 4096, 4096), std::nullopt) << std::hex << base;
    }
}

TEST_F(Windows, IdentityWindowRejectsVaOtherThanPa) {
    auto err = windows->check_leaf_mapping(kData, kData + 0x1000, 4096);
    ASSERT_TRUE(err.has_value());
    EXPECT_NE(err->find("identity"), std::string::npos) << *err;
    EXPECT_TRUE(windows->check_leaf_mapping(0x1000, 0x0, 4096).has_value());
    EXPECT_TRUE(windows->check_leaf_mapping(kRam - 4096, 0x5000, 4096).has_value());
}

TEST_F(Windows, DirectMapRejectsTheWrongFrame) {
    auto err = windows->check_leaf_mapping(kDmap + kData, kData + 0x3000, 4096);
    ASSERT_TRUE(err.has_value());
    EXPECT_NE(err->find("direct map"), std::string::npos) << *err;
    EXPECT_TRUE(windows->check_leaf_mapping(kDmap + 0x200000, 0x400000, 2ull << 20).has_value());
    EXPECT_TRUE(windows->check_leaf_mapping(kKwin + 0x200000, 0x0, 4096).has_value()) << "kernel window";
}

TEST_F(Windows, LargePageStraddlingAWindowStartIsRejected) {
    // A 1 GiB page whose upper part lies in the direct map at the wrong offset.
    EXPECT_TRUE(windows->check_leaf_mapping(kDmap - (1ull << 30) + (1ull << 21), 0, 1ull << 30).has_value());
}

TEST_F(Windows, AnyMappingOutsideTheWindowsIsAccepted) {
    EXPECT_EQ(windows->check_leaf_mapping(kDemand, kData, 4096), std::nullopt);
    EXPECT_EQ(windows->check_leaf_mapping(kDemand, 0, 2ull << 20), std::nullopt);
    EXPECT_EQ(windows->check_leaf_mapping(kRam, 0x5000, 4096), std::nullopt) << "just above the identity window";
    EXPECT_EQ(windows->check_leaf_mapping(0x0000700000000000ull, kData, 4096), std::nullopt) << "user space";
    EXPECT_EQ(windows->check_leaf_mapping(kDmap + kRam, 0, 4096), std::nullopt) << "direct map beyond RAM";
    EXPECT_EQ(windows->check_leaf_mapping(kKwin + kRam, 0, 4096), std::nullopt) << "kernel window beyond RAM";
    EXPECT_EQ(windows->check_leaf_mapping(kDmap - 4096, kData, 4096), std::nullopt) << "just below the direct map";
}

TEST_F(Windows, InStaticWindowAndIsTextFrame) {
    EXPECT_TRUE(windows->in_static_window(0));
    EXPECT_TRUE(windows->in_static_window(kRam - 1));
    EXPECT_FALSE(windows->in_static_window(kRam));
    EXPECT_TRUE(windows->in_static_window(kKwin + kRam - 1));
    EXPECT_FALSE(windows->in_static_window(kKwin + kRam));
    EXPECT_TRUE(windows->in_static_window(kDmap));
    EXPECT_FALSE(windows->in_static_window(kDmap - 1));
    EXPECT_FALSE(windows->in_static_window(kDemand));
    EXPECT_TRUE(windows->is_text_frame(kText0));
    EXPECT_TRUE(windows->is_text_frame(kText1End - 1));
    EXPECT_FALSE(windows->is_text_frame(kText0End));
    EXPECT_FALSE(windows->is_text_frame(kText0 - 1));
    EXPECT_FALSE(windows->is_text_frame(kData));
}

}  // namespace
}  // namespace emu::backend
