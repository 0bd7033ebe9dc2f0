// Boots the guest kernel this build produced: every KTAP line of its self-tests becomes an
// assertion, and runs are deterministic.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <sstream>

#include "emu/exit_codes.h"
#include "tests/integration/process_runner.h"

using testutil::run_asi_emu;

namespace {

const std::string& kGuest = testutil::guest_image();
using testutil::have_guest;
using testutil::json_field;


struct KtapResult {
    int planned = -1;
    std::vector<std::pair<std::string, std::string>> results;  // name -> ok / not ok / skip
};

KtapResult parse_ktap(const std::string& console) {
    KtapResult k;
    std::istringstream in(console);
    std::string line;
    const std::regex plan(R"(^1\.\.(\d+)\s*$)");
    const std::regex result(R"(^(ok|not ok) (\d+) ([^#]*?)\s*(# SKIP.*)?$)");
    std::smatch m;
    while (std::getline(in, line)) {
        if (std::regex_match(line, m, plan) && k.planned < 0) k.planned = std::stoi(m[1]);
        else if (std::regex_match(line, m, result))
            k.results.emplace_back(m[3], m[4].matched ? "skip" : std::string(m[1]));
    }
    return k;
}

}  // namespace

TEST(GuestKernel, BootsAndExitsCleanly) {
    if (!have_guest()) GTEST_SKIP() << "guest image not built";
    auto r = run_asi_emu({"run", kGuest, "--json"});
    EXPECT_EQ(r.exit_code, emu::kExitOk) << r.err;
    EXPECT_NE(r.out.find("\"guest_exit_value\": 0"), std::string::npos) << r.out;
}

TEST(GuestKernel, EveryKtapSelfTestPasses) {
    if (!have_guest()) GTEST_SKIP() << "guest image not built";
    auto r = run_asi_emu({"run", kGuest, "--append", "test=all"});
    const KtapResult k = parse_ktap(r.out);
    ASSERT_GT(k.planned, 0) << "no KTAP plan in the console:\n" << r.out << r.err;
    EXPECT_EQ(static_cast<int>(k.results.size()), k.planned) << r.out;
    for (const auto& [name, status] : k.results) {
        SCOPED_TRACE(name);
        // Under asi-emu every feature the tests need is advertised: nothing may skip.
        EXPECT_EQ(status, "ok") << "KTAP test '" << name << "' reported " << status << "\n" << r.out;
    }
    EXPECT_EQ(r.exit_code, emu::kExitOk) << r.err;
}

TEST(GuestKernel, ParanoidModeAgreesWithUnicornOnEveryPageFault) {
    if (!have_guest()) GTEST_SKIP() << "guest image not built";
    auto r = run_asi_emu({"run", kGuest, "--append", "test=all", "--paranoid", "--json"});
    EXPECT_EQ(r.exit_code, emu::kExitOk) << r.err;
    EXPECT_EQ(r.err.find("paranoid:"), std::string::npos) << r.err;
}

TEST(GuestKernel, RunsAreDeterministic) {
    if (!have_guest()) GTEST_SKIP() << "guest image not built";
    auto a = run_asi_emu({"run", kGuest, "--append", "test=all", "--json", "--seed", "7"});
    auto b = run_asi_emu({"run", kGuest, "--append", "test=all", "--json", "--seed", "7"});
    EXPECT_EQ(a.out, b.out);
    // The console goes to stderr with --json; strip asi-emu's own timing line.
    auto console = [](const std::string& err) {
        std::string out;
        std::istringstream in(err);
        std::string line;
        while (std::getline(in, line))
            if (line.rfind("asi-emu:", 0) != 0) out += line + "\n";
        return out;
    };
    EXPECT_EQ(console(a.err), console(b.err));
}

// The guest's LKDTM-style crash modes end with the exit codes DESIGN 8 documents.
struct LkdtmCase {
    const char* mode;
    int exit_code;
    const char* outcome;
    const char* reason;  // a phrase the error must contain ("" when the guest itself reports)
};

class GuestLkdtm : public ::testing::TestWithParam<LkdtmCase> {};

TEST_P(GuestLkdtm, EndsWithItsExitCode) {
    if (!have_guest()) GTEST_SKIP() << "guest image not built";
    const LkdtmCase& c = GetParam();
    auto r = run_asi_emu({"run", kGuest, "--append", std::string("lkdtm=") + c.mode, "--max-insns", "20000000", "--json"});
    EXPECT_EQ(r.exit_code, c.exit_code) << r.err;
    EXPECT_NE(r.out.find(std::string("\"outcome\": \"") + c.outcome + "\""), std::string::npos) << r.out;
    EXPECT_NE(r.err.find(c.reason), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(
    Modes, GuestLkdtm,
    ::testing::Values(LkdtmCase{"TRIPLE_FAULT", emu::kExitGuestCrash, "triple-fault", "triple fault"},
                      LkdtmCase{"INFINITE_LOOP", emu::kExitLimitReached, "insn-limit", "instruction limit"},
                      LkdtmCase{"WRITE_KERN_TEXT", emu::kExitGuestCrash, "forbidden-access", "write to kernel text"},
                      LkdtmCase{"EXCEPTION", emu::kExitGuestFailure, "guest-exit", "Oops"},
                      LkdtmCase{"EXHAUST_STACK", emu::kExitGuestFailure, "guest-exit", "double fault"}),
    [](const auto& info) { return std::string(info.param.mode); });
