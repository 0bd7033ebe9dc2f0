// The local APIC in x2APIC mode (Intel SDM vol. 3A chapter 10, x2APIC: 10.12): one per CPU,
// programmed through MSRs 0x800-0x83f (asi_emu_abi.h "SMP" lists what asi-emu implements).
// No xAPIC (MMIO) mode: without x2APIC (CPUID.01H:ECX[21], e.g. QEMU's TCG) the kernel runs
// on CPU 0 alone, with no timer and no IPIs, and the tests that need them skip.
//
// Vectors (the priority class is vector[7:4], SDM 10.8.3.1; all four are in class 0xf, above
// anything else, and never nest: handlers run with IF=0):
//   0xf0  local timer: the scheduler tick (kernel/tick.h)
//   0xf1  TLB shootdown (mm/tlb_shootdown.h), like Linux's old INVALIDATE_TLB_VECTOR_START
//   0xf2  call function / wake-up (kernel/smp.h), Linux's CALL_FUNCTION_VECTOR
//   0xff  spurious: the SVR's vector (SDM 10.9), counted, never acknowledged with EOI
// IPIs use fixed delivery with a physical x2APIC destination; the x2APIC ID is the CPU
// number (asi_emu_abi.h).
#pragma once
#include <stdint.h>

namespace x86::apic {

constexpr uint8_t kTimerVector = 0xf0;
constexpr uint8_t kShootdownVector = 0xf1;
constexpr uint8_t kCallFunctionVector = 0xf2;
constexpr uint8_t kSpuriousVector = 0xff;

// CPUID reports x2APIC (detect_features() must have run).
bool available();
// This CPU: x2APIC mode (IA32_APIC_BASE.EN|EXTD), software enable with the spurious vector,
// TPR 0, every LVT entry but the timer's masked. Also registers the spurious handler.
void init_cpu();
bool enabled_on_this_cpu();

uint32_t id();
// End of interrupt for the highest-priority in-service vector (SDM 10.8.5).
void eoi();

void send_ipi(uint32_t apic_id, uint8_t vector);
void send_ipi_all_but_self(uint8_t vector);
void send_ipi_self(uint8_t vector);  // the SELF IPI register (SDM 10.12.11)

// Periodic timer: the vector every `count` timer ticks at divide-by-1 (SDM 10.5.4). On
// asi-emu one tick is one guest instruction of this CPU (or one unit of halted time).
void start_periodic_timer(uint8_t vector, uint32_t count);
// One-shot: the vector once, after `count` ticks.
void start_oneshot_timer(uint8_t vector, uint32_t count);
void stop_timer();
uint32_t timer_current_count();

uint64_t spurious_interrupts(uint32_t cpu);

}  // namespace x86::apic
