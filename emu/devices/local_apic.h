// One vCPU's local APIC in x2APIC mode (Intel SDM vol. 3A 10.12), the only mode asi-emu
// offers (asi_emu_abi.h, "SMP"). Registers are MSRs 0x800-0x83f; there is no MMIO page.
//
// Interrupt acceptance (SDM 10.8): a fixed interrupt sets its IRR bit; the processor takes
// the highest-priority IRR vector whose priority class (vector[7:4]) is above the processor
// priority PPR = max(TPR, class of the highest ISR vector) (10.8.3.1), moving it to the
// ISR (INTA); EOI clears the highest ISR bit (10.8.5). Vectors 0-15 are illegal: a send sets
// ESR "send illegal vector" and nothing is delivered (10.5.3).
//
// Timer (10.5.4): the current count falls from the initial count by one every `divide`
// ticks of this vCPU's clock (its guest instructions plus the time it spent halted); at zero
// the LVT timer vector is accepted unless masked, and a periodic timer reloads. Writing the
// initial count (re)starts it; writing 0 stops it. TSC-deadline mode is not offered.
#pragma once
#include <array>
#include <cstdint>
#include <optional>

namespace emu::devices {

struct IpiRequest {
    uint8_t vector = 0;
    uint8_t shorthand = 0;         // 0 none, 1 self, 2 all including self, 3 all excluding self
    uint32_t destination = 0;      // x2APIC ID when shorthand is 0 (0xffffffff: broadcast)
    uint8_t delivery_mode = 0;     // 0 fixed; others are accepted and ignored
    uint64_t icr = 0;
};

class LocalApic {
public:
    explicit LocalApic(uint32_t id) : id_(id) {}

    static bool is_apic_msr(uint32_t msr) { return msr == 0x1b || (msr >= 0x800 && msr <= 0x8ff); }

    // RDMSR: nullopt means #GP(0) (an unimplemented or write-only register, SDM 10.12.1.2).
    std::optional<uint64_t> read_msr(uint32_t msr, uint64_t now) const;
    struct WriteResult {
        bool ok = true;                 // false: #GP(0)
        std::optional<IpiRequest> ipi;  // an ICR or SELF IPI write: the machine routes it
    };
    WriteResult write_msr(uint32_t msr, uint64_t value, uint64_t now);

    // A fixed interrupt arrives (IPI or local source). Illegal vectors are dropped.
    void accept(uint8_t vector);
    // The vector the processor would take now, if RFLAGS.IF allowed it.
    std::optional<uint8_t> deliverable() const;
    // INTA: the vector moves from the IRR to the ISR.
    void acknowledge(uint8_t vector);
    bool irr_empty() const;

    // The clock value at which the timer next reaches zero; UINT64_MAX when it will not.
    uint64_t timer_deadline() const { return deadline_; }
    // Called with now >= timer_deadline(): counts the expiry and re-arms a periodic timer.
    // Returns true when a vector was accepted (the LVT entry is not masked, its vector legal).
    bool expire_timer(uint64_t now);
    // Whether an interrupt could ever be taken without another vCPU's help, as long as the
    // TPR and the ISR stay as they are (the vCPU is parked): one deliverable now, or an armed,
    // unmasked timer with a legal vector whose priority class is above the PPR.
    bool can_wake_itself() const;

    uint32_t id() const { return id_; }
    bool software_enabled() const { return svr_ & (1u << 8); }
    uint64_t timer_expiries() const { return timer_expiries_; }
    uint8_t timer_vector() const { return static_cast<uint8_t>(lvt_timer_ & 0xff); }

private:
    using Bits = std::array<uint32_t, 8>;
    static bool test(const Bits& b, uint8_t v) { return b[v >> 5] & (1u << (v & 31)); }
    static void set(Bits& b, uint8_t v) { b[v >> 5] |= 1u << (v & 31); }
    static void clear(Bits& b, uint8_t v) { b[v >> 5] &= ~(1u << (v & 31)); }
    static int highest(const Bits& b);
    uint32_t ppr() const;
    uint64_t divide() const;
    void arm_timer(uint64_t now);
    uint32_t current_count(uint64_t now) const;

    uint32_t id_;
    uint64_t apic_base_extd_ = 1ull << 10;  // x2APIC mode from power-on (asi_emu_abi.h)
    uint32_t tpr_ = 0, svr_ = 0xff, esr_ = 0, pending_esr_ = 0;
    uint32_t lvt_timer_ = 1u << 16, lvt_other_[5] = {1u << 16, 1u << 16, 1u << 16, 1u << 16, 1u << 16};
    uint32_t initial_count_ = 0, divide_config_ = 0;
    uint64_t icr_ = 0;
    uint64_t timer_start_ = 0, deadline_ = UINT64_MAX;
    uint64_t timer_expiries_ = 0;
    Bits irr_{}, isr_{}, tmr_{};
};

}  // namespace emu::devices
