// The ASI guest on several vCPUs: the self-tests (IPIs, the APIC timer, TLB shootdown, the
// "only CPUs inside ASI" rule) pass on 1, 2 and 4 vCPUs, with and without the periodic tick,
// and a run with --smp 4 is reproducible byte for byte.
#include <gtest/gtest.h>

#include <cstdio>
#include <regex>

#include "emu/exit_codes.h"
#include "tests/integration/process_runner.h"

using testutil::run_asi_emu;

namespace {

const std::string& kGuest = testutil::guest_image();


class SmpSelfTests : public ::testing::TestWithParam<std::tuple<int, const char*>> {};

}  // namespace

TEST_P(SmpSelfTests, EveryKtapSelfTestPasses) {
    if (!testutil::have_guest()) GTEST_SKIP() << "guest image not built";
    const auto& [smp, append] = GetParam();
    auto r = run_asi_emu({"run", kGuest, "--smp", std::to_string(smp), "--append", append});
    EXPECT_EQ(r.exit_code, emu::kExitOk) << r.out.substr(r.out.size() > 4000 ? r.out.size() - 4000 : 0);
    EXPECT_EQ(r.out.find("not ok"), std::string::npos) << r.out;
    for (const char* test : {"apic_timer", "ipi_delivery", "tlb_shootdown", "asi_shootdown_rule"})
        EXPECT_TRUE(std::regex_search(r.out, std::regex(std::string("\\nok \\d+ ") + test + "\\b")))
            << test << " did not pass";
}

INSTANTIATE_TEST_SUITE_P(Cpus, SmpSelfTests,
                         ::testing::Combine(::testing::Values(1, 2, 4),
                                            ::testing::Values("test=all", "test=all nolapic_timer")),
                         [](const auto& info) {
                             return "smp" + std::to_string(std::get<0>(info.param)) +
                                    (std::string(std::get<1>(info.param)).find("nolapic") != std::string::npos ? "_notick"
                                                                                                                : "");
                         });

TEST(SmpDeterminism, SameSeedSameTraceWithFourVcpus) {
    if (!testutil::have_guest()) GTEST_SKIP() << "guest image not built";
    const std::string a = testutil::temp_path("det-a.trace"), b = testutil::temp_path("det-b.trace");
    for (const std::string& t : {a, b}) {
        auto r = run_asi_emu({"run", kGuest, "--smp", "4", "--seed", "11", "--append", "test=all", "--trace", t});
        ASSERT_EQ(r.exit_code, emu::kExitOk) << r.err.substr(r.err.size() > 2000 ? r.err.size() - 2000 : 0);
    }
    const std::string ta = testutil::read_file(a), tb = testutil::read_file(b);
    EXPECT_FALSE(ta.empty());
    EXPECT_TRUE(ta == tb) << "two runs with the same seed and --smp 4 must give byte-identical traces";
    std::remove(a.c_str());
    std::remove(b.c_str());
}
