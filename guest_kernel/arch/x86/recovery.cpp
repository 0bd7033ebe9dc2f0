#include "arch/x86/recovery.h"

#include "arch/x86/asm_defs.h"
#include "arch/x86/cpu.h"
#include "arch/x86/percpu.h"
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
constinit State g_states[percpu::kMaxCpus]{};  // per CPU: each CPU may run its own

State& me() { return g_states[percpu::cpu_id()]; }

}  // namespace

bool run(Fn fn, void* arg, uint64_t vector_mask) {
    State& st = me();
    VERIFY(!st.armed);
    st.armed = true;
    st.vector_mask = vector_mask;
    const uint64_t abandoned = call_with_recovery(&st.ctx, fn, arg);
    st.armed = false;
    return abandoned != 0;
}

bool armed() { return me().armed; }

bool armed_for(uint64_t vector) {
    const State& st = me();
    return st.armed && vector < 64 && (st.vector_mask & (1ull << vector)) != 0;
}

void resume(TrapFrame& f) {
    State& st = me();
    VERIFY(st.armed);
    const ResumeContext& c = st.ctx;
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
    st.armed = false;
}

}  // namespace x86::recovery
