// The machine: guest RAM, the loaded image, devices and vCPUs, and the run loop that turns
// every stop into an outcome and an exit code (DESIGN 8).
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "emu/backend/cpu_state_blob.h"
#include "emu/backend/cpuid_table.h"
#include "emu/backend/privileged_scan.h"
#include "emu/backend/vcpu.h"
#include "emu/boot_loader.h"
#include "emu/devices/debug_exit.h"
#include "emu/devices/serial_16550.h"
#include "emu/elf_image.h"
#include "emu/events.h"
#include "emu/exit_codes.h"
#include "emu/run_stats.h"

namespace emu {

struct MachineConfig {
    std::string image_path;
    uint64_t ram_size = 256ull << 20;
    std::string cmdline;
    uint64_t max_insns = 0;
    uint64_t seed = 0;
    std::FILE* serial = stdout;
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
    RunStats stats;
    uint64_t privileged_sites = 0;
};

class Machine {
public:
    // Loads and validates the image, maps RAM, boots vCPU 0. Throws MachineError.
    explicit Machine(const MachineConfig& config);
    ~Machine();

    RunOutcome run();
    void add_event_sink(EventSink* sink) { sinks_.push_back(sink); }
    const ElfImage& image() const { return image_; }
    const backend::PrivilegedScan& scan() const { return scan_; }

private:
    class Fanout : public EventSink {
    public:
        explicit Fanout(std::vector<EventSink*>& sinks) : sinks_(sinks) {}
        void on_event(const Event& e) override {
            for (EventSink* s : sinks_) s->on_event(e);
        }

    private:
        std::vector<EventSink*>& sinks_;
    };

    MachineConfig config_;
    uint8_t* ram_ = nullptr;
    ElfImage image_;
    backend::PrivilegedScan scan_;
    backend::CpuStateLayout layout_;
    backend::CpuidTable cpuid_;
    devices::PortBus ports_;
    std::unique_ptr<devices::Serial16550> serial_;
    std::unique_ptr<devices::DebugExit> debug_exit_;
    std::vector<EventSink*> sinks_;
    Fanout fanout_{sinks_};
    backend::VcpuShared shared_;
    std::vector<std::unique_ptr<backend::Vcpu>> vcpus_;
};

}  // namespace emu
