// The event stream (DESIGN 2): everything the leak oracle and the trace consume. Events are
// produced in emulation order, stamped with the vCPU's instruction count.
#pragma once
#include <cstdint>

namespace emu {

enum class EventKind : uint8_t {
    Cr3Load = 1,    // a0 = new CR3 (PCID in 11:0, bit 63 never), a1 = old CR3, a2 = 1 if no-flush
    Cr4Write = 2,   // a0 = new, a1 = old
    Cr0Write = 3,   // a0 = new, a1 = old
    Invlpg = 4,     // a0 = linear address, a1 = current PCID
    Invpcid = 5,    // a0 = type, a1 = PCID, a2 = linear address
    Exception = 6,  // a0 = vector raised, a1 = error code, a2 = CR2, a3 = vector delivered
    Tracepoint = 7, // a0 = asi_abi::TraceKind, a1..a5 = RDI, RSI, R8, R9, R10
    MsrWrite = 8,   // a0 = MSR, a1 = value
    Syscall = 9,    // a0 = RAX
    // Page-table state, for the leak oracle (DESIGN 5). A replay has no RAM, so the content a
    // table had when it started being tracked, and the zero checks of frames, are recorded
    // in the stream just before the event that needed them.
    PteWrite = 10,       // a0 = physical address, a1 = length (1-8), a2 = value stored
    TableSnapshot = 11,  // a0 = table frame: its content follows as TableEntry records
    TableEntry = 12,     // a0 = table frame, a1 = index, a2 = value (non-zero entries only)
    FrameContent = 13,   // a0 = 4 KiB frame, a1 = 1 when every byte is zero
    VcpuState = 14,      // a0 = CR0, a1 = CR3, a2 = CR4: the vCPU's state at power-on
    // SMP (emu/smp_scheduler.h): the schedule and the interrupt traffic, so that a trace
    // shows which vCPU ran when and why it stopped.
    Slice = 15,      // a vCPU's time slice begins: a0 = its clock, a1 = the slice's end clock
    Ipi = 16,        // a0 = destination vCPU, a1 = vector, a2 = ICR value (one per destination)
    Interrupt = 17,  // delivered through the IDT: a0 = vector, a1 = source (kInterruptSource*)
    Halt = 18,       // a0 = 1 parked by HLT, 0 woken; a1 = the vCPU's clock
};

inline constexpr uint64_t kInterruptSourceIpi = 0, kInterruptSourceTimer = 1;

const char* event_kind_name(EventKind kind);

struct Event {
    uint64_t icount = 0;
    uint64_t rip = 0;
    uint32_t vcpu = 0;
    EventKind kind{};
    uint64_t a[6] = {};
};

class EventSink {
public:
    virtual ~EventSink() = default;
    virtual void on_event(const Event& e) = 0;
};

}  // namespace emu
