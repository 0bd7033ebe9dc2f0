// The scheduler tick: every CPU's local APIC timer fires periodically (vector
// apic::kTimerVector) and the handler counts it. There is no scheduler to preempt into (each
// CPU runs one kernel context), so the tick only wakes the idle loop's HLT and feeds the
// per-CPU statistics; it also guarantees that a CPU parked with IF=1 always has a reason to
// wake (asi-emu ends the run as a hang when every vCPU is parked for good).
#pragma once
#include <stdint.h>

namespace tick {

// One tick every kTickInstructions timer ticks at divide-by-1: on asi-emu, guest
// instructions of that CPU (plus its halted time), like Linux's HZ on a fixed-rate clock.
constexpr uint32_t kTickInstructions = 200000;

// CPU 0: the handler (before any CPU starts its timer). enabled=false: boot option
// nolapic_timer, start_cpu() then leaves the timer off.
void init(bool enabled);
bool enabled();
// This CPU: the periodic timer (needs apic::init_cpu()).
void start_cpu();
uint64_t ticks(uint32_t cpu);

}  // namespace tick
