// In-emulator fuzzing figures (issue "Fuzz the allocator's entry points"): executions per
// second of what fuzz/emulator_fuzzer.cpp does per input (restore the snapshot, write the
// program, run it under the oracle with guest coverage on), for programs that flip no
// pageblock and for one that flips one, with 64 MiB and 1 GiB of guest RAM measured side by
// side (alternating repetitions, medians), and where the time goes (restore vs run, pages
// restored per input).
// Usage: fuzz_exec_bench [executions per measurement] [repetitions] [guest image]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "emu/machine.h"

namespace {

struct Program {
    const char* name;
    std::vector<uint8_t> bytes;  // guest_kernel/fuzz/fuzz_program.h
};

// Flip counts as the guest reports them (`asi-emu fuzz-repro` prints "pageblock flips").
const std::vector<Program>& programs() {
    static const std::vector<Program> p = {
        {"no flip: 1 op (sensitive page)", {0x00, 0x0c}},
        {"no flip: 17 ops (allocs, touches, frees, drain)",
         {0x00, 0x08, 0x00, 0x0d, 0x00, 0x1a, 0x00, 0x2e, 0x00, 0x01, 0x00, 0x05, 0x00, 0x36, 0x05, 0x00, 0x05,
          0x01, 0x05, 0x02, 0x05, 0x03, 0x05, 0x04, 0x05, 0x05, 0x05, 0x06, 0x03, 0x01, 0x03, 0x03, 0x03, 0x03}},
        {"no flip: 17 ops + check", {0x00, 0x08, 0x00, 0x0d, 0x00, 0x1a, 0x00, 0x2e, 0x00, 0x01, 0x00, 0x05,
                                     0x00, 0x36, 0x05, 0x00, 0x05, 0x01, 0x05, 0x02, 0x05, 0x03, 0x05, 0x04,
                                     0x05, 0x05, 0x05, 0x06, 0x03, 0x01, 0x03, 0x03, 0x03, 0x03, 0x0a, 0x0e}},
        {"one flip: a nonsensitive pageblock", {0x00, 0x48}},
    };
    return p;
}

uint8_t g_coverage[1 << 16];

struct Result {
    double exec_per_s = 0;
    double restore_share = 0;  // fraction of the time spent in restore_snapshot()
    double pages = 0;          // RAM pages restored per input
};

class Target {
public:
    Target(const std::string& image, uint64_t ram) : null_(std::fopen("/dev/null", "w")) {
        emu::MachineConfig c;
        c.image_path = image;
        c.cmdline = "fuzz";
        c.ram_size = ram;
        c.oracle = true;
        c.pause_at_fuzz_ready = true;
        c.serial = null_;
        machine_ = std::make_unique<emu::Machine>(c);
        const emu::RunOutcome boot = machine_->run();
        if (boot.outcome != "fuzz-ready") {
            std::fprintf(stderr, "the guest did not reach its fuzz mode: %s %s\n", boot.outcome.c_str(),
                         boot.detail.c_str());
            std::exit(1);
        }
        machine_->set_pause_at_fuzz_ready(false);
        machine_->take_snapshot();
        machine_->set_coverage(g_coverage, sizeof g_coverage);
    }
    ~Target() {
        machine_.reset();
        std::fclose(null_);
    }

    Result measure(const Program& p, int executions) {
        using clock = std::chrono::steady_clock;
        for (int i = 0; i < 20; ++i) once(p);  // warm the translation cache
        double restore = 0;
        size_t pages = 0;
        const auto t0 = clock::now();
        for (int i = 0; i < executions; ++i) {
            const auto r0 = clock::now();
            pages += machine_->restore_snapshot();
            restore += std::chrono::duration<double>(clock::now() - r0).count();
            run(p);
        }
        const double total = std::chrono::duration<double>(clock::now() - t0).count();
        return {executions / total, restore / total, static_cast<double>(pages) / executions};
    }

private:
    void once(const Program& p) {
        machine_->restore_snapshot();
        run(p);
    }
    void run(const Program& p) {
        machine_->set_instruction_budget(20'000'000);
        machine_->write_fuzz_program(p.bytes, true);  // as the fuzzer runs it: no console summary
        const emu::RunOutcome out = machine_->run();
        if (out.exit_code != 0 || out.outcome != "fuzz-done") {
            std::fprintf(stderr, "%s: %s (exit %d) %s\n", p.name, out.outcome.c_str(), out.exit_code,
                         out.detail.c_str());
            std::exit(1);
        }
    }

    std::FILE* null_;
    std::unique_ptr<emu::Machine> machine_;
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const int executions = argc > 1 ? std::max(1, std::atoi(argv[1])) : 2000;
    const int reps = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
    const std::string image = argc > 3 ? argv[3] : ASI_GUEST_IMAGE;
    const uint64_t rams[2] = {64ull << 20, 1ull << 30};
    const size_t n = programs().size();
    // [program][ram] -> samples
    std::vector<std::vector<std::vector<Result>>> samples(n, std::vector<std::vector<Result>>(2));
    for (int rep = 0; rep < reps; ++rep) {
        for (int r = 0; r < 2; ++r) {
            // One machine at a time: a process has one RAM write tracker.
            Target t(image, rams[r]);
            for (size_t i = 0; i < n; ++i) samples[i][r].push_back(t.measure(programs()[i], executions));
        }
    }
    std::printf("%d executions per measurement, median of %d alternating repetitions, coverage on\n\n",
                executions, reps);
    std::printf("%-50s %12s %12s %8s %10s %10s\n", "program", "64MiB exec/s", "1GiB exec/s", "64M/1G",
                "restore %", "pages/exec");
    for (size_t i = 0; i < n; ++i) {
        double e[2], share = 0, pages = 0;
        for (int r = 0; r < 2; ++r) {
            std::vector<double> x, s, pg;
            for (const Result& res : samples[i][r]) {
                x.push_back(res.exec_per_s);
                s.push_back(res.restore_share);
                pg.push_back(res.pages);
            }
            e[r] = median(x);
            if (r == 0) share = median(s), pages = median(pg);
        }
        std::printf("%-50s %12.0f %12.0f %8.2f %9.0f%% %10.1f\n", programs()[i].name, e[0], e[1], e[0] / e[1],
                    share * 100, pages);
    }
    return 0;
}
