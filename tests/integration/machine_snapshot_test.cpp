// Machine snapshots (the in-emulator fuzzer's reset): after any input, restoring gives back
// the snapshot's RAM and host state exactly (digests), a reset costs the pages the input
// wrote, and an input run after a restore behaves as it did the first time. The guest is
// images/fuzz_echo.S, which speaks the fuzz protocol of asi_emu_abi.h and writes one page
// per distinct program byte, and the guest kernel's fuzz mode on the fuzzer's seed corpus.
#include <gtest/gtest.h>

#include <sys/mman.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "emu/dirty_page_tracker.h"
#include "emu/exit_codes.h"
#include "emu/machine.h"

namespace {

std::unique_ptr<emu::Machine> boot_to_ready(const std::string& image, uint32_t smp = 1,
                                            const std::string& cmdline = "", std::FILE* console = nullptr) {
    emu::MachineConfig c;
    c.image_path = image;
    c.cmdline = cmdline;
    c.oracle = !cmdline.empty();  // the guest kernel runs under the oracle, as the fuzzer runs it
    c.ram_size = 64ull << 20;
    c.smp = smp;
    c.pause_at_fuzz_ready = true;
    c.serial = console ? console : std::fopen("/dev/null", "w");
    auto m = std::make_unique<emu::Machine>(c);
    const emu::RunOutcome r = m->run();
    EXPECT_EQ(r.outcome, "fuzz-ready") << r.detail;
    m->set_pause_at_fuzz_ready(false);
    return m;
}

const std::string kEcho = std::string(ASI_TEST_IMAGE_DIR) + "/fuzz_echo.elf";

emu::RunOutcome run_input(emu::Machine& m, const std::vector<uint8_t>& input, uint64_t budget = 1'000'000) {
    m.restore_snapshot();
    m.set_instruction_budget(budget);
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

// The real guest's fuzz mode: after every seed of fuzz/corpus/emulator_fuzzer/ and a set of
// pseudo-random programs, each run twice over so that pages the inputs keep writing turn hot
// (DirtyPageTracker), the restored machine's RAM and host state equal the snapshot's.
TEST(MachineSnapshot, TheGuestKernelRestoresToItsSnapshotAfterAnyProgram) {
    auto m = boot_to_ready(ASI_GUEST_IMAGE, 1, "fuzz");
    m->take_snapshot();
    const uint64_t ram = m->ram_digest(), host = m->state_digest();
    std::vector<std::vector<uint8_t>> programs;
    for (const auto& entry : std::filesystem::directory_iterator(ASI_FUZZ_CORPUS_DIR)) {
        std::ifstream f(entry.path(), std::ios::binary);
        programs.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    ASSERT_GE(programs.size(), 5u);
    std::mt19937 rng(7);
    for (int i = 0; i < 8; ++i) {
        std::vector<uint8_t> p(2 + rng() % 64);
        for (uint8_t& b : p) b = static_cast<uint8_t>(rng());
        programs.push_back(p);
    }
    for (int round = 0; round < 2; ++round) {
        for (size_t i = 0; i < programs.size(); ++i) {
            // One restore per input, as the fuzzer does (a restore with nothing written in
            // between would end every page's streak).
            m->set_instruction_budget(20'000'000);
            m->write_fuzz_program(programs[i]);
            const emu::RunOutcome out = m->run();
            ASSERT_EQ(out.outcome, "fuzz-done") << "program " << i << ": " << out.detail;
            ASSERT_EQ(out.exit_code, emu::kExitOk) << "program " << i << ": " << out.detail;
            EXPECT_NE(m->ram_digest(), ram) << "program " << i;
            m->restore_snapshot();
            EXPECT_EQ(m->ram_digest(), ram) << "round " << round << ", program " << i;
            EXPECT_EQ(m->state_digest(), host) << "round " << round << ", program " << i;
        }
    }
    EXPECT_GT(m->hot_ram_pages(), 0u) << "pages every program writes (stack, program buffer) turned hot";
}

// What the guest printed on a console file since `from` bytes.
std::string console_since(std::FILE* console, long from) {
    std::fflush(console);
    const long end = std::ftell(console);
    std::string text(static_cast<size_t>(end - from), '\0');
    std::fseek(console, from, SEEK_SET);
    const size_t got = std::fread(text.data(), 1, text.size(), console);
    text.resize(got);
    std::fseek(console, end, SEEK_SET);
    return text;
}

// asi_abi::kFuzzQuiet: the fuzzer's runs skip the guest's console summary (a port write per
// character), and the program runs the same.
TEST(MachineSnapshot, AQuietProgramPrintsNoSummaryAndRunsTheSame) {
    std::FILE* console = std::tmpfile();
    ASSERT_NE(console, nullptr);
    auto m = boot_to_ready(ASI_GUEST_IMAGE, 1, "fuzz", console);
    m->take_snapshot();
    const std::vector<uint8_t> program = {0x00, 0x0c, 0x05, 0x00, 0x0e};  // alloc, touch, check
    long mark = std::ftell(console);
    m->set_instruction_budget(20'000'000);
    m->write_fuzz_program(program);
    const emu::RunOutcome loud = m->run();
    EXPECT_NE(console_since(console, mark).find("asi-guest: fuzz: 3 ops"), std::string::npos);
    m->restore_snapshot();
    mark = std::ftell(console);
    m->set_instruction_budget(20'000'000);
    m->write_fuzz_program(program, true);
    const emu::RunOutcome quiet = m->run();
    const std::string quiet_text = console_since(console, mark);
    EXPECT_EQ(quiet_text.find("asi-guest: fuzz:"), std::string::npos) << quiet_text;
    EXPECT_EQ(quiet.outcome, "fuzz-done");
    EXPECT_EQ(quiet.detail, loud.detail) << "loud: " << loud.detail;
    EXPECT_EQ(quiet.exit_code, emu::kExitOk);
}

// Pages written in kHotAfter restores in a row stay writable and are copied back on every
// restore; a page written once is protected again, and one written after turning hot is put
// back all the same.
TEST(DirtyPageTracker, PagesWrittenEveryRoundTurnHotAndAreStillRestored) {
    constexpr size_t kPages = 16, kPage = 4096;
    void* mem = mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    auto* ram = static_cast<uint8_t*>(mem);
    for (size_t p = 0; p < kPages; ++p) ram[p * kPage] = static_cast<uint8_t>(p);
    {
        emu::DirtyPageTracker t(ram, kPages * kPage);
        t.arm();
        for (uint32_t round = 0; round < emu::DirtyPageTracker::kHotAfter; ++round) {
            ram[3 * kPage] = 0xaa;  // every round
            if (round == 0) ram[9 * kPage + 5] = 0xbb;  // once
            EXPECT_EQ(t.hot_pages(), 0u) << "round " << round;
            t.restore();
            EXPECT_EQ(ram[3 * kPage], 3);
            EXPECT_EQ(ram[9 * kPage + 5], 0);
        }
        EXPECT_EQ(t.hot_pages(), 1u) << "page 3, written in every round";
        // Page 3 is hot: its write does not fault (dirty_pages stays 0) and is undone.
        ram[3 * kPage + 7] = 0xcc;
        EXPECT_EQ(t.dirty_pages(), 0u);
        ram[9 * kPage] = 0xdd;  // still protected: recorded
        EXPECT_EQ(t.dirty_pages(), 1u);
        EXPECT_EQ(t.restore(), 2u) << "the hot page and the dirty one";
        EXPECT_EQ(ram[3 * kPage + 7], 0);
        EXPECT_EQ(ram[9 * kPage], 9);
        // arm() protects every page again: nothing is hot.
        t.arm();
        EXPECT_EQ(t.hot_pages(), 0u);
        ram[3 * kPage] = 0xee;
        EXPECT_EQ(t.dirty_pages(), 1u);
        t.restore();
        EXPECT_EQ(ram[3 * kPage], 3);
    }
    munmap(mem, kPages * kPage);
}

// asi-emu's own bulk writes (rep stos on the host) announce their range: the pages are saved
// and unprotected up front, recorded once, and restored and protected again like any other.
TEST(DirtyPageTracker, AnnouncedWritesAreRecordedOnceAndRestored) {
    constexpr size_t kPages = 16, kPage = 4096;
    void* mem = mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    auto* ram = static_cast<uint8_t*>(mem);
    {
        emu::DirtyPageTracker t(ram, kPages * kPage);
        t.arm();
        ram[6 * kPage] = 1;  // faults: recorded
        EXPECT_EQ(t.dirty_pages(), 1u);
        t.will_write(5 * kPage + 100, 3 * kPage);  // pages 5-8; 6 is already writable
        EXPECT_EQ(t.dirty_pages(), 4u);
        std::memset(ram + 5 * kPage, 0x5a, 4 * kPage);
        EXPECT_EQ(t.dirty_pages(), 4u) << "no fault for announced pages";
        EXPECT_EQ(t.restore(), 4u);
        for (size_t p = 5; p < 9; ++p) EXPECT_EQ(ram[p * kPage], 0) << "page " << p;
        ram[7 * kPage] = 2;  // protected again
        EXPECT_EQ(t.dirty_pages(), 1u);
        t.restore();
        t.will_write(kPages * kPage - 10, 100);  // clipped at the region's end
        EXPECT_EQ(t.dirty_pages(), 1u);
        t.restore();
    }
    munmap(mem, kPages * kPage);
}
