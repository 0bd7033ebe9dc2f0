// The machine: guest RAM, the loaded image, devices and vCPUs, and the run loop that turns
// every stop into an outcome and an exit code (DESIGN 8).
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "emu/backend/cpu_state_blob.h"
#include "emu/backend/cpuid_table.h"
#include "emu/backend/privileged_scan.h"
#include "emu/backend/vcpu.h"
#include "emu/boot_loader.h"
#include "emu/dirty_page_tracker.h"
#include "emu/devices/debug_exit.h"
#include "emu/devices/serial_16550.h"
#include "emu/elf_image.h"
#include "emu/events.h"
#include "emu/exit_codes.h"
#include "emu/oracle_inputs.h"
#include "emu/run_stats.h"
#include "emu/smp_scheduler.h"
#include "emu/tlb_stats.h"
#include "emu/trace/trace_writer.h"
#include "cpu_model/cpu_profile.h"
#include "cpu_model/leak_oracle.h"

namespace emu {

struct MachineConfig {
    std::string image_path;
    uint64_t ram_size = 256ull << 20;
    std::string cmdline;
    uint64_t max_insns = 0;
    uint64_t seed = 0;
    std::FILE* serial = stdout;
    bool oracle = true;
    std::string cpu_profile = "default";
    std::string trace_path;  // empty: no trace
    bool stop_on_violation = false;
    bool paranoid = false;
    bool tlb_stats = false;
    uint32_t smp = 1;                       // vCPUs, 1-64
    uint64_t quantum = kDefaultQuantum;     // time slice, in guest instructions
    // The program handed to the guest's fuzz mode at kFuzzReady (asi_emu_abi.h); none: the
    // guest finds no program.
    std::optional<std::vector<uint8_t>> fuzz_program;
    // Stop at kFuzzReady and return outcome "fuzz-ready" (the fuzzer snapshots there).
    bool pause_at_fuzz_ready = false;
};

// A failure before the guest runs, with the exit code it maps to.
class MachineError : public std::runtime_error {
public:
    MachineError(ExitCode code, const std::string& what) : std::runtime_error(what), code_(code) {}
    ExitCode code() const { return code_; }

private:
    ExitCode code_;
};

struct RunOutcome {
    ExitCode exit_code = kExitInternalError;
    std::string outcome;  // guest-exit, guest-halted, insn-limit, triple-fault, forbidden-access, internal-error
    std::optional<uint32_t> guest_value;
    std::string detail;
    std::string register_dump;
    RunStats stats;                   // all vCPUs
    std::vector<RunStats> per_vcpu;
    uint32_t stopped_vcpu = 0;        // the vCPU whose stop ended the run
    uint64_t rounds = 0, time_jumps = 0;
    uint64_t privileged_sites = 0;
    bool oracle_enabled = false;
    std::vector<cpu_model::Violation> violations;
    uint64_t violation_count = 0;
    cpu_model::OracleMetrics oracle_metrics;
    uint64_t trace_events = 0;
    std::vector<std::pair<uint16_t, cpu_model::TlbCache::Stats>> tlb_stats;  // per PCID
};

class Machine {
public:
    // Loads and validates the image, maps RAM, boots vCPU 0. Throws MachineError.
    explicit Machine(const MachineConfig& config);
    ~Machine();

    RunOutcome run();
    void add_event_sink(EventSink* sink) { sinks_.push_back(sink); }

    // ---- In-emulator fuzzing (machine_fuzz.cpp) -------------------------------------------
    // Writes header + program into the buffer the guest announced at kFuzzReady. Throws
    // MachineError(kExitBadInput) when the program is too long.
    // quiet: the guest prints no summary of the program (asi_abi::kFuzzQuiet).
    void write_fuzz_program(std::span<const uint8_t> program, bool quiet = false);
    // The next run() after a "fuzz-ready" outcome hands the guest this program.
    void set_fuzz_program(std::optional<std::vector<uint8_t>> program) { config_.fuzz_program = std::move(program); }
    void set_pause_at_fuzz_ready(bool pause) { config_.pause_at_fuzz_ready = pause; }
    // Snapshot of the whole machine between runs: every vCPU, the schedule, devices, the
    // oracle, and guest RAM through write tracking (emu/dirty_page_tracker.h), so that
    // restore_snapshot() costs what the runs since wrote. Refused with a trace or
    // --tlb-stats (their output cannot be taken back). Throws MachineError.
    void take_snapshot();
    // Returns the number of RAM pages put back.
    size_t restore_snapshot();
    // RAM pages the write tracker keeps writable and copies back on every restore.
    size_t hot_ram_pages() const;
    // From now on, every vCPU may run `instructions` more (on its clock) before the run
    // ends as insn-limit (exit 4): a fuzz input's budget.
    void set_instruction_budget(uint64_t instructions);
    // Guest block coverage into counters (libFuzzer's extra counters); null turns it off.
    // size must be a power of two (the block hook masks instead of dividing).
    void set_coverage(uint8_t* counters, size_t size) {
        if (size & (size - 1)) throw MachineError(kExitInternalError, "coverage size must be a power of two");
        shared_.coverage = counters;
        shared_.coverage_mask = size ? size - 1 : 0;
    }
    // Everything host-side that decides what happens next (vCPUs, schedule, oracle).
    uint64_t state_digest() const;
    // All of guest RAM (O(RAM): for tests).
    uint64_t ram_digest() const;
    // The configuration string recorded in a trace header.
    std::string config_string() const;
    const ElfImage& image() const { return image_; }
    const backend::PrivilegedScan& scan() const { return scan_; }
    const std::vector<uint8_t>& image_file() const { return image_file_; }

private:
    // Every vCPU event passes here: the oracle judges it, then the trace records what the
    // oracle read to judge it (table snapshots, zero checks), then the event itself.
    class Dispatcher : public EventSink {
    public:
        explicit Dispatcher(Machine& m) : m_(m) {}
        void on_event(const Event& e) override { m_.dispatch(e); }

    private:
        Machine& m_;
    };
    class OracleFilter : public backend::TableFrameFilter {
    public:
        explicit OracleFilter(const cpu_model::LeakOracle& o) : o_(o) {}
        bool is_table_frame(uint64_t pa) const override { return o_.is_table_frame(pa); }

    private:
        const cpu_model::LeakOracle& o_;
    };
    void dispatch(const Event& e);
    // Handles a kFuzzReady stop; true when run() must return ("fuzz-ready").
    bool on_fuzz_ready(const backend::Vcpu& cpu, RunOutcome& out);

    MachineConfig config_;
    uint8_t* ram_ = nullptr;
    ElfImage image_;
    std::vector<uint8_t> image_file_;
    backend::PrivilegedScan scan_;
    backend::CpuStateLayout layout_;
    backend::CpuidTable cpuid_;
    devices::PortBus ports_;
    std::unique_ptr<devices::Serial16550> serial_;
    std::unique_ptr<devices::DebugExit> debug_exit_;
    std::vector<EventSink*> sinks_;
    Dispatcher dispatcher_{*this};
    std::unique_ptr<LiveOracleInputs> oracle_inputs_;
    std::unique_ptr<cpu_model::LeakOracle> oracle_;
    std::unique_ptr<OracleFilter> oracle_filter_;
    std::unique_ptr<trace::TraceWriter> trace_;
    std::unique_ptr<TlbStats> tlb_stats_;
    uint64_t reported_violations_ = 0;
    backend::VcpuShared shared_;
    std::unique_ptr<SmpScheduler> scheduler_;
    std::vector<std::unique_ptr<backend::Vcpu>> vcpus_;
    backend::Vcpu* current_ = nullptr;  // the vCPU whose event is being dispatched
    backend::FuzzRequest fuzz_ready_;   // the guest's kFuzzReady request (buffer, size)

    struct Snapshot {
        std::vector<std::shared_ptr<const backend::Vcpu::Snapshot>> vcpus;
        SmpScheduler::Position schedule;
        std::unique_ptr<cpu_model::LeakOracle> oracle;
        uint64_t reported_violations = 0;
        std::optional<uint32_t> debug_exit_value;
        backend::FuzzRequest fuzz_ready;
    };
    std::unique_ptr<Snapshot> snapshot_;
    std::unique_ptr<DirtyPageTracker> ram_tracker_;
};

}  // namespace emu
