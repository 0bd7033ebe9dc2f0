#include "arch/x86/recovery.h"

#include "arch/x86/asm_defs.h"
#include "arch/x86/cpu.h"
#include "kernel/panic.h"

static_assert(offsetof(x86::recovery::ResumeContext, rsp) == 48);
static_assert(offsetof(x86::recovery::ResumeContext, rip) == 56);
static_assert(offsetof(x86::recovery::ResumeContext, rflags) == 64);

namespace x86::recovery {
namespace {

struct State {
    bool armed;
    uint64_t vector_mask;
    ResumeContext ctx;
};
constinit State g_state{};

}  // namespace

bool run(Fn fn, void* arg, uint64_t vector_mask) {
    VERIFY(!g_state.armed);
    g_state.armed = true;
    g_state.vector_mask = vector_mask;
    const uint64_t abandoned = call_with_recovery(&g_state.ctx, fn, arg);
    g_state.armed = false;
    return abandoned != 0;
}

bool armed() { return g_state.armed; }

bool armed_for(uint64_t vector) {
    return g_state.armed && vector < 64 && (g_state.vector_mask & (1ull << vector)) != 0;
}

void resume(TrapFrame& f) {
    VERIFY(g_state.armed);
    const ResumeContext& c = g_state.ctx;
    f.rbx = c.rbx;
    f.rbp = c.rbp;
    f.r12 = c.r12;
    f.r13 = c.r13;
    f.r14 = c.r14;
    f.r15 = c.r15;
    f.rax = 1;
    f.rip = c.rip;
    f.rsp = c.rsp;
    f.rflags = c.rflags;
    // IRETQ to CPL0 from CPL0: SS:RSP are popped unconditionally in 64-bit mode (SDM vol. 2A,
    // IRET), so the interrupted stack (an IST stack, a user stack) is left behind.
    f.cs = KERNEL_CS;
    f.ss = KERNEL_DS;
    // A return to CPL3 nulls DS/ES when their DPL is below the new CPL (SDM vol. 2A IRET);
    // the trap stubs do not save them, so put the kernel's back.
    load_ds_es(KERNEL_DS);
    g_state.armed = false;
}

}  // namespace x86::recovery
