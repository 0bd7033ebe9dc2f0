// Traces: a live run's verdict is reproduced by replay; corrupt and truncated traces end in
// named errors (exit 5) or a reported truncated tail; export/dump/edit work on real traces.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include "emu/exit_codes.h"
#include "tests/integration/process_runner.h"

using testutil::run_asi_emu;

namespace {

const std::string& kGuest = testutil::guest_image();
using testutil::have_guest;
using testutil::json_field;

std::string temp(const std::string& name) { return ::testing::TempDir() + "asi-emu-" + name; }

std::vector<char> read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& path, const std::vector<char>& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}


class TraceTools : public ::testing::Test {
protected:
    void SetUp() override {
        if (!have_guest()) GTEST_SKIP() << "guest image not built";
        // ctest runs each test in its own process, possibly in parallel: names must differ.
        trace_ = temp(std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ".trace");
        live_ = run_asi_emu({"run", kGuest, "--append", "test=all", "--trace", trace_, "--json"});
        ASSERT_EQ(live_.exit_code, emu::kExitOk) << live_.err;
    }
    void TearDown() override { std::remove(trace_.c_str()); }
    std::string trace_;
    testutil::ProcessResult live_;
};

}  // namespace

TEST_F(TraceTools, ReplayReproducesTheLiveVerdictAndCounts) {
    auto r = run_asi_emu({"replay", trace_, "--json"});
    EXPECT_EQ(r.exit_code, emu::kExitOk) << r.err;
    EXPECT_EQ(json_field(r.out, "verdict"), "\"clean\"");
    EXPECT_EQ(json_field(r.out, "violations"), json_field(live_.out, "violations"));
    EXPECT_NE(json_field(live_.out, "trace_events"), "");
}

TEST_F(TraceTools, TruncatedTraceReportsTheTailAndStillReplays) {
    auto bytes = read_all(trace_);
    ASSERT_GT(bytes.size(), 200u);
    bytes.resize(bytes.size() - 7);
    const std::string cut = temp("cut-" + std::to_string(getpid()) + ".trace");
    write_all(cut, bytes);
    auto r = run_asi_emu({"replay", cut});
    EXPECT_EQ(r.exit_code, emu::kExitOk) << r.err;
    EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
    std::remove(cut.c_str());
}

TEST_F(TraceTools, CorruptChunkIsANamedErrorWithExitCode5) {
    auto bytes = read_all(trace_);
    bytes[bytes.size() / 2] ^= 0x5a;
    const std::string bad = temp("bad-" + std::to_string(getpid()) + ".trace");
    write_all(bad, bytes);
    auto r = run_asi_emu({"replay", bad});
    EXPECT_EQ(r.exit_code, emu::kExitBadInput) << r.err;
    EXPECT_NE(r.err.find("corrupt"), std::string::npos) << r.err;
    std::remove(bad.c_str());
}

TEST_F(TraceTools, NotATraceIsBadInput) {
    auto r = run_asi_emu({"replay", kGuest});
    EXPECT_EQ(r.exit_code, emu::kExitBadInput) << r.err;
    EXPECT_NE(r.err.find("not-a-trace"), std::string::npos) << r.err;
}

TEST_F(TraceTools, ExportWritesChromeTraceJson) {
    const std::string out = temp("export-" + std::to_string(getpid()) + ".json");
    auto r = run_asi_emu({"export", trace_, "--format", "chrome", "-o", out});
    ASSERT_EQ(r.exit_code, emu::kExitOk) << r.err;
    const auto bytes = read_all(out);
    const std::string json(bytes.begin(), bytes.end());
    EXPECT_EQ(json.rfind("{\"displayTimeUnit\"", 0), 0u);
    EXPECT_NE(json.find("\"traceEvents\""), std::string::npos);
    EXPECT_NE(json.find("\"vCPU 0\""), std::string::npos);
    EXPECT_NE(json.find("\"ph\": \"X\""), std::string::npos) << "address-space slices";
    EXPECT_NE(json.find("INVPCID"), std::string::npos) << "flush instants";
    std::remove(out.c_str());
}

TEST_F(TraceTools, DumpAndEditRoundTrip) {
    auto dump = run_asi_emu({"dump", trace_});
    ASSERT_EQ(dump.exit_code, emu::kExitOk);
    const auto first_invpcid = dump.out.find(": INVPCID");
    ASSERT_NE(first_invpcid, std::string::npos) << dump.out;
    const auto line_start = dump.out.rfind('#', first_invpcid);
    const std::string index = dump.out.substr(line_start + 1, dump.out.find(' ', line_start) - line_start - 1);
    const std::string edited = temp("edited-" + std::to_string(getpid()) + ".trace");
    auto edit = run_asi_emu({"edit", trace_, "--drop", index, "-o", edited});
    ASSERT_EQ(edit.exit_code, emu::kExitOk) << edit.err;
    auto dump2 = run_asi_emu({"dump", edited});
    EXPECT_EQ(std::count(dump2.out.begin(), dump2.out.end(), '\n') + 1,
              std::count(dump.out.begin(), dump.out.end(), '\n'));
    std::remove(edited.c_str());
}

TEST(TraceToolsCli, MissingTraceFileIsBadInput) {
    auto r = run_asi_emu({"replay", "/nonexistent/file.trace"});
    EXPECT_EQ(r.exit_code, emu::kExitBadInput) << r.err;
}

TEST(OracleCli, OracleOffHasNoVerdict) {
    if (!have_guest()) GTEST_SKIP() << "guest image not built";
    auto r = run_asi_emu({"run", kGuest, "--oracle", "off", "--json"});
    EXPECT_EQ(r.exit_code, emu::kExitOk) << r.err;
    EXPECT_NE(r.out.find("\"oracle\": null"), std::string::npos) << r.out;
    auto on = run_asi_emu({"run", kGuest, "--json"});
    EXPECT_NE(on.out.find("\"verdict\": \"clean\""), std::string::npos) << on.out;
}

TEST(OracleCli, UnknownCpuProfileIsBadInput) {
    auto r = run_asi_emu({"run", "--cpu-profile", "pentium"});
    EXPECT_EQ(r.exit_code, emu::kExitBadInput) << r.err;
}

TEST(OracleCli, TlbStatsCountsWithoutChangingTheOutcome) {
    if (!have_guest()) GTEST_SKIP() << "guest image not built";
    auto plain = run_asi_emu({"run", kGuest, "--append", "test=all", "--json"});
    auto stats = run_asi_emu({"run", kGuest, "--append", "test=all", "--json", "--tlb-stats"});
    EXPECT_EQ(plain.exit_code, stats.exit_code);
    EXPECT_EQ(json_field(plain.out, "verdict"), json_field(stats.out, "verdict"));
    EXPECT_EQ(json_field(plain.out, "instructions"), json_field(stats.out, "instructions"));
    EXPECT_NE(stats.out.find("\"tlb_stats\""), std::string::npos) << stats.out;
    EXPECT_NE(json_field(stats.out, "l1_hits"), "0");
    EXPECT_EQ(plain.out.find("\"tlb_stats\""), std::string::npos);
}
