// Machine snapshots (the in-emulator fuzzer's reset): after any input, restoring gives back
// the snapshot's RAM and host state exactly (digests), a reset costs the pages the input
// wrote, and an input run after a restore behaves as it did the first time. The guest is
// images/fuzz_echo.S, which speaks the fuzz protocol of asi_emu_abi.h and writes one page
// per distinct program byte.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "emu/exit_codes.h"
#include "emu/machine.h"

namespace {

std::unique_ptr<emu::Machine> boot_to_ready(const std::string& image, uint32_t smp = 1) {
    emu::MachineConfig c;
    c.image_path = image;
    c.ram_size = 64ull << 20;
    c.smp = smp;
    c.pause_at_fuzz_ready = true;
    c.serial = std::fopen("/dev/null", "w");
    auto m = std::make_unique<emu::Machine>(c);
    const emu::RunOutcome r = m->run();
    EXPECT_EQ(r.outcome, "fuzz-ready") << r.detail;
    m->set_pause_at_fuzz_ready(false);
    return m;
}

const std::string kEcho = std::string(ASI_TEST_IMAGE_DIR) + "/fuzz_echo.elf";

emu::RunOutcome run_input(emu::Machine& m, const std::vector<uint8_t>& input) {
    m.restore_snapshot();
    m.set_instruction_budget(1'000'000);
    m.write_fuzz_program(input);
    return m.run();
}

}  // namespace

TEST(MachineSnapshot, RestoreGivesBackTheSnapshotsRamAndHostState) {
    auto m = boot_to_ready(kEcho);
    m->take_snapshot();
    const uint64_t ram = m->ram_digest(), host = m->state_digest();
    const std::vector<std::vector<uint8_t>> inputs = {{}, {1, 2, 3}, {0xff, 0}, {'a', 'b', 'a', 'z', 7, 200, 9}};
    for (const auto& input : inputs) {
        m->restore_snapshot();
        m->set_instruction_budget(1'000'000);
        m->write_fuzz_program(input);
        const emu::RunOutcome out = m->run();
        EXPECT_EQ(out.outcome, "fuzz-done") << out.detail;
        // The check can fail: the input changed both.
        EXPECT_NE(m->ram_digest(), ram);
        EXPECT_NE(m->state_digest(), host);
        const size_t pages = m->restore_snapshot();
        EXPECT_GE(pages, 1u) << "the program buffer at least was written";
        EXPECT_EQ(m->ram_digest(), ram) << "input of " << input.size() << " bytes";
        EXPECT_EQ(m->state_digest(), host) << "input of " << input.size() << " bytes";
    }
}

TEST(MachineSnapshot, AResetCostsThePagesTheInputWrote) {
    auto m = boot_to_ready(kEcho);
    m->take_snapshot();
    run_input(*m, {5});
    const size_t one = m->restore_snapshot();
    std::vector<uint8_t> many;
    for (int b = 0; b < 100; ++b) many.push_back(static_cast<uint8_t>(b));
    run_input(*m, many);
    const size_t hundred = m->restore_snapshot();
    // fuzz_echo's table has a 2 KiB stride: 100 distinct bytes touch 50 more pages than one.
    EXPECT_GE(hundred, one + 49) << one << " vs " << hundred;
    EXPECT_LE(one, 4u) << "the buffer, one table page and the stack";
}

TEST(MachineSnapshot, AnInputAfterARestoreRunsAsTheFirstTime) {
    auto m = boot_to_ready(kEcho);
    m->take_snapshot();
    const std::vector<uint8_t> input = {9, 8, 7, 9};
    const emu::RunOutcome first = run_input(*m, input);
    run_input(*m, {1, 1, 1, 1, 1, 1});
    const emu::RunOutcome again = run_input(*m, input);
    EXPECT_EQ(first.outcome, "fuzz-done");
    EXPECT_EQ(again.stats.instructions, first.stats.instructions);
    EXPECT_EQ(again.detail, first.detail);
    EXPECT_EQ(again.exit_code, first.exit_code);
}

TEST(MachineSnapshot, BudgetEndsARunawayInputAndTheNextRestoreRecovers) {
    auto m = boot_to_ready(kEcho);
    m->take_snapshot();
    m->restore_snapshot();
    m->set_instruction_budget(50);  // fewer than the echo loop needs for 100 bytes
    m->write_fuzz_program(std::vector<uint8_t>(100, 3));
    EXPECT_EQ(m->run().exit_code, emu::kExitLimitReached);
    EXPECT_EQ(run_input(*m, {3}).outcome, "fuzz-done");
}

TEST(MachineSnapshot, ATooLongProgramIsBadInput) {
    auto m = boot_to_ready(kEcho);
    m->take_snapshot();
    m->restore_snapshot();
    try {
        m->write_fuzz_program(std::vector<uint8_t>(5000, 0));
        FAIL() << "a 5000-byte program fit a 4 KiB buffer";
    } catch (const emu::MachineError& e) {
        EXPECT_EQ(e.code(), emu::kExitBadInput);
    }
}

TEST(MachineSnapshot, RefusedWithATrace) {
    emu::MachineConfig c;
    c.image_path = kEcho;
    c.ram_size = 64ull << 20;
    c.pause_at_fuzz_ready = true;
    c.trace_path = testing::TempDir() + "snapshot-refused.trace";
    c.serial = std::fopen("/dev/null", "w");
    emu::Machine m(c);
    ASSERT_EQ(m.run().outcome, "fuzz-ready");
    EXPECT_THROW(m.take_snapshot(), emu::MachineError);
}
