// The Interrupt Descriptor Table (SDM vol. 3A 6.10, 6.14.1): 256 64-bit interrupt gates,
// all entering trap_entry.S's stubs.
#pragma once
#include <stdint.h>

namespace x86::idt {

// Well-known vectors (SDM vol. 3A 6.3.1, table 6-1).
enum Vector : uint8_t {
    kDivideError = 0,
    kDebug = 1,
    kNmi = 2,
    kBreakpoint = 3,
    kOverflow = 4,
    kBoundRange = 5,
    kInvalidOpcode = 6,
    kDeviceNotAvailable = 7,
    kDoubleFault = 8,
    kInvalidTss = 10,
    kSegmentNotPresent = 11,
    kStackFault = 12,
    kGeneralProtection = 13,
    kPageFault = 14,
    kX87Fpu = 16,
    kAlignmentCheck = 17,
    kMachineCheck = 18,
    kSimd = 19,
    kVirtualization = 20,
    kControlProtection = 21,
    kSyscallGate = 0x80,  // `int $0x80` from user mode (DPL 3)
};

// Fills the table (CPU 0) and loads it.
void init();
// Loads the same table on another CPU (the IDT is shared).
void load();
// Loads an IDTR with limit 0: any exception then becomes a triple fault (lkdtm TRIPLE_FAULT).
void load_empty();
const char* vector_name(uint64_t vector);

}  // namespace x86::idt
