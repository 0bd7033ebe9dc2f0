#include "arch/x86/irq.h"

#include "arch/x86/idt.h"
#include "arch/x86/percpu.h"
#include "kernel/panic.h"

namespace x86::irq {
namespace {

constinit Handler g_handlers[256]{};
constinit uint64_t g_count[percpu::kMaxCpus]{};

}  // namespace

void set_handler(uint8_t vector, Handler handler) {
    VERIFY(vector >= 32 && vector != idt::kSyscallGate);
    g_handlers[vector] = handler;
}

bool is_external(uint64_t vector) {
    return vector >= 32 && vector < 256 && vector != idt::kSyscallGate && g_handlers[vector] != nullptr;
}

void dispatch(const TrapFrame& frame) {
    percpu::irq_depth_inc();
    ++g_count[percpu::cpu_id()];
    g_handlers[frame.vector](frame);
    percpu::irq_depth_dec();
}

bool in_interrupt() { return percpu::irq_depth() != 0; }
uint64_t count(uint32_t cpu) { return g_count[cpu]; }

}  // namespace x86::irq
