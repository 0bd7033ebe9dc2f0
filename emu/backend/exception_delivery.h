// Delivery of exceptions and interrupts through the guest's IDT, done by the host because
// Unicorn 2.0.1 never does it (DESIGN 4.2). Follows SDM vol. 3A 6.14 (64-bit mode):
// 16-byte gates, IST stacks, RSP from the TSS on a privilege change, SS:RSP always pushed,
// the stack aligned to 16 bytes. Every memory access of the delivery (IDT, GDT, TSS, the
// frame pushes) goes through our walker, so a fault while delivering raises the exception
// the SDM prescribes and is combined with the first according to table 6-5 (6.15,
// "Interrupt 8"): contributory + contributory or #PF + (#PF or contributory) is a #DF, and
// any fault while delivering a #DF is a triple fault (shutdown).
#pragma once
#include <unicorn/unicorn.h>

#include <cstdint>
#include <optional>
#include <string>

#include "emu/backend/cpu_state_blob.h"
#include "mmu/walker.h"

namespace emu::backend {

namespace vector {
inline constexpr uint8_t kDivideError = 0, kDebug = 1, kNmi = 2, kBreakpoint = 3, kOverflow = 4,
                         kBound = 5, kInvalidOpcode = 6, kDeviceNotAvailable = 7, kDoubleFault = 8,
                         kInvalidTss = 10, kSegmentNotPresent = 11, kStackFault = 12,
                         kGeneralProtection = 13, kPageFault = 14;
}

// True when the vector pushes an error code (SDM 6.15, per-vector "Exception Error Code").
bool vector_has_error_code(uint8_t vector);

struct GuestEvent {
    uint8_t vector = 0;
    std::optional<uint32_t> error_code;
    bool software = false;  // INT n, INT3, INTO: gate DPL is checked, nested EXT = 0
    bool external = false;  // hardware interrupt (APIC): nested EXT = 1
    uint64_t rip = 0;       // RIP pushed: the faulting instruction for faults, the next for traps
    std::optional<uint64_t> cr2;  // loaded into CR2 as the delivery begins (#PF)
};

// #GP(0) raised by the instruction at rip (the usual error of a privileged instruction).
inline GuestEvent general_protection_fault(uint64_t rip) {
    GuestEvent ev;
    ev.vector = vector::kGeneralProtection;
    ev.error_code = 0;
    ev.rip = rip;
    return ev;
}

struct DeliveryOutcome {
    bool triple_fault = false;
    uint8_t delivered_vector = 0;  // what actually reached the guest (8 when promoted)
    int nested_faults = 0;         // faults raised while delivering
    std::string detail;            // for a triple fault: the chain that led there
};

struct DeliveryContext {
    uc_engine* uc;
    const CpuStateLayout* layout;
    mmu::PhysicalMemory* ram;
    bool efer_nxe;
};

DeliveryOutcome deliver_event(const DeliveryContext& ctx, GuestEvent event);

}  // namespace emu::backend
