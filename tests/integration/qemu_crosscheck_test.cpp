// The guest is a real kernel: the same image boots under QEMU (PVH entry), and its KTAP
// self-tests give the same results there as under asi-emu, test by test, except tests that
// skip under QEMU for a CPUID feature its TCG lacks (PCID, INVPCID).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <regex>
#include <sstream>

#include "emu/exit_codes.h"
#include "tests/integration/process_runner.h"

namespace {

const std::string& kGuest = testutil::guest_image();
using testutil::have_guest;
using testutil::json_field;
const char* kQemu = "/usr/bin/qemu-system-x86_64";

std::map<std::string, std::string> ktap_results(const std::string& console) {
    std::map<std::string, std::string> results;
    std::istringstream in(console);
    std::string line;
    const std::regex result(R"(^(ok|not ok) (\d+) ([^#\r]*?)\s*(# SKIP.*)?\r?$)");
    std::smatch m;
    while (std::getline(in, line))
        if (std::regex_match(line, m, result)) results[m[3]] = m[4].matched ? "skip" : std::string(m[1]);
    return results;
}

}  // namespace

TEST(QemuCrossCheck, SelfTestsAgreeWithQemu) {
    if (kGuest.empty() || !std::filesystem::exists(kGuest)) GTEST_SKIP() << "guest image not built";
    if (!std::filesystem::exists(kQemu)) GTEST_SKIP() << "qemu-system-x86_64 not installed";
    auto qemu = testutil::run_process({kQemu, "-kernel", kGuest, "-append", "test=all", "-nographic",
                                       "-no-reboot", "-m", "256M", "-device",
                                       "isa-debug-exit,iobase=0xf4,iosize=0x04"},
                                      120);
    ASSERT_EQ(qemu.signal, 0) << "QEMU was killed (timeout?)\n" << qemu.out;
    // isa-debug-exit: QEMU exits with (v << 1) | 1, so the guest's value is (status - 1) / 2.
    ASSERT_EQ(qemu.exit_code & 1, 1) << "QEMU did not exit through isa-debug-exit\n" << qemu.out;
    const int guest_value = (qemu.exit_code - 1) / 2;
    EXPECT_EQ(guest_value, 0) << qemu.out;

    auto emu = testutil::run_asi_emu({"run", kGuest, "--append", "test=all"});
    EXPECT_EQ(emu.exit_code, emu::kExitOk) << emu.err;

    const auto on_qemu = ktap_results(qemu.out), on_emu = ktap_results(emu.out);
    ASSERT_FALSE(on_qemu.empty()) << qemu.out;
    EXPECT_EQ(on_qemu.size(), on_emu.size());
    for (const auto& [name, status] : on_emu) {
        SCOPED_TRACE(name);
        auto it = on_qemu.find(name);
        ASSERT_NE(it, on_qemu.end()) << "test missing under QEMU";
        if (it->second == "skip") continue;  // a CPUID feature QEMU's TCG lacks
        EXPECT_EQ(it->second, status);
    }
}
