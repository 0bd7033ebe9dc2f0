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
    // SMP and the local APIC.
    uint64_t idle = 0;               // clock ticks spent halted or given up by PAUSE
    uint64_t slices = 0;
    uint64_t halts = 0;              // HLTs that parked the vCPU
    uint64_t pause_exits = 0;        // PAUSEs that ended the slice
    uint64_t interrupts = 0;         // external interrupts delivered through the IDT
    uint64_t timer_interrupts = 0;
    uint64_t ipis_sent = 0;          // one per destination
    uint64_t ipis_received = 0;
    uint64_t code_invalidations = 0;  // user code pages whose translations were dropped
    uint64_t rip_resyncs = 0;         // stops in front of a chained block (RIP restored)
    uint64_t stale_exception_resets = 0;  // QEMU old_exception found set at a restart

    RunStats& operator+=(const RunStats& o) {
        instructions += o.instructions; blocks += o.blocks;
        exceptions_delivered += o.exceptions_delivered; nested_faults += o.nested_faults;
        cr3_loads += o.cr3_loads; cr3_noflush_loads += o.cr3_noflush_loads;
        invlpg += o.invlpg; invpcid += o.invpcid; aliases_mapped += o.aliases_mapped;
        syscalls += o.syscalls; tracepoints += o.tracepoints; port_writes += o.port_writes;
        idle += o.idle; slices += o.slices; halts += o.halts; pause_exits += o.pause_exits;
        interrupts += o.interrupts; timer_interrupts += o.timer_interrupts;
        ipis_sent += o.ipis_sent; ipis_received += o.ipis_received;
        code_invalidations += o.code_invalidations; rip_resyncs += o.rip_resyncs;
        stale_exception_resets += o.stale_exception_resets;
        return *this;
    }
};

}  // namespace emu
