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
    explicit SmpScheduler(uint64_t quantum) : quantum_(quantum) {}
    void attach(std::vector<backend::Vcpu*> vcpus) { vcpus_ = std::move(vcpus); }

    ScheduleOutcome run();

    void send_ipi(uint32_t from, const devices::IpiRequest& ipi) override;
    uint32_t vcpu_count() const override { return static_cast<uint32_t>(vcpus_.size()); }
    uint64_t rounds() const { return rounds_; }
    uint64_t time_jumps() const { return time_jumps_; }

private:
    // One vCPU's part of the round ending at `end`; true when its stop ends the run.
    bool turn(backend::Vcpu& v, uint64_t start, uint64_t end, ScheduleOutcome& out);
    std::string hang_detail() const;

    uint64_t quantum_;
    std::vector<backend::Vcpu*> vcpus_;
    uint64_t rounds_ = 0, time_jumps_ = 0;
};

}  // namespace emu
