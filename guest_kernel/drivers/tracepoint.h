// asi-emu tracepoints (asi_abi::TraceKind): `out %eax, %dx` with DX = kTracePort, EAX = kind,
// arguments in RDI, RSI, R8, R9, R10. The guest declares only what only it can know
// (allocations with their gfp flags and owner, address spaces it creates); QEMU ignores the
// port.
#pragma once
#include <stdint.h>

#include "abi/asi_emu_abi.h"

namespace tracepoint {

inline void emit(asi_abi::TraceKind kind, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0,
                 uint64_t d = 0) {
    register uint64_t r8 __asm__("r8") = c;
    register uint64_t r9 __asm__("r9") = d;
    register uint64_t r10 __asm__("r10") = 0;
    __asm__ volatile("outl %%eax, %%dx"
                     :
                     : "a"(static_cast<uint32_t>(kind)), "d"(asi_abi::kTracePort), "D"(a), "S"(b),
                       "r"(r8), "r"(r9), "r"(r10)
                     : "memory");
}

}  // namespace tracepoint
