#include "emu/devices/local_apic.h"

#include "guest_kernel/abi/asi_emu_abi.h"

namespace emu::devices {
namespace {

constexpr uint32_t kVersion = 0x14 | (5u << 16);  // integrated APIC, max LVT entry 5 (SDM 10.4.8)
constexpr uint32_t kEsrSendIllegalVector = 1u << 5;
constexpr uint32_t kLvtVectorMask = 0xff, kLvtMask = 1u << 16, kLvtPeriodic = 1u << 17;

}  // namespace

int LocalApic::highest(const Bits& b) {
    for (int w = 7; w >= 0; --w)
        if (b[w]) return w * 32 + 31 - __builtin_clz(b[w]);
    return -1;
}

// SDM 10.8.3.1: PPR[7:4] = max(TPR[7:4], ISRV[7:4]).
uint32_t LocalApic::ppr() const {
    const int isrv = highest(isr_);
    const uint32_t isr_class = isrv < 0 ? 0 : static_cast<uint32_t>(isrv) & 0xf0;
    return (tpr_ & 0xf0) >= isr_class ? tpr_ & 0xff : isr_class;
}

// Figure 10-10: bits 0, 1 and 3 select 2, 4, ..., 128, or 1 (111b).
uint64_t LocalApic::divide() const {
    const uint32_t v = ((divide_config_ >> 1) & 4) | (divide_config_ & 3);
    return v == 7 ? 1 : 2ull << v;
}

void LocalApic::arm_timer(uint64_t now) {
    timer_start_ = now;
    deadline_ = initial_count_ ? now + initial_count_ * divide() : UINT64_MAX;
}

uint32_t LocalApic::current_count(uint64_t now) const {
    if (deadline_ == UINT64_MAX || now >= deadline_) return 0;
    return static_cast<uint32_t>((deadline_ - now + divide() - 1) / divide());
}

std::optional<uint64_t> LocalApic::read_msr(uint32_t msr, uint64_t now) const {
    using namespace asi_abi;
    if (msr == kMsrApicBase)
        return kApicBaseDefault | kApicBaseEnable | apic_base_extd_ | (id_ == 0 ? kApicBaseBsp : 0);
    if (!apic_base_extd_) return std::nullopt;  // x2APIC MSRs outside x2APIC mode: #GP
    if (msr >= kMsrX2apicIsr0 && msr < kMsrX2apicIsr0 + 8) return isr_[msr - kMsrX2apicIsr0];
    if (msr >= kMsrX2apicTmr0 && msr < kMsrX2apicTmr0 + 8) return tmr_[msr - kMsrX2apicTmr0];
    if (msr >= kMsrX2apicIrr0 && msr < kMsrX2apicIrr0 + 8) return irr_[msr - kMsrX2apicIrr0];
    if (msr >= kMsrX2apicLvtThermal && msr <= kMsrX2apicLvtError) return lvt_other_[msr - kMsrX2apicLvtThermal];
    switch (msr) {
        case kMsrX2apicId: return id_;
        case kMsrX2apicVersion: return kVersion;
        case kMsrX2apicTpr: return tpr_;
        case kMsrX2apicPpr: return ppr();
        case kMsrX2apicLdr: return ((id_ >> 4) << 16) | (1u << (id_ & 0xf));  // SDM 10.12.10.2
        case kMsrX2apicSvr: return svr_;
        case kMsrX2apicEsr: return esr_;
        case kMsrX2apicLvtTimer: return lvt_timer_;
        case kMsrX2apicInitCount: return initial_count_;
        case kMsrX2apicCurCount: return current_count(now);
        case kMsrX2apicDivide: return divide_config_;
        case kMsrX2apicIcr: return icr_;  // read/write in x2APIC mode (SDM table 10-6)
        default: return std::nullopt;  // EOI and SELF IPI are write-only; the rest reserved
    }
}

LocalApic::WriteResult LocalApic::write_msr(uint32_t msr, uint64_t value, uint64_t now) {
    using namespace asi_abi;
    WriteResult r;
    if (msr == kMsrApicBase) {
        // Only the x2APIC mode at the default base exists here: anything else is refused.
        const uint64_t want = kApicBaseDefault | kApicBaseEnable | kApicBaseExtd;
        r.ok = (value & ~kApicBaseBsp) == want;
        return r;
    }
    if (!apic_base_extd_) return {false, {}};
    if (msr >= kMsrX2apicLvtThermal && msr <= kMsrX2apicLvtError) {
        lvt_other_[msr - kMsrX2apicLvtThermal] = static_cast<uint32_t>(value) & (kLvtVectorMask | kLvtMask | 0x700);
        return r;
    }
    switch (msr) {
        case kMsrX2apicTpr: tpr_ = value & 0xff; return r;
        case kMsrX2apicEoi: {
            if (value != 0) return {false, {}};  // SDM 10.12.1.2: a non-zero EOI write is #GP(0)
            const int v = highest(isr_);
            if (v >= 0) clear(isr_, static_cast<uint8_t>(v));
            return r;
        }
        case kMsrX2apicSvr: svr_ = value & 0x11ff; return r;
        case kMsrX2apicEsr:
            // A write latches the errors seen since the last write (SDM 10.5.3); in x2APIC
            // mode only zero may be written (x2APIC spec 2.3.5: anything else is #GP).
            if (value != 0) return {false, {}};
            esr_ = pending_esr_;
            pending_esr_ = 0;
            return r;
        case kMsrX2apicIcr: {
            IpiRequest ipi;
            icr_ = value;
            ipi.icr = value;
            ipi.vector = value & 0xff;
            ipi.delivery_mode = (value >> 8) & 7;
            ipi.shorthand = (value >> 18) & 3;
            ipi.destination = static_cast<uint32_t>(value >> 32);
            if (ipi.delivery_mode == 0 && ipi.vector < 16) {
                pending_esr_ |= kEsrSendIllegalVector;
                return r;
            }
            r.ipi = ipi;
            return r;
        }
        case kMsrX2apicSelfIpi: {
            IpiRequest ipi;
            ipi.vector = value & 0xff;
            ipi.shorthand = 1;
            ipi.icr = ipi.vector | kIcrShorthandSelf;
            if (ipi.vector < 16) {
                pending_esr_ |= kEsrSendIllegalVector;
                return r;
            }
            r.ipi = ipi;
            return r;
        }
        case kMsrX2apicLvtTimer:
            lvt_timer_ = static_cast<uint32_t>(value) & (kLvtVectorMask | kLvtMask | kLvtPeriodic);
            return r;
        case kMsrX2apicInitCount:
            initial_count_ = static_cast<uint32_t>(value);
            arm_timer(now);
            return r;
        case kMsrX2apicDivide: {
            // Keep the count already elapsed: restart from the current count at the new rate.
            const uint32_t left = current_count(now);
            divide_config_ = value & 0xb;
            if (deadline_ != UINT64_MAX) deadline_ = now + left * divide();
            return r;
        }
        default: return {false, {}};  // read-only or reserved
    }
}

void LocalApic::accept(uint8_t vector) {
    if (vector < 16) {
        pending_esr_ |= 1u << 6;  // receive illegal vector
        return;
    }
    set(irr_, vector);
}

std::optional<uint8_t> LocalApic::deliverable() const {
    const int v = highest(irr_);
    if (v < 0) return std::nullopt;
    if ((static_cast<uint32_t>(v) & 0xf0) <= (ppr() & 0xf0)) return std::nullopt;
    return static_cast<uint8_t>(v);
}

void LocalApic::acknowledge(uint8_t vector) {
    clear(irr_, vector);
    set(isr_, vector);
}

bool LocalApic::irr_empty() const { return highest(irr_) < 0; }

bool LocalApic::expire_timer(uint64_t now) {
    if (deadline_ == UINT64_MAX || now < deadline_) return false;
    ++timer_expiries_;
    if (lvt_timer_ & kLvtPeriodic) {
        // Reload from the deadline, not from now: a periodic timer does not drift.
        const uint64_t period = static_cast<uint64_t>(initial_count_) * divide();
        timer_start_ = deadline_;
        deadline_ += period;
        if (deadline_ <= now) deadline_ = now + period - (now - timer_start_) % period;
    } else {
        deadline_ = UINT64_MAX;
    }
    if (lvt_timer_ & kLvtMask) return false;
    // SDM 10.4.7.2: a software-disabled APIC masks every LVT entry.
    if (!software_enabled()) return false;
    const uint8_t vector = static_cast<uint8_t>(lvt_timer_ & kLvtVectorMask);
    accept(vector);
    return vector >= 16;  // an illegal vector only sets the ESR
}

// A parked CPU executes nothing, so its TPR and ISR (hence its PPR) cannot change until it
// wakes: an interrupt the PPR blocks now, pending or from the timer, can never wake it.
bool LocalApic::can_wake_itself() const {
    if (deliverable()) return true;
    const uint32_t vector = lvt_timer_ & kLvtVectorMask;
    return deadline_ != UINT64_MAX && !(lvt_timer_ & kLvtMask) && software_enabled() && vector >= 16 &&
           (vector & 0xf0) > (ppr() & 0xf0);
}

}  // namespace emu::devices
