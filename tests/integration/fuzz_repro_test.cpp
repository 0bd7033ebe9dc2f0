// `asi-emu fuzz-repro`: one input of the in-emulator fuzzer on the real guest, from boot,
// with its program printed and a trace. The guest build with a planted bug (an order >= 3
// secret block left unzeroed when its pageblock turns nonsensitive) gives R4 on the input
// that reaches it, the trace replays to R4, and the correct guest runs the same input clean.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "emu/exit_codes.h"
#include "tests/integration/process_runner.h"

using testutil::json_field;
using testutil::run_asi_emu;

namespace {

// alloc order 3 sensitive, touch it, free it, alloc a nonsensitive pageblock (a flip).
const uint8_t kReachesThePlantedBug[] = {0x00, 0x0f, 0x05, 0x00, 0x03, 0x00, 0x00, 0x48};

std::string planted_image() {
    std::string p = testutil::guest_image();
    return p.substr(0, p.rfind('/') + 1) + "asi-guest-planted.elf";
}

std::string write_input(const std::string& name) {
    const std::string path = testutil::temp_path(name);
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(kReachesThePlantedBug),
                                                sizeof kReachesThePlantedBug);
    return path;
}

}  // namespace

TEST(FuzzRepro, CorrectGuestRunsTheInputClean) {
    if (!testutil::have_guest()) GTEST_SKIP() << "guest image not built";
    const std::string input = write_input("clean-input");
    auto r = run_asi_emu({"fuzz-repro", input, "--mem", "64M", "--json"});
    EXPECT_EQ(r.exit_code, emu::kExitOk) << r.err;
    EXPECT_EQ(json_field(r.out, "outcome"), "\"fuzz-done\"");
    EXPECT_EQ(json_field(r.out, "verdict"), "\"clean\"");
    EXPECT_NE(r.err.find("alloc order 3 gfp sensitive"), std::string::npos) << "the program is printed\n" << r.err;
    EXPECT_TRUE(std::ifstream(input + ".trace").good()) << "trace next to the input";
    std::remove((input + ".trace").c_str());
    std::remove(input.c_str());
}

TEST(FuzzRepro, PlantedBugIsR4AndItsTraceReplaysToR4) {
    if (!testutil::have_guest()) GTEST_SKIP() << "guest image not built";
    const std::string input = write_input("planted-input");
    auto r = run_asi_emu({"fuzz-repro", input, "--image", planted_image(), "--mem", "64M", "--json"});
    ASSERT_EQ(r.exit_code, emu::kExitOracleViolation) << testutil::tail(r.err);
    EXPECT_EQ(json_field(r.out, "rule"), "\"R4\"");
    auto replay = run_asi_emu({"replay", input + ".trace", "--json"});
    EXPECT_EQ(replay.exit_code, emu::kExitOracleViolation) << replay.err;
    EXPECT_EQ(json_field(replay.out, "rule"), "\"R4\"");
    EXPECT_EQ(json_field(replay.out, "event_index"), json_field(r.out, "event_index"));
    std::remove((input + ".trace").c_str());
    std::remove(input.c_str());
}

TEST(FuzzRepro, MissingInputIsBadInput) {
    auto r = run_asi_emu({"fuzz-repro", "/nonexistent/input"});
    EXPECT_EQ(r.exit_code, emu::kExitBadInput);
}
