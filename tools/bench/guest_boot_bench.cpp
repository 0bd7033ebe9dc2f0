// Boot to exit of the bundled guest (issue "The machine", figures): wall time and guest
// instructions, for the default boot and for the self-test suite.
#include <benchmark/benchmark.h>

#include <cstdio>

#include "emu/machine.h"

namespace {

void boot(benchmark::State& state, const char* cmdline) {
    std::FILE* null_console = std::fopen("/dev/null", "w");
    for (auto _ : state) {
        emu::MachineConfig config;
        config.image_path = ASI_GUEST_IMAGE;
        config.cmdline = cmdline;
        config.serial = null_console;
        emu::Machine machine(config);
        const emu::RunOutcome out = machine.run();
        if (out.exit_code != emu::kExitOk) state.SkipWithError(out.detail.c_str());
        state.counters["guest_insns"] = static_cast<double>(out.stats.instructions);
        state.counters["guest_MIPS"] = benchmark::Counter(static_cast<double>(out.stats.instructions),
                                                          benchmark::Counter::kIsIterationInvariantRate);
    }
    std::fclose(null_console);
}

}  // namespace

BENCHMARK_CAPTURE(boot, default_boot, "")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(boot, self_tests, "test=all")->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
