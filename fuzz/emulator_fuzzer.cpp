// The in-emulator fuzz target (DESIGN 7, fuzz/README.md): the real guest kernel's allocator
// and ASI, driven by a program of operations (guest_kernel/fuzz/fuzz_program.h), judged by
// the leak oracle.
//
// Once per process: boot the guest with `fuzz` on its command line until it announces its
// program buffer (asi_emu_abi.h "In-emulator fuzzing"), and snapshot the machine there. Per
// input: restore the snapshot (the RAM pages the last input wrote, every vCPU, the schedule,
// the oracle), write the input into the buffer as the program, run under an instruction
// budget until the guest reports kFuzzDone. An oracle violation, a guest crash or hang, a
// failed allocator self-check or an exhausted budget is a finding: the target first re-runs
// the input from boot with a trace, written next to the crash file libFuzzer is about to
// save (crash-<sha1>.trace), then aborts. `asi-emu fuzz-repro crash-<sha1>` does the same
// run by hand.
//
// Configuration (environment; the fuzz-repro options that reproduce a finding):
//   ASI_FUZZ_IMAGE   guest image (default: asi-guest.elf beside this binary, as ClusterFuzzLite
//                    ships it, else the guest this build produced)
//   ASI_FUZZ_SMP     vCPUs (default 1)                       --smp
//   ASI_FUZZ_MEM     guest RAM: 64M, 1G, ... as --mem takes it; a bare number is MiB
//                    (default 64M)                          --mem
//   ASI_FUZZ_APPEND  more kernel command line (e.g. asi.policy=rfc)   --append
//   ASI_FUZZ_BUDGET  instructions per input per vCPU (default 20000000)
//   ASI_FUZZ_PRINT=1 print each input as a program and its outcome
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cpu_model/violation.h"
#include "emu/exit_codes.h"
#include "emu/fuzz_program_text.h"
#include "emu/machine.h"
#include "emu/size_parse.h"
#include "fuzz/sha1.h"
#include "guest_kernel/abi/asi_emu_abi.h"

namespace {

// Guest block coverage, read by libFuzzer after every input.
constexpr size_t kCoverageSize = 1 << 16;
__attribute__((section("__libfuzzer_extra_counters"))) uint8_t g_guest_coverage[kCoverageSize];

struct Target {
    emu::MachineConfig config;
    std::unique_ptr<emu::Machine> machine;
    uint64_t budget = 20'000'000;
    bool print = false;
    std::string artifact_prefix = "./";
    std::string repro_options;  // the fuzz-repro command line that reproduces a finding
};
Target* g_target = nullptr;

std::string env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v && *v ? v : fallback;
}

[[noreturn]] void fatal(const std::string& what) {
    std::fprintf(stderr, "emulator_fuzzer: %s\n", what.c_str());
    std::exit(1);
}

// A whole number from the environment within [min, max], or a named error.
uint64_t env_number(const char* name, uint64_t fallback, uint64_t min, uint64_t max) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    char* end = nullptr;
    errno = 0;
    const unsigned long long n = std::strtoull(v, &end, 10);
    if (*v == '-' || *end || errno || n < min || n > max)
        fatal(std::string(name) + "=" + v + ": not a whole number from " + std::to_string(min) + " to " +
              std::to_string(max));
    return n;
}

// Guest RAM from ASI_FUZZ_MEM: a size as --mem takes it (64M, 1G), or a bare number of MiB.
uint64_t env_ram() {
    const std::string v = env_or("ASI_FUZZ_MEM", "64M");
    const bool bare = v.find_first_not_of("0123456789") == std::string::npos;
    const std::optional<uint64_t> size = emu::parse_size(bare ? v + "M" : v);
    if (!size) fatal("ASI_FUZZ_MEM=" + v + ": not a size (64M, 1G, or a number of MiB)");
    return *size;
}

// The guest image when ASI_FUZZ_IMAGE is not set: asi-guest.elf in this binary's directory
// (ClusterFuzzLite's $OUT, .clusterfuzzlite/build.sh), else the one this build produced.
std::string default_image() {
    std::error_code error;
    const std::filesystem::path beside =
        std::filesystem::read_symlink("/proc/self/exe", error).parent_path() / "asi-guest.elf";
    if (!error && std::filesystem::exists(beside, error)) return beside.string();
#ifdef ASI_FUZZ_DEFAULT_GUEST
    return ASI_FUZZ_DEFAULT_GUEST;
#else
    return "asi-guest.elf";
#endif
}

emu::MachineConfig base_config() {
    emu::MachineConfig c;
    c.image_path = env_or("ASI_FUZZ_IMAGE", default_image().c_str());
    c.smp = static_cast<uint32_t>(env_number("ASI_FUZZ_SMP", 1, 1, 64));
    c.ram_size = env_ram();
    const std::string append = env_or("ASI_FUZZ_APPEND", "");
    c.cmdline = "fuzz" + (append.empty() ? std::string() : " " + append);
    c.oracle = true;
    return c;
}

// A finding: the same input from boot, with a trace (the machine is deterministic, so the
// verdict is the same), then abort so that libFuzzer saves the input.
[[noreturn]] void report_finding(const uint8_t* data, size_t size, const emu::RunOutcome& out) {
    const std::string crash = g_target->artifact_prefix + "crash-" + fuzz::sha1_hex(data, size);
    std::fprintf(stderr, "emulator_fuzzer: finding: %s (exit %d): %s\n", out.outcome.c_str(), out.exit_code,
                 out.detail.c_str());
    if (!out.violations.empty()) {
        const cpu_model::Violation& v = out.violations.front();
        std::fprintf(stderr,
                     "emulator_fuzzer: finding: oracle violation %s on vCPU %u: frame 0x%llx at va 0x%llx, %s "
                     "(%llu violation(s))\n",
                     cpu_model::rule_name(v.rule), v.vcpu, static_cast<unsigned long long>(v.frame),
                     static_cast<unsigned long long>(v.va), v.how.c_str(),
                     static_cast<unsigned long long>(out.violation_count));
    }
    emu::MachineConfig c = g_target->config;
    c.fuzz_program = std::vector<uint8_t>(data, data + size);
    c.trace_path = crash + ".trace";
    c.serial = stderr;
    try {
        emu::Machine again(c);
        const emu::RunOutcome r = again.run();
        std::fprintf(stderr, "emulator_fuzzer: re-run from boot: %s (exit %d); trace %s\n", r.outcome.c_str(),
                     r.exit_code, c.trace_path.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "emulator_fuzzer: the re-run with a trace failed: %s\n", e.what());
    }
    std::fprintf(stderr, "emulator_fuzzer: reproduce with: asi-emu fuzz-repro %s%s\n", crash.c_str(),
                 g_target->repro_options.c_str());
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    g_target = new Target;
    for (int i = 1; i < *argc; ++i)
        if (std::strncmp((*argv)[i], "-artifact_prefix=", 17) == 0) g_target->artifact_prefix = (*argv)[i] + 17;
    g_target->config = base_config();
    g_target->budget = env_number("ASI_FUZZ_BUDGET", 20'000'000, 1, UINT64_MAX);
    g_target->print = env_or("ASI_FUZZ_PRINT", "0") == "1";
    const std::string append = env_or("ASI_FUZZ_APPEND", "");
    g_target->repro_options = " --image " + g_target->config.image_path + " --smp " +
                              std::to_string(g_target->config.smp) + " --mem " +
                              std::to_string(g_target->config.ram_size >> 20) + "M" +
                              (append.empty() ? "" : " --append '" + append + "'");
    emu::MachineConfig c = g_target->config;
    c.pause_at_fuzz_ready = true;
    c.serial = g_target->print ? stderr : std::fopen("/dev/null", "w");
    try {
        g_target->machine = std::make_unique<emu::Machine>(c);
        const emu::RunOutcome boot = g_target->machine->run();
        if (boot.outcome != "fuzz-ready")
            fatal("the guest did not reach its fuzz mode: " + boot.outcome + ": " + boot.detail);
        g_target->machine->set_pause_at_fuzz_ready(false);
        g_target->machine->take_snapshot();
        g_target->machine->set_coverage(g_guest_coverage, kCoverageSize);
    } catch (const emu::MachineError& e) {
        fatal(e.what());
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > asi_abi::kFuzzProgramMax) return -1;  // not a program: never added to the corpus
    emu::Machine& m = *g_target->machine;
    m.restore_snapshot();
    m.set_instruction_budget(g_target->budget);
    m.write_fuzz_program({data, size}, !g_target->print);
    const emu::RunOutcome out = m.run();
    if (g_target->print)
        std::fprintf(stderr, "%s\n=> %s (exit %d): %s\n", emu::describe_fuzz_program({data, size}).c_str(),
                     out.outcome.c_str(), out.exit_code, out.detail.c_str());
    if (out.exit_code != emu::kExitOk || out.outcome != "fuzz-done") report_finding(data, size, out);
    return 0;
}
