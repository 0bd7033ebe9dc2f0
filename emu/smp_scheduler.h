// Runs the machine's vCPUs on one host thread in deterministic time slices (DESIGN 4.10),
// and routes IPIs between their local APICs.
//
// Time: every vCPU has a clock (guest instructions + time spent halted or given up by
// PAUSE). A round gives each vCPU, in id order, the slice [T, T + quantum) of its clock; a
// vCPU parked by HLT sleeps through it unless an interrupt can wake it (an IPI sent earlier,
// or its own timer expiring inside the slice, from which point it runs). When every vCPU is
// parked, time jumps to the earliest timer deadline; with none, nothing can ever wake them
// and the run ends as a guest hang. The schedule depends only on guest instruction counts,
// so a run is reproducible byte for byte, and every slice, IPI, interrupt and halt is an
// event in the trace.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "emu/backend/vcpu.h"

namespace emu {

inline constexpr uint64_t kDefaultQuantum = 20000;

struct ScheduleOutcome {
    backend::StopInfo stop;
    uint32_t vcpu = 0;  // the vCPU whose stop ended the run
    bool hang = false;  // every vCPU parked with nothing left that could wake one
};

class SmpScheduler : public backend::InterruptRouter {
public:
    // Where the schedule stands: all of it is plain data, so a snapshot copies it.
    struct Position {
        uint64_t rounds = 0, time_jumps = 0;
        bool in_round = false;  // a round was left by a resumable stop
        uint64_t start = 0, end = 0;
        size_t next = 0;  // the vCPU whose turn it is
    };

    explicit SmpScheduler(uint64_t quantum) : quantum_(quantum) {}
    void attach(std::vector<backend::Vcpu*> vcpus) { vcpus_ = std::move(vcpus); }

    // Runs until a stop ends the run. After a resumable stop (FuzzReady) a second call
    // continues the same round from the same vCPU, as if nothing had happened.
    ScheduleOutcome run();

    void send_ipi(uint32_t from, const devices::IpiRequest& ipi) override;
    uint32_t vcpu_count() const override { return static_cast<uint32_t>(vcpus_.size()); }
    uint64_t rounds() const { return pos_.rounds; }
    uint64_t time_jumps() const { return pos_.time_jumps; }
    const Position& position() const { return pos_; }
    void set_position(const Position& p) { pos_ = p; }

private:
    // One vCPU's part of the round ending at `end`; true when its stop ends the run.
    bool turn(backend::Vcpu& v, uint64_t start, uint64_t end, ScheduleOutcome& out);
    std::string hang_detail() const;

    uint64_t quantum_;
    std::vector<backend::Vcpu*> vcpus_;
    Position pos_;
};

}  // namespace emu
