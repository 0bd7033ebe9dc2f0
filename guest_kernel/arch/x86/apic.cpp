#include "arch/x86/apic.h"

#include "abi/asi_emu_abi.h"
#include "arch/x86/cpu.h"
#include "arch/x86/cpu_features.h"
#include "arch/x86/irq.h"
#include "arch/x86/percpu.h"
#include "kernel/panic.h"

namespace x86::apic {
namespace {

using namespace asi_abi;

constinit bool g_enabled[percpu::kMaxCpus]{};
constinit uint64_t g_spurious[percpu::kMaxCpus]{};

// Divide configuration register value 1011b: divide by 1 (SDM 10.5.4, figure 10-10).
constexpr uint64_t kDivideBy1 = 0xb;

// ICR (SDM 10.12.9): vector, delivery mode 000 (fixed), level assert, shorthand, and in
// x2APIC mode the 32-bit destination in bits 63:32. A single WRMSR sends it (no delivery
// status bit to poll in x2APIC mode, 10.12.9).
void write_icr(uint64_t shorthand, uint32_t destination, uint8_t vector) {
    VERIFY(g_enabled[percpu::cpu_id()]);
    wrmsr(kMsrX2apicIcr, (uint64_t(destination) << 32) | shorthand | kIcrLevelAssert | vector);
}

void spurious(const TrapFrame&) { ++g_spurious[percpu::cpu_id()]; }

}  // namespace

bool available() { return features().x2apic; }

void init_cpu() {
    VERIFY(available());
    // xAPIC -> x2APIC: EN and EXTD set together (SDM 10.12.5, figure 10-27).
    wrmsr(kMsrApicBase, rdmsr(kMsrApicBase) | kApicBaseEnable | kApicBaseExtd);
    wrmsr(kMsrX2apicTpr, 0);  // accept every priority class
    // Everything but the timer stays masked: no LINT0/LINT1 (no 8259 PIC here), no thermal,
    // performance-counter or error interrupts.
    constexpr uint32_t kLvts[] = {kMsrX2apicLvtThermal, kMsrX2apicLvtPmi, kMsrX2apicLvtLint0,
                                  kMsrX2apicLvtLint1,   kMsrX2apicLvtError, kMsrX2apicLvtTimer};
    for (uint32_t msr : kLvts) wrmsr(msr, kApicLvtMasked);
    irq::set_handler(kSpuriousVector, spurious);
    wrmsr(kMsrX2apicSvr, kApicSvrEnable | kSpuriousVector);  // software enable (10.9)
    g_enabled[percpu::cpu_id()] = true;
}

bool enabled_on_this_cpu() { return g_enabled[percpu::cpu_id()]; }

uint32_t id() { return static_cast<uint32_t>(rdmsr(kMsrX2apicId)); }

// SDM 10.12.1.2: a write of a non-zero value to the x2APIC EOI register raises #GP.
void eoi() { wrmsr(kMsrX2apicEoi, 0); }

void send_ipi(uint32_t apic_id, uint8_t vector) { write_icr(kIcrShorthandNone, apic_id, vector); }
void send_ipi_all_but_self(uint8_t vector) { write_icr(kIcrShorthandOthers, 0, vector); }
void send_ipi_self(uint8_t vector) {
    VERIFY(g_enabled[percpu::cpu_id()]);
    wrmsr(kMsrX2apicSelfIpi, vector);
}

void start_periodic_timer(uint8_t vector, uint32_t count) {
    // Program mode and divider before the initial count: writing the count starts it.
    wrmsr(kMsrX2apicDivide, kDivideBy1);
    wrmsr(kMsrX2apicLvtTimer, vector | kApicLvtTimerPeriodic);
    wrmsr(kMsrX2apicInitCount, count);
}

void start_oneshot_timer(uint8_t vector, uint32_t count) {
    wrmsr(kMsrX2apicDivide, kDivideBy1);
    wrmsr(kMsrX2apicLvtTimer, vector);
    wrmsr(kMsrX2apicInitCount, count);
}

void stop_timer() {
    wrmsr(kMsrX2apicInitCount, 0);  // a zero initial count stops the timer (10.5.4)
    wrmsr(kMsrX2apicLvtTimer, kApicLvtMasked);
}

uint32_t timer_current_count() { return static_cast<uint32_t>(rdmsr(kMsrX2apicCurCount)); }

uint64_t spurious_interrupts(uint32_t cpu) { return g_spurious[cpu]; }

}  // namespace x86::apic
