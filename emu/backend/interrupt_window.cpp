// The vCPU side of interrupts: the local APIC's MSRs, the timer, HLT, STI and PAUSE, and
// delivery of external interrupts through the IDT.
//
// When an interrupt is taken (SDM vol. 3A 6.8.1, 10.8): at an instruction boundary with
// RFLAGS.IF=1 and no STI/MOV SS shadow. asi-emu checks at the start of every run of the
// engine (each time slice, after a timer deadline, after an APIC write that made one
// deliverable), at HLT and at STI, which covers every way IF becomes 1 in kernel code
// except POPF and IRETQ; those wait for the next check (at most one slice, or one quantum
// of instructions on a single vCPU: the engine polls while an interrupt is held pending).
//
// One deviation: STI delays recognition until after the next instruction (vol. 2B "STI");
// asi-emu delivers right after the STI unless the next instruction is HLT, so the handler
// runs before that instruction instead of after it. `sti; hlt` keeps its meaning: HLT with
// IF=1 and an interrupt pending does not park.
#include "emu/backend/vcpu.h"
#include "mmu/hex.h"

namespace emu::backend {
namespace {

constexpr uint64_t kRflagsIf = 1u << 9;

}  // namespace

void Vcpu::note_ipi_sent(uint32_t dest, const devices::IpiRequest& ipi) {
    ++stats_.ipis_sent;
    emit(EventKind::Ipi, reg(UC_X86_REG_RIP), {dest, ipi.vector, ipi.icr});
}

bool Vcpu::can_wake_now() const {
    return halted_ && interrupts_enabled() && apic_.deliverable().has_value();
}

uint64_t Vcpu::self_wake_time() const {
    if (!interrupts_enabled()) return UINT64_MAX;  // no NMI source: IF=0 HLT parks for good
    if (apic_.deliverable()) return clock();
    return apic_.can_wake_itself() ? apic_.timer_deadline() : UINT64_MAX;
}

void Vcpu::service_timer() {
    if (clock() < apic_.timer_deadline()) return;
    if (apic_.expire_timer(clock())) ++stats_.timer_interrupts;
}

bool Vcpu::deliver_interrupt(bool ignore_shadow) {
    if (stop_ || !interrupts_enabled()) return false;
    const std::optional<uint8_t> v = apic_.deliverable();
    if (!v) return false;
    // A vCPU parked by HLT is past any STI shadow (the HLT was the shadowed instruction), but
    // Unicorn still has its inhibit flag set: the code hook skipped the HLT before the end of
    // the block that would have reset it. Checking it here would never wake `sti; hlt`.
    if (!ignore_shadow && !halted_) {
        CpuStateBlob blob(uc_, *shared_.layout);
        blob.load();
        if (blob.hflags() & kHflagInhibitIrq) return false;
    }
    apic_.acknowledge(*v);
    if (halted_) {
        halted_ = false;
        emit(EventKind::Halt, reg(UC_X86_REG_RIP), {0, clock()});
    }
    GuestEvent ev;
    ev.vector = *v;
    ev.external = true;
    ev.rip = reg(UC_X86_REG_RIP);
    const bool timer = *v == apic_.timer_vector();
    emit(EventKind::Interrupt, ev.rip, {*v, timer ? kInterruptSourceTimer : kInterruptSourceIpi});
    DeliveryContext ctx{uc_, shared_.layout, &shared_.ram, false};
    const DeliveryOutcome out = deliver_event(ctx, ev);
    stats_.nested_faults += out.nested_faults;
    if (out.triple_fault) {
        stop(StopKind::TripleFault, out.detail + " delivering interrupt vector " + std::to_string(*v));
        return true;
    }
    ++stats_.interrupts;
    return true;
}

bool Vcpu::emulate_apic_rdmsr(const PrivilegedInsn& insn, uint32_t msr) {
    const std::optional<uint64_t> value = apic_.read_msr(msr, clock());
    if (!value) {
        raise(general_protection_fault(insn.address));
        return true;
    }
    uint64_t lo = *value & 0xffffffffull, hi = *value >> 32;
    uc_reg_write(uc_, UC_X86_REG_RAX, &lo);
    uc_reg_write(uc_, UC_X86_REG_RDX, &hi);
    skip(insn);
    return true;
}

bool Vcpu::emulate_apic_wrmsr(const PrivilegedInsn& insn, uint32_t msr, uint64_t value) {
    const devices::LocalApic::WriteResult r = apic_.write_msr(msr, value, clock());
    if (!r.ok) {
        raise(general_protection_fault(insn.address));
        return true;
    }
    skip(insn);
    if (r.ipi && shared_.router) shared_.router->send_ipi(id_, *r.ipi);
    arm_next_stop();  // the timer may have moved
    // An EOI, a TPR change or a self IPI can make an interrupt deliverable right away.
    if (interrupts_enabled() && apic_.deliverable()) defer_stop(StopKind::Resume);
    return true;
}

// HLT (vol. 2B): parks until an interrupt; the interrupt's return address is the next
// instruction. With IF=1 and an interrupt already deliverable it does not park at all.
bool Vcpu::emulate_hlt(const PrivilegedInsn& insn) {
    if (cpl() != 0) return false;  // Unicorn raises #GP(0)
    skip(insn);
    service_timer();
    if (interrupts_enabled() && apic_.deliverable()) {
        deliver_interrupt(true);
        return true;
    }
    halted_ = true;
    ++stats_.halts;
    emit(EventKind::Halt, insn.address, {1, clock()});
    defer_stop(StopKind::Halted);
    return true;
}

bool Vcpu::emulate_sti(const PrivilegedInsn& insn) {
    if (cpl() != 0 || interrupts_enabled() || !apic_.deliverable()) return false;
    const PrivilegedInsn* next = shared_.scan->find(insn.address + insn.size);
    if (next && next->kind == PrivilegedKind::Hlt) return false;  // `sti; hlt`: HLT wakes at once
    uint64_t flags = reg(UC_X86_REG_RFLAGS) | kRflagsIf;
    uc_reg_write(uc_, UC_X86_REG_RFLAGS, &flags);
    skip(insn);
    deliver_interrupt(true);
    return true;
}

// PAUSE: a spin-wait hint. With other vCPUs the slice ends here, as VMX pause-loop exiting
// lets a hypervisor do (SDM vol. 3C 25.1.3): the spinning vCPU gives its time to the one it
// waits for. The rest of the slice counts as spent (the machine advances the clock).
bool Vcpu::emulate_pause(const PrivilegedInsn& insn) {
    if (!shared_.router || shared_.router->vcpu_count() < 2) return false;
    skip(insn);
    ++stats_.pause_exits;
    defer_stop(StopKind::SliceEnd);
    return true;
}

}  // namespace emu::backend
