// CpuStateBlob: the offsets into Unicorn 2.0.1's uc_context (DESIGN 4.2, 4.3).
#include <gtest/gtest.h>

#include "emu/backend/cpu_state_blob.h"
#include "tests/unit/emu/guest_env.h"

namespace emu::backend {
namespace {

using testing::GuestEnv;
using testing::probed_layout;

TEST(CpuStateLayout, ProbeSucceedsOnThisUnicorn) {
    const LayoutProbe probe = probe_cpu_state_layout();
    ASSERT_TRUE(probe.layout.has_value()) << probe.failure;
    EXPECT_TRUE(probe.failure.empty());
    const CpuStateLayout& l = *probe.layout;
    // The fields lie in CPUX86State's documented order.
    EXPECT_LT(l.eip, l.hflags);
    EXPECT_LT(l.hflags, l.segs);
    EXPECT_LT(l.segs, l.error_code);
    EXPECT_EQ(l.exception_is_int, l.error_code + 4);
    EXPECT_GT(l.old_exception, l.error_code);
}

TEST(CpuStateBlob, SegmentWriteReachesTheEngine) {
    GuestEnv env;
    CpuStateBlob blob(env.uc(), probed_layout());
    blob.load();
    blob.set_segment(kSegFs, SegmentCache{0x2b, 0x0000123412340000ull, 0xfffff, 0x00c0f300});
    blob.set_segment(kSegCs, SegmentCache{0x1b, 0, 0xffffffff, 0x00a0fb00});
    blob.store();
    // The API reads the same CPUX86State fields the blob wrote.
    EXPECT_EQ(env.reg(UC_X86_REG_FS_BASE), 0x0000123412340000ull);
    EXPECT_EQ(env.reg(UC_X86_REG_FS) & 0xffff, 0x2bu);
    EXPECT_EQ(env.reg(UC_X86_REG_CS) & 0xffff, 0x1bu);
}

TEST(CpuStateBlob, RoundTripsHflagsAndSegments) {
    GuestEnv env;
    const uint32_t original_hflags = env.hflags();
    EXPECT_EQ(original_hflags & kHflagCplMask, 0u);
    {
        CpuStateBlob blob(env.uc(), probed_layout());
        blob.load();
        blob.set_hflags((blob.hflags() & ~kHflagCplMask) | 3);
        for (int i = 0; i < 6; ++i)
            blob.set_segment(i, SegmentCache{static_cast<uint32_t>(0x100 + i), 0x1000ull * (i + 1),
                                             0x1234u + i, 0x00c0f300u + (i << 8)});
        blob.store();
    }
    CpuStateBlob again(env.uc(), probed_layout());
    again.load();
    EXPECT_EQ(again.hflags(), (original_hflags & ~kHflagCplMask) | 3);
    for (int i = 0; i < 6; ++i) {
        SegmentCache s = again.segment(i);
        EXPECT_EQ(s.selector, static_cast<uint32_t>(0x100 + i)) << i;
        EXPECT_EQ(s.base, 0x1000ull * (i + 1)) << i;
        EXPECT_EQ(s.limit, 0x1234u + i) << i;
        EXPECT_EQ(s.flags, 0x00c0f300u + (i << 8)) << i;
    }
}

TEST(CpuStateBlob, EditWithoutStoreLeavesTheEngineAlone) {
    GuestEnv env;
    const uint32_t before = env.hflags();
    const uint64_t fs_before = env.reg(UC_X86_REG_FS_BASE);
    {
        CpuStateBlob blob(env.uc(), probed_layout());
        blob.load();
        blob.set_hflags(before | 3);
        blob.set_segment(kSegFs, SegmentCache{0x2b, 0xabcdef000ull, 0, 0});
        // no store()
    }
    EXPECT_EQ(env.hflags(), before);
    EXPECT_EQ(env.reg(UC_X86_REG_FS_BASE), fs_before);
}

// A real #PF raised by Unicorn on a write to a not-present page: the INTR hook sees
// error_code and old_exception, and optionally clears old_exception as the backend does.
struct FaultLog {
    bool clear = false;
    int count = 0;
    uint32_t intno[4] = {};
    int32_t error_code[4] = {};
    int32_t old_exception[4] = {};
};

void on_fault(uc_engine* uc, uint32_t intno, void* user) {
    auto* log = static_cast<FaultLog*>(user);
    CpuStateBlob blob(uc, probed_layout());
    blob.load();
    if (log->count < 4) {
        log->intno[log->count] = intno;
        log->error_code[log->count] = blob.error_code();
        log->old_exception[log->count] = blob.old_exception();
    }
    ++log->count;
    if (log->clear) {
        blob.clear_old_exception();
        blob.store();
    }
    uc_emu_stop(uc);
}

class RealPageFault : public ::testing::Test {
protected:
    static constexpr uint64_t kMissing = 0x300000;
    void SetUp() override {
        // mov [0x300000], rax
        const uint8_t code[] = {0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00};
        std::memcpy(env.ram() + GuestEnv::kCode, code, sizeof code);
        code_end = GuestEnv::kCode + sizeof code;
        env.unmap_page(kMissing);
        uc_hook h;
        testing::check_uc(uc_hook_add(env.uc(), &h, UC_HOOK_INTR, reinterpret_cast<void*>(on_fault), &log, 1, 0),
                          "hook");
    }
    void run_once() {
        env.set_reg(UC_X86_REG_RIP, GuestEnv::kCode);
        uc_emu_start(env.uc(), GuestEnv::kCode, code_end, 0, 10);
    }
    GuestEnv env;
    FaultLog log;
    uint64_t code_end = 0;
};

TEST_F(RealPageFault, OldExceptionReads14AndClearsToMinusOne) {
    run_once();
    ASSERT_EQ(log.count, 1);
    EXPECT_EQ(log.intno[0], 14u);
    EXPECT_EQ(log.error_code[0], 2);  // write to a not-present page, supervisor
    EXPECT_EQ(log.old_exception[0], 14);
    EXPECT_EQ(env.reg(UC_X86_REG_CR2), kMissing);

    CpuStateBlob blob(env.uc(), probed_layout());
    blob.load();
    EXPECT_EQ(blob.old_exception(), 14);
    blob.clear_old_exception();
    EXPECT_EQ(blob.old_exception(), -1);
    blob.store();
    CpuStateBlob again(env.uc(), probed_layout());
    again.load();
    EXPECT_EQ(again.old_exception(), -1);
}

TEST_F(RealPageFault, WithoutClearingTheSecondFaultArrivesAsDoubleFault) {
    run_once();
    run_once();
    ASSERT_EQ(log.count, 2);
    EXPECT_EQ(log.intno[0], 14u);
    EXPECT_EQ(log.intno[1], 8u) << "Unicorn 2.0.1 never resets old_exception (DESIGN 4.2)";
}

TEST_F(RealPageFault, AfterClearingTheSecondFaultIsAPageFaultAgain) {
    log.clear = true;
    run_once();
    run_once();
    ASSERT_EQ(log.count, 2);
    EXPECT_EQ(log.intno[0], 14u);
    EXPECT_EQ(log.intno[1], 14u);
    EXPECT_EQ(log.old_exception[1], 14);
    EXPECT_EQ(log.error_code[1], 2);
}

TEST_F(RealPageFault, NoFaultLeavesOldExceptionClear) {
    env.remap_page(kMissing);
    run_once();
    EXPECT_EQ(log.count, 0);
    CpuStateBlob blob(env.uc(), probed_layout());
    blob.load();
    EXPECT_EQ(blob.old_exception(), -1);
}

}  // namespace
}  // namespace emu::backend
