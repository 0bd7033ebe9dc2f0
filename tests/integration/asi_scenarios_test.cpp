// The first real verdicts: the ASI guest commits each mistake on purpose (asi.bug=...) and
// the leak oracle names the rule; the correct kernel runs clean under every policy; a replay
// of each recorded trace reproduces the live verdict, and really re-evaluates: another CPU
// profile or one flush fewer changes it.
#include <gtest/gtest.h>

#include <cstdio>
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
constexpr const char* kShortRun = "ops=2000";



struct BugCase {
    const char* append;
    const char* profile;
    const char* rule;
};

class AsiBug : public ::testing::TestWithParam<BugCase> {};

}  // namespace

TEST_P(AsiBug, CaughtWithItsRuleAndReproducedByReplay) {
    if (!have_guest()) GTEST_SKIP() << "guest image not built";
    const BugCase& c = GetParam();
    const std::string trace = testutil::temp_path(std::string(c.rule) + ".trace");
    auto live = run_asi_emu({"run", kGuest, "--append", std::string(c.append) + " " + kShortRun, "--cpu-profile",
                             c.profile, "--trace", trace, "--json"});
    ASSERT_EQ(live.exit_code, emu::kExitOracleViolation) << live.err;
    EXPECT_EQ(json_field(live.out, "rule"), std::string("\"") + c.rule + "\"") << live.out;
    EXPECT_NE(live.err.find("instruction: 0x"), std::string::npos) << "the report names the instruction";
    EXPECT_NE(live.err.find("chain of events"), std::string::npos);

    auto replay = run_asi_emu({"replay", trace, "--json"});
    EXPECT_EQ(replay.exit_code, emu::kExitOracleViolation) << replay.err;
    EXPECT_EQ(json_field(replay.out, "violations"), json_field(live.out, "violations"));
    EXPECT_EQ(json_field(replay.out, "rule"), json_field(live.out, "rule"));
    EXPECT_EQ(json_field(replay.out, "event_index"), json_field(live.out, "event_index"));

    auto explain = run_asi_emu({"explain", trace});
    EXPECT_EQ(explain.exit_code, emu::kExitOracleViolation);
    EXPECT_NE(explain.out.find(std::string(c.rule) + ":"), std::string::npos) << explain.out;
    std::remove(trace.c_str());
}

INSTANTIATE_TEST_SUITE_P(
    Scenarios, AsiBug,
    ::testing::Values(BugCase{"asi.bug=unmap-no-flush", "default", "R2"},
                      BugCase{"asi.bug=flush-wrong-pcid", "default", "R2"},
                      BugCase{"asi.bug=global-restricted", "default", "R3"},
                      BugCase{"asi.bug=map-before-zero", "default", "R4"},
                      BugCase{"asi.bug=free-table-before-flush", "default", "R5"},
                      BugCase{"asi.l1tf_invert=off", "l1tf", "R6"}),
    [](const auto& info) {
        std::string n = info.param.append;
        for (char& ch : n)
            if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
        return n;
    });

struct CleanCase {
    const char* append;
};
class AsiClean : public ::testing::TestWithParam<CleanCase> {};

TEST_P(AsiClean, CorrectKernelRunsClean) {
    if (!have_guest()) GTEST_SKIP() << "guest image not built";
    auto r = run_asi_emu({"run", kGuest, "--append", std::string(GetParam().append) + " " + kShortRun, "--json"});
    EXPECT_EQ(r.exit_code, emu::kExitOk) << r.err;
    EXPECT_EQ(json_field(r.out, "verdict"), "\"clean\"") << r.out;
}

INSTANTIATE_TEST_SUITE_P(Policies, AsiClean,
                         ::testing::Values(CleanCase{"workload=mixed"}, CleanCase{"workload=flip-storm"},
                                           CleanCase{"workload=kernel-heavy"}, CleanCase{"workload=user-heavy"},
                                           CleanCase{"asi.policy=rfc workload=mixed"},
                                           CleanCase{"asi.policy=rfc workload=flip-storm"},
                                           CleanCase{"asi=off"}, CleanCase{"asi.l1tf_invert=off"}),
                         [](const auto& info) {
                             std::string n = info.param.append;
                             for (char& ch : n)
                                 if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             return n;
                         });

TEST(AsiReplay, UninvertedTraceIsCleanByDefaultAndR6UnderL1tf) {
    if (!have_guest()) GTEST_SKIP() << "guest image not built";
    const std::string trace = testutil::temp_path("uninverted.trace");
    auto live = run_asi_emu({"run", kGuest, "--append", std::string("asi.l1tf_invert=off ") + kShortRun, "--trace", trace,
                             "--json"});
    ASSERT_EQ(live.exit_code, emu::kExitOk) << live.err;
    auto same = run_asi_emu({"replay", trace, "--json"});
    EXPECT_EQ(same.exit_code, emu::kExitOk);
    auto l1tf = run_asi_emu({"replay", trace, "--cpu-profile", "l1tf", "--json"});
    EXPECT_EQ(l1tf.exit_code, emu::kExitOracleViolation) << l1tf.err;
    EXPECT_EQ(json_field(l1tf.out, "rule"), "\"R6\"") << l1tf.out;
    std::remove(trace.c_str());
}

TEST(AsiReplay, OneFlushFewerGivesR2) {
    if (!have_guest()) GTEST_SKIP() << "guest image not built";
    const std::string trace = testutil::temp_path("clean.trace"), edited = testutil::temp_path("edited.trace");
    auto live = run_asi_emu({"run", kGuest, "--append", std::string("workload=flip-storm ") + kShortRun, "--trace", trace});
    ASSERT_EQ(live.exit_code, emu::kExitOk) << live.err;
    auto dump = run_asi_emu({"dump", trace});
    ASSERT_EQ(dump.exit_code, emu::kExitOk);
    // Every INVPCID of the restricted PCID, in stream order; drop them one at a time.
    std::vector<std::string> flushes;
    const std::regex line(R"(^#(\d+) .*: INVPCID type (0|1) PCID 2 )");
    std::istringstream in(dump.out);
    for (std::string l; std::getline(in, l);) {
        std::smatch m;
        if (std::regex_search(l, m, line)) flushes.push_back(m[1]);
    }
    ASSERT_FALSE(flushes.empty()) << "no restricted-PCID flush in the trace";
    bool found = false;
    for (size_t i = 0; i < flushes.size() && i < 40 && !found; ++i) {
        ASSERT_EQ(run_asi_emu({"edit", trace, "--drop", flushes[i], "-o", edited}).exit_code, emu::kExitOk);
        auto r = run_asi_emu({"replay", edited, "--json"});
        if (r.exit_code == emu::kExitOracleViolation) {
            EXPECT_EQ(json_field(r.out, "rule"), "\"R2\"") << "dropping event #" << flushes[i] << ": " << r.out;
            found = true;
        }
    }
    EXPECT_TRUE(found) << "no single restricted flush was needed in " << flushes.size() << " tried";
    std::remove(trace.c_str());
    std::remove(edited.c_str());
}
