#include "emu/smp_scheduler.h"

#include <algorithm>

#include "mmu/hex.h"

namespace emu {

using backend::StopKind;

void SmpScheduler::send_ipi(uint32_t from, const devices::IpiRequest& ipi) {
    backend::Vcpu& sender = *vcpus_[from];
    auto deliver_to = [&](backend::Vcpu& dest) {
        // Only fixed delivery is modelled; INIT, SIPI, NMI, SMI are accepted and dropped.
        sender.note_ipi_sent(dest.id(), ipi);
        if (ipi.delivery_mode != 0) return;
        dest.apic().accept(ipi.vector);
        dest.note_ipi_received();
    };
    switch (ipi.shorthand) {
        case 0:
            if (ipi.destination == 0xffffffffu) {
                for (backend::Vcpu* v : vcpus_) deliver_to(*v);
            } else if (ipi.destination < vcpus_.size()) {
                deliver_to(*vcpus_[ipi.destination]);
            }  // no such APIC: the message goes nowhere
            break;
        case 1: deliver_to(sender); break;
        case 2:
            for (backend::Vcpu* v : vcpus_) deliver_to(*v);
            break;
        default:
            for (backend::Vcpu* v : vcpus_)
                if (v != &sender) deliver_to(*v);
            break;
    }
}

bool SmpScheduler::turn(backend::Vcpu& v, uint64_t start, uint64_t end, ScheduleOutcome& out) {
    v.advance_idle_to(start);  // a vCPU left behind (parked) catches up with the round
    for (;;) {
        if (v.halted() && !v.can_wake_now()) {
            const uint64_t wake = v.self_wake_time();
            if (wake >= end) {
                v.advance_idle_to(end);
                return false;
            }
            v.advance_idle_to(wake);
        }
        v.emit_slice(end);
        const backend::StopInfo stop = v.run(end);
        switch (stop.kind) {
            case StopKind::SliceEnd:
                v.advance_idle_to(end);  // PAUSE gave the rest away: it counts as spent
                return false;
            case StopKind::Halted:
                if (vcpus_.size() == 1 && v.self_wake_time() == UINT64_MAX) {
                    out.stop = stop;
                    // A HLT that parks ends the engine's run with a deferred stop, which has
                    // no detail: name the HLT (one byte, before RIP).
                    if (out.stop.detail.empty())
                        out.stop.detail = "parked by hlt at " + mmu::hex(v.reg(UC_X86_REG_RIP) - 1);
                    out.vcpu = v.id();
                    out.hang = true;
                    return true;
                }
                continue;  // it may still wake inside this slice
            default:
                out.stop = stop;
                out.vcpu = v.id();
                return true;
        }
    }
}

ScheduleOutcome SmpScheduler::run() {
    ScheduleOutcome out;
    // One vCPU needs no slices: it runs until it stops (timers still interrupt it).
    const uint64_t quantum = vcpus_.size() == 1 ? (UINT64_MAX >> 2) : quantum_;
    if (!pos_.in_round) {
        pos_.start = 0;
        for (backend::Vcpu* v : vcpus_) pos_.start = std::max(pos_.start, v->clock());
    }
    for (;;) {
        if (!pos_.in_round) {
            ++pos_.rounds;
            pos_.end = pos_.start + quantum;
            pos_.next = 0;
            pos_.in_round = true;
        }
        for (; pos_.next < vcpus_.size(); ++pos_.next)
            if (turn(*vcpus_[pos_.next], pos_.start, pos_.end, out)) {
                // A resumable stop keeps the round open at this vCPU; any other ends the run.
                if (out.stop.kind != StopKind::FuzzReady) pos_.in_round = false;
                return out;
            }
        pos_.in_round = false;
        pos_.start = pos_.end;
        const bool all_parked = std::all_of(vcpus_.begin(), vcpus_.end(),
                                            [](const backend::Vcpu* v) { return v->halted() && !v->can_wake_now(); });
        if (!all_parked) continue;
        uint64_t wake = UINT64_MAX;
        for (const backend::Vcpu* v : vcpus_) wake = std::min(wake, v->self_wake_time());
        if (wake == UINT64_MAX) {
            out.stop = {StopKind::Halted, hang_detail()};
            out.vcpu = 0;
            out.hang = true;
            return out;
        }
        if (wake > pos_.start) {
            pos_.start = wake;  // nothing happens before the first timer: jump there
            ++pos_.time_jumps;
        }
    }
}

std::string SmpScheduler::hang_detail() const {
    std::string d = "every vCPU is parked by hlt and nothing can wake one:";
    for (const backend::Vcpu* v : vcpus_)
        d += " vCPU " + std::to_string(v->id()) +
             (v->interrupts_enabled() ? " (IF=1, no timer that could interrupt it)" : " (IF=0)") + ";";
    d.pop_back();
    return d;
}

}  // namespace emu
