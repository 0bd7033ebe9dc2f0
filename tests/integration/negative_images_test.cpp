// Images that end badly must end with their documented exit code and a named reason
// (DESIGN 8), never a crash or a hang of asi-emu itself.
#include <gtest/gtest.h>

#include "emu/exit_codes.h"
#include "tests/integration/process_runner.h"

using testutil::run_asi_emu;
using testutil::test_image;

namespace {

void expect_outcome(const testutil::ProcessResult& r, int code, const std::string& outcome) {
    EXPECT_EQ(r.signal, 0) << r.err;
    EXPECT_EQ(r.exit_code, code) << r.err;
    EXPECT_NE(r.out.find("\"outcome\": \"" + outcome + "\""), std::string::npos) << r.out << r.err;
}

}  // namespace

TEST(NegativeImages, RunawayLoopHitsInstructionLimit) {
    auto r = run_asi_emu({"run", test_image("runaway"), "--max-insns", "200000", "--json"});
    expect_outcome(r, emu::kExitLimitReached, "insn-limit");
    EXPECT_NE(r.err.find("instruction limit 200000"), std::string::npos) << r.err;
}

TEST(NegativeImages, RunawayLoopWithoutLimitIsNotStoppedEarly) {
    // The same loop with a larger limit runs longer: the limit, not something else, ends it.
    auto small = run_asi_emu({"run", test_image("runaway"), "--max-insns", "100000", "--json"});
    auto large = run_asi_emu({"run", test_image("runaway"), "--max-insns", "1000000", "--json"});
    auto count = [](const std::string& json) {
        const auto p = json.find("\"instructions\": ");
        return std::stoull(json.substr(p + 16));
    };
    ASSERT_EQ(small.exit_code, emu::kExitLimitReached);
    ASSERT_EQ(large.exit_code, emu::kExitLimitReached);
    EXPECT_GE(count(small.out), 100000u);
    EXPECT_LT(count(small.out), 100100u);
    EXPECT_GE(count(large.out), 1000000u);
}

TEST(NegativeImages, TripleFault) {
    auto r = run_asi_emu({"run", test_image("triple_fault"), "--json"});
    expect_outcome(r, emu::kExitGuestCrash, "triple-fault");
    EXPECT_NE(r.err.find("triple fault"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("RIP"), std::string::npos) << "a crash prints a register dump: " << r.err;
}

TEST(NegativeImages, NonCanonicalAccessWithoutIdtTripleFaults) {
    auto r = run_asi_emu({"run", test_image("noncanonical_unhandled"), "--json"});
    expect_outcome(r, emu::kExitGuestCrash, "triple-fault");
    EXPECT_NE(r.err.find("vector 13"), std::string::npos) << "the first fault was #GP: " << r.err;
}

TEST(NegativeImages, HaltWithInterruptsOffIsAHang) {
    auto r = run_asi_emu({"run", test_image("halt"), "--json"});
    expect_outcome(r, emu::kExitGuestCrash, "guest-halted");
    EXPECT_NE(r.err.find("interrupts disabled"), std::string::npos) << r.err;
}

TEST(NegativeImages, NonZeroExitValueIsGuestFailure) {
    auto r = run_asi_emu({"run", test_image("exit_value"), "--json"});
    expect_outcome(r, emu::kExitGuestFailure, "guest-exit");
    EXPECT_NE(r.out.find("\"guest_exit_value\": 1"), std::string::npos) << r.out;
}

TEST(NegativeImages, WritingKernelTextIsRefused) {
    auto r = run_asi_emu({"run", test_image("write_text"), "--json"});
    expect_outcome(r, emu::kExitGuestCrash, "forbidden-access");
    EXPECT_NE(r.err.find("write to kernel text"), std::string::npos) << r.err;
}

TEST(NegativeImages, ExecutingOutsideScannedTextIsRefused) {
    auto r = run_asi_emu({"run", test_image("exec_data"), "--json"});
    expect_outcome(r, emu::kExitGuestCrash, "forbidden-access");
    EXPECT_NE(r.err.find("outside the scanned kernel text"), std::string::npos) << r.err;
}

TEST(NegativeImages, WritableTextSegmentIsBadInput) {
    auto r = run_asi_emu({"run", test_image("writable_text"), "--json"});
    expect_outcome(r, emu::kExitBadInput, "bad-input");
    EXPECT_NE(r.out.find("writable-executable-segment"), std::string::npos) << r.out;
}
