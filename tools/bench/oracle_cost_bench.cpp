// Leak-oracle figures (issue "The leak oracle"), measured side by side in one run, medians of
// alternating repetitions so that machine noise hits both sides alike:
//   * oracle cost: the same guest workload with the oracle on vs --oracle=off (speed ratio);
//   * scale: the oracle's own time per page-table write, (on - off) / writes, with 64 MiB and
//     1 GiB of guest RAM: its cost follows page-table changes, not RAM size;
//   * replay: events per second, and replay time vs live run time for the same trace.
// Usage: oracle_cost_bench [guest command line] [repetitions]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "emu/machine.h"
#include "tools/trace/replay.h"

namespace {

struct Sample {
    double seconds = 0;
    uint64_t pte_writes = 0;
    uint64_t instructions = 0;
    int exit_code = 0;
};

Sample run_once(const std::string& cmdline, uint64_t ram, bool oracle, const std::string& trace = "") {
    std::FILE* null_console = std::fopen("/dev/null", "w");
    emu::MachineConfig c;
    c.image_path = ASI_GUEST_IMAGE;
    c.cmdline = cmdline;
    c.ram_size = ram;
    c.oracle = oracle;
    c.trace_path = trace;
    c.serial = null_console;
    const auto t0 = std::chrono::steady_clock::now();
    emu::Machine m(c);
    const emu::RunOutcome out = m.run();
    Sample s;
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    s.pte_writes = out.oracle_metrics.pte_writes;
    s.instructions = out.stats.instructions;
    s.exit_code = out.exit_code;
    std::fclose(null_console);
    return s;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const std::string cmdline = argc > 1 ? argv[1] : "";
    const int reps = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
    std::printf("guest command line: \"%s\", %d repetitions each\n\n", cmdline.c_str(), reps);
    double per_write[2] = {0, 0};
    const uint64_t rams[2] = {64ull << 20, 1ull << 30};
    for (int r = 0; r < 2; ++r) {
        std::vector<double> on, off;
        uint64_t writes = 0, insns = 0;
        int code = 0;
        for (int i = 0; i < reps; ++i) {
            Sample a = run_once(cmdline, rams[r], false);
            Sample b = run_once(cmdline, rams[r], true);
            off.push_back(a.seconds);
            on.push_back(b.seconds);
            writes = b.pte_writes;
            insns = b.instructions;
            code = b.exit_code;
        }
        const double t_on = median(on), t_off = median(off);
        per_write[r] = writes ? (t_on - t_off) / static_cast<double>(writes) : 0;
        std::printf("RAM %4llu MiB: exit %d, %llu guest instructions, %llu page-table writes\n",
                    static_cast<unsigned long long>(rams[r] >> 20), code, static_cast<unsigned long long>(insns),
                    static_cast<unsigned long long>(writes));
        std::printf("  oracle off %.3f s, on %.3f s: speed with the oracle = %.2fx of without\n", t_off, t_on,
                    t_off / t_on);
        std::printf("  oracle time per page-table write: %.2f us\n", per_write[r] * 1e6);
    }
    if (per_write[0] > 0)
        std::printf("\nper-write oracle cost, 1 GiB vs 64 MiB: %.2fx\n", per_write[1] / per_write[0]);

    const std::string trace = "/tmp/oracle_cost_bench.trace";
    std::vector<double> live, replayed;
    uint64_t events = 0;
    for (int i = 0; i < reps; ++i) {
        live.push_back(run_once(cmdline, 256ull << 20, true, trace).seconds);
        const tools::LoadedTrace t = tools::load_trace(trace);
        const auto t0 = std::chrono::steady_clock::now();
        const tools::ReplayResult r = tools::replay(t);
        replayed.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        events = t.events.size();
    }
    const double l = median(live), p = median(replayed);
    std::printf("\nreplay: %llu records in %.4f s (%.0f records/s); live run %.3f s: replay is %.1fx faster\n",
                static_cast<unsigned long long>(events), p, static_cast<double>(events) / p, l, l / p);
    std::remove(trace.c_str());
    return 0;
}
