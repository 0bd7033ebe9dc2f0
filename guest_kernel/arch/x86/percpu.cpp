#include "arch/x86/percpu.h"

// Filled by the entry code (boot/entry64.S: self, cpu_id, then WRMSR IA32_GS_BASE); CPU 0's
// is valid statically so that the PVH path may run C++ before kernel_entry64.
extern "C" constinit x86::percpu::Header percpu_headers[x86::percpu::kMaxCpus] = {
    {&percpu_headers[0], 0, 0, 0, 0, 0, 0},
};

namespace x86::percpu {

const Header& header_of(uint32_t cpu) { return percpu_headers[cpu]; }

}  // namespace x86::percpu
