// The machine's side of the guest's fuzz mode (asi_emu_abi.h "In-emulator fuzzing"): the
// program buffer the guest announces at kFuzzReady, and writing a program into it.
#include <cstring>

#include "emu/machine.h"
#include "guest_kernel/abi/asi_emu_abi.h"
#include "mmu/hex.h"
#include "mmu/state_digest.h"

namespace emu {

bool Machine::on_fuzz_ready(const backend::Vcpu& cpu, RunOutcome& out) {
    fuzz_ready_ = cpu.fuzz_request();
    if (config_.pause_at_fuzz_ready) {
        out.outcome = "fuzz-ready";
        out.exit_code = kExitOk;
        out.stopped_vcpu = cpu.id();
        out.detail = "the guest waits for its fuzz program in the buffer at " + mmu::hex(fuzz_ready_.rdi);
        return true;
    }
    if (config_.fuzz_program) write_fuzz_program(*config_.fuzz_program);
    return false;
}

void Machine::write_fuzz_program(std::span<const uint8_t> program, bool quiet) {
    const uint64_t pa = fuzz_ready_.rdi, size = fuzz_ready_.rsi;
    if (fuzz_ready_.command != asi_abi::kFuzzReady)
        throw MachineError(kExitInternalError, "a fuzz program, but the guest never announced its buffer");
    if (size < sizeof(asi_abi::FuzzProgramHeader) || (pa & 7) || !shared_.ram.contains(pa, size))
        throw MachineError(kExitGuestCrash, "the guest's fuzz buffer [" + mmu::hex(pa) + ", +" + mmu::hex(size) +
                                                ") is not inside RAM or too small");
    if (program.size() > size - sizeof(asi_abi::FuzzProgramHeader))
        throw MachineError(kExitBadInput, "fuzz program of " + std::to_string(program.size()) +
                                              " bytes; the guest's buffer holds " +
                                              std::to_string(size - sizeof(asi_abi::FuzzProgramHeader)));
    asi_abi::FuzzProgramHeader header{asi_abi::kFuzzProgramMagic, static_cast<uint32_t>(program.size()),
                                      quiet ? asi_abi::kFuzzQuiet : 0};
    std::memcpy(ram_ + pa, &header, sizeof header);
    if (!program.empty()) std::memcpy(ram_ + pa + sizeof header, program.data(), program.size());
}

void Machine::take_snapshot() {
    if (trace_ || tlb_stats_)
        throw MachineError(kExitBadInput, "a machine snapshot cannot take back a trace or --tlb-stats output");
    auto s = std::make_unique<Snapshot>();
    for (const auto& v : vcpus_) {
        s->vcpus.push_back(v->save());
        if (!s->vcpus.back()) throw MachineError(kExitInternalError, "cannot save the state of a vCPU");
    }
    s->schedule = scheduler_->position();
    if (oracle_) {
        s->oracle = std::make_unique<cpu_model::LeakOracle>(*oracle_);
        // Syncs the live oracle with its snapshot, so that each restore copies back only
        // what the input changed (mmu/restorable.h).
        oracle_->assign_state(*s->oracle);
    }
    s->reported_violations = reported_violations_;
    s->debug_exit_value = debug_exit_->value();
    s->fuzz_ready = fuzz_ready_;
    snapshot_ = std::move(s);
    if (!ram_tracker_) ram_tracker_ = std::make_unique<DirtyPageTracker>(ram_, config_.ram_size);
    ram_tracker_->arm();
    shared_.ram_tracker = ram_tracker_.get();
}

size_t Machine::restore_snapshot() {
    if (!snapshot_) throw MachineError(kExitInternalError, "restore without a snapshot");
    const size_t pages = ram_tracker_->restore();
    for (size_t i = 0; i < vcpus_.size(); ++i) vcpus_[i]->restore(*snapshot_->vcpus[i]);
    scheduler_->set_position(snapshot_->schedule);
    if (snapshot_->oracle) oracle_->assign_state(*snapshot_->oracle);
    reported_violations_ = snapshot_->reported_violations;
    debug_exit_->set_value(snapshot_->debug_exit_value);
    fuzz_ready_ = snapshot_->fuzz_ready;
    return pages;
}

size_t Machine::hot_ram_pages() const { return ram_tracker_ ? ram_tracker_->hot_pages() : 0; }

void Machine::set_instruction_budget(uint64_t instructions) {
    for (const auto& v : vcpus_) v->set_insn_limit(v->clock() + instructions);
}

uint64_t Machine::state_digest() const {
    mmu::Digest d;
    for (const auto& v : vcpus_) d.add(v->state_digest());
    const SmpScheduler::Position& p = scheduler_->position();
    d.add(p.rounds).add(p.time_jumps).add(p.in_round).add(p.start).add(p.end).add(p.next);
    if (oracle_) d.add(oracle_->state_digest());
    return d.add(reported_violations_).add(debug_exit_->value().value_or(~0u)).value();
}

uint64_t Machine::ram_digest() const {
    mmu::Digest d;
    for (uint64_t off = 0; off < config_.ram_size; off += 8) {
        uint64_t w;
        std::memcpy(&w, ram_ + off, 8);
        if (w) d.add(off).add(w);
    }
    return d.value();
}

}  // namespace emu
