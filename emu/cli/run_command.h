// `asi-emu run [IMAGE] ...`: boot an image and report how it ended.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace emu::cli {

struct RunOptions {
    std::string image;
    std::string mem = "256M";
    std::string append;
    uint64_t max_insns = 0;
    uint64_t seed = 0;
    std::string serial_file;
    bool json = false;
    std::string oracle = "on";
    std::string cpu_profile = "default";
    std::string trace;
    bool stop_on_violation = false;
    bool paranoid = false;
    bool tlb_stats = false;
    uint32_t smp = 1;
    uint64_t quantum = 20000;  // emu::kDefaultQuantum
    std::string fuzz_input;    // fuzz-repro: the input file (a fuzz program)
};

// Registers the subcommand; `result` receives the exit code when it runs.
void add_run_command(CLI::App& app, RunOptions& options, int& result);
// `asi-emu fuzz-repro INPUT`: boot the guest's fuzz mode and run one fuzzer input with full
// logging and a trace (fuzz/README.md).
void add_fuzz_repro_command(CLI::App& app, RunOptions& options, int& result);
int run_command(const RunOptions& options);
std::string default_guest_image();

}  // namespace emu::cli
