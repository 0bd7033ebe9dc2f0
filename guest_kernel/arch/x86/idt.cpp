#include "arch/x86/idt.h"

#include "arch/x86/apic.h"
#include "arch/x86/asm_defs.h"
#include "arch/x86/cpu.h"

extern "C" const uint64_t trap_stub_table[256];

namespace x86::idt {
namespace {

// 64-bit IDT gate descriptor (SDM vol. 3A 6.14.1, figure 6-8).
struct [[gnu::packed]] Gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;         // bits 2:0: IST slot (0 = no stack switch unless CPL changes)
    uint8_t type_attr;   // P(7) DPL(6:5) 0 type(3:0)
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};
static_assert(sizeof(Gate) == 16);

// Type 0xE, a 64-bit interrupt gate: IF is cleared on entry (a trap gate, 0xF, would leave
// it), so every handler starts with interrupts off.
constexpr uint8_t kInterruptGate = 0xe;
constexpr uint8_t kPresent = 0x80;

alignas(4096) constinit Gate g_idt[256]{};

void set_gate(unsigned vector, unsigned dpl, unsigned ist) {
    const uint64_t handler = trap_stub_table[vector];
    Gate& g = g_idt[vector];
    g.offset_low = handler & 0xffff;
    g.selector = KERNEL_CS;
    g.ist = ist & 7;
    g.type_attr = kPresent | ((dpl & 3) << 5) | kInterruptGate;
    g.offset_mid = (handler >> 16) & 0xffff;
    g.offset_high = handler >> 32;
    g.reserved = 0;
}

}  // namespace

void init() {
    for (unsigned v = 0; v < 256; ++v) set_gate(v, 0, 0);
    // DPL 3 where user code may raise the vector with an INT instruction (INT n checks the
    // gate's DPL against CPL, SDM vol. 3A 6.12.1.1); as in Linux, int3 and into are allowed.
    set_gate(kBreakpoint, 3, 0);
    set_gate(kOverflow, 3, 0);
    set_gate(kSyscallGate, 3, 0);
    // #DF on its own known-good stack: a #DF caused by a kernel stack overflow cannot push its
    // frame on the faulting stack (SDM vol. 3A 6.14.5). NMI likewise, since it can arrive
    // at any instruction, including just after SYSCALL while RSP is still the user's.
    set_gate(kDoubleFault, 0, IST_DOUBLE_FAULT);
    set_gate(kNmi, 0, IST_NMI);
    load();
}

void load() {
    const DescriptorTablePointer p{sizeof(g_idt) - 1, g_idt};
    lidt(p);
}

void load_empty() {
    const DescriptorTablePointer p{0, nullptr};
    lidt(p);
}

const char* vector_name(uint64_t vector) {
    switch (vector) {
        case kDivideError: return "#DE divide error";
        case kDebug: return "#DB debug";
        case kNmi: return "NMI";
        case kBreakpoint: return "#BP breakpoint";
        case kOverflow: return "#OF overflow";
        case kBoundRange: return "#BR bound range";
        case kInvalidOpcode: return "#UD invalid opcode";
        case kDeviceNotAvailable: return "#NM device not available";
        case kDoubleFault: return "#DF double fault";
        case kInvalidTss: return "#TS invalid TSS";
        case kSegmentNotPresent: return "#NP segment not present";
        case kStackFault: return "#SS stack fault";
        case kGeneralProtection: return "#GP general protection";
        case kPageFault: return "#PF page fault";
        case kX87Fpu: return "#MF x87 FPU error";
        case kAlignmentCheck: return "#AC alignment check";
        case kMachineCheck: return "#MC machine check";
        case kSimd: return "#XM SIMD exception";
        case kVirtualization: return "#VE virtualization";
        case kControlProtection: return "#CP control protection";
        case kSyscallGate: return "int 0x80";
        case SYSCALL_FRAME_VECTOR: return "syscall";
        case apic::kTimerVector: return "local timer";
        case apic::kShootdownVector: return "TLB shootdown IPI";
        case apic::kCallFunctionVector: return "call-function IPI";
        case apic::kSpuriousVector: return "spurious interrupt";
        default: return vector < 32 ? "reserved exception" : "external interrupt";
    }
}

}  // namespace x86::idt
