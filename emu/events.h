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
};

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
