// Backend overhead (issue "The machine", figures): the same guest loops under asi-emu and
// under bare Unicorn with no hooks, side by side in one run. Report the ratio of the
// medians: bare time / asi-emu time (1.0 = no overhead).
#include <benchmark/benchmark.h>

#include <cstdio>

#include "emu/machine.h"
#include "tools/bench/bare_unicorn.h"

namespace {

constexpr uint64_t kRam = 64ull << 20;

void run_asi_emu(benchmark::State& state, const char* image) {
    for (auto _ : state) {
        emu::MachineConfig config;
        config.image_path = image;
        config.ram_size = kRam;
        emu::Machine machine(config);
        const emu::RunOutcome out = machine.run();
        if (out.exit_code != emu::kExitOk) state.SkipWithError(out.detail.c_str());
        state.counters["guest_insns"] = static_cast<double>(out.stats.instructions);
    }
}

void run_bare(benchmark::State& state, const char* image) {
    for (auto _ : state)
        if (!bench::run_bare_unicorn(image, kRam)) state.SkipWithError("bare Unicorn run failed");
}

}  // namespace

BENCHMARK_CAPTURE(run_bare, register_loop, BENCH_IMAGE_DIR "/register_loop.elf")->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK_CAPTURE(run_asi_emu, register_loop, BENCH_IMAGE_DIR "/register_loop.elf")->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK_CAPTURE(run_bare, load_store_loop, BENCH_IMAGE_DIR "/load_store_loop.elf")->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK_CAPTURE(run_asi_emu, load_store_loop, BENCH_IMAGE_DIR "/load_store_loop.elf")->Unit(benchmark::kMillisecond)->MinTime(2);

BENCHMARK_MAIN();
