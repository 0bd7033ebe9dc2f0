// Per-vCPU counters reported by `run --json`.
#pragma once
#include <cstdint>

namespace emu {

struct RunStats {
    uint64_t instructions = 0;
    uint64_t blocks = 0;
    uint64_t exceptions_delivered = 0;
    uint64_t nested_faults = 0;
    uint64_t cr3_loads = 0;
    uint64_t cr3_noflush_loads = 0;
    uint64_t invlpg = 0;
    uint64_t invpcid = 0;
    uint64_t aliases_mapped = 0;
    uint64_t syscalls = 0;
    uint64_t tracepoints = 0;
    uint64_t port_writes = 0;

    RunStats& operator+=(const RunStats& o) {
        instructions += o.instructions; blocks += o.blocks;
        exceptions_delivered += o.exceptions_delivered; nested_faults += o.nested_faults;
        cr3_loads += o.cr3_loads; cr3_noflush_loads += o.cr3_noflush_loads;
        invlpg += o.invlpg; invpcid += o.invpcid; aliases_mapped += o.aliases_mapped;
        syscalls += o.syscalls; tracepoints += o.tracepoints; port_writes += o.port_writes;
        return *this;
    }
};

}  // namespace emu
