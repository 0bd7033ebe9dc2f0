// External interrupts (IDT vectors 32-255 other than the INT 0x80 gate): the local APIC's
// timer and inter-processor interrupts. trap_dispatch() hands them here; each vector has at
// most one handler, registered at boot before the source is enabled.
//
// Handlers run on the interrupted stack (or TSS.RSP0 from user mode) with IF=0: every IDT
// gate is an interrupt gate (SDM vol. 3A 6.8.1, 6.12.1.3), and no handler re-enables
// interrupts, so handlers never nest. A handler must not take a lock that process context
// holds with interrupts enabled (none does: locks are taken with IF=0, lib/spinlock.h), must
// not wait for another CPU, and acknowledges its vector with apic::eoi() itself (the
// spurious vector needs none, SDM vol. 3A 10.9).
#pragma once
#include <stdint.h>

#include "arch/x86/trap_frame.h"

namespace x86::irq {

using Handler = void (*)(const TrapFrame& frame);

void set_handler(uint8_t vector, Handler handler);
// Whether trap_dispatch should route this vector here (an external vector with a handler).
bool is_external(uint64_t vector);
// Runs the handler with this CPU's irq_depth raised (arch/x86/percpu.h).
void dispatch(const TrapFrame& frame);

bool in_interrupt();
// Interrupts this CPU has taken (all vectors routed here).
uint64_t count(uint32_t cpu);

}  // namespace x86::irq
