// Bad input gets a named error and exit code 5; help and version exit 0 (DESIGN 8).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "emu/exit_codes.h"
#include "tests/integration/process_runner.h"

using testutil::run_asi_emu;
using testutil::test_image;

TEST(Cli, HelpListsExitCodes) {
    auto r = run_asi_emu({"--help"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("Exit codes:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("run"), std::string::npos);
}

TEST(Cli, Version) {
    auto r = run_asi_emu({"--version"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("asi-emu"), std::string::npos);
}

TEST(Cli, UnknownOptionIsBadInput) {
    auto r = run_asi_emu({"run", "--no-such-option"});
    EXPECT_EQ(r.exit_code, emu::kExitBadInput) << r.err;
}

TEST(Cli, MissingSubcommandIsBadInput) {
    auto r = run_asi_emu({});
    EXPECT_EQ(r.exit_code, emu::kExitBadInput) << r.err;
}

TEST(Cli, BadMemSizeIsBadInput) {
    for (const char* mem : {"12X", "", "1M", "128G"}) {
        auto r = run_asi_emu({"run", test_image("exit_value"), "--mem", mem, "--json"});
        EXPECT_EQ(r.exit_code, emu::kExitBadInput) << mem << ": " << r.err;
        EXPECT_NE(r.out.find("\"outcome\": \"bad-input\""), std::string::npos) << mem << ": " << r.out;
    }
}

TEST(Cli, GoodMemSizesAreAccepted) {
    for (const char* mem : {"16M", "64M", "1G", "2G"}) {
        auto r = run_asi_emu({"run", test_image("exit_value"), "--mem", mem});
        EXPECT_EQ(r.exit_code, emu::kExitGuestFailure) << mem << ": " << r.err;
    }
}

TEST(Cli, MissingImageIsBadInput) {
    auto r = run_asi_emu({"run", "/nonexistent/image.elf", "--json"});
    EXPECT_EQ(r.exit_code, emu::kExitBadInput);
    EXPECT_NE(r.out.find("cannot read"), std::string::npos) << r.out;
}

TEST(Cli, NotElfIsBadInputWithItsName) {
    const std::string path = ::testing::TempDir() + "not-an-elf.bin";
    std::ofstream(path) << "this is not an ELF file at all";
    auto r = run_asi_emu({"run", path, "--json"});
    EXPECT_EQ(r.exit_code, emu::kExitBadInput);
    EXPECT_NE(r.out.find("not-elf"), std::string::npos) << r.out;
    std::remove(path.c_str());
}

TEST(Cli, SerialFileReceivesTheConsole) {
    const std::string path = ::testing::TempDir() + "serial.txt";
    auto r = run_asi_emu({"run", test_image("exit_value"), "--serial", path});
    EXPECT_EQ(r.exit_code, emu::kExitGuestFailure);
    std::ifstream f(path);
    EXPECT_TRUE(f.good());
    std::remove(path.c_str());
}

TEST(Cli, UnwritableSerialFileIsBadInput) {
    auto r = run_asi_emu({"run", test_image("exit_value"), "--serial", "/nonexistent/dir/serial.txt"});
    EXPECT_EQ(r.exit_code, emu::kExitBadInput) << r.err;
}

TEST(Cli, LogLevelIsValidated) {
    EXPECT_EQ(run_asi_emu({"--log-level", "loud", "run", test_image("exit_value")}).exit_code, emu::kExitBadInput);
    EXPECT_EQ(run_asi_emu({"--log-level", "warn", "run", test_image("exit_value")}).exit_code,
              emu::kExitGuestFailure);
}
