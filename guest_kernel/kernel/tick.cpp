#include "kernel/tick.h"

#include "arch/x86/apic.h"
#include "arch/x86/irq.h"
#include "arch/x86/percpu.h"

namespace tick {
namespace {

constinit uint64_t g_ticks[x86::percpu::kMaxCpus]{};
constinit bool g_enabled = false;

void on_tick(const x86::TrapFrame&) {
    ++g_ticks[x86::percpu::cpu_id()];
    x86::apic::eoi();
}

}  // namespace

void init(bool enabled) {
    g_enabled = enabled;
    x86::irq::set_handler(x86::apic::kTimerVector, on_tick);
}

bool enabled() { return g_enabled; }

void start_cpu() {
    if (g_enabled) x86::apic::start_periodic_timer(x86::apic::kTimerVector, kTickInstructions);
}

uint64_t ticks(uint32_t cpu) { return __atomic_load_n(&g_ticks[cpu], __ATOMIC_RELAXED); }

}  // namespace tick
