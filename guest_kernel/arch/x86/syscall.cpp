#include "arch/x86/syscall.h"

#include "arch/x86/asm_defs.h"
#include "arch/x86/cpu.h"
#include "arch/x86/cpu_features.h"
#include "arch/x86/percpu.h"
#include "arch/x86/traps.h"
#include "arch/x86/tss.h"

namespace x86::syscall {
namespace {

constinit bool g_enabled = false;

// STAR (SDM vol. 3A 5.8.8): [47:32] SYSCALL CS (SS = +8); [63:48] SYSRET base: 64-bit SYSRET
// loads CS = base + 16 and SS = base + 8, both with RPL 3. Base 0x10 gives CS 0x23, SS 0x1b.
constexpr uint64_t kSysretBase = KERNEL_DS;
static_assert(KERNEL_DS == KERNEL_CS + 8, "SYSCALL loads SS = STAR[47:32] + 8");
static_assert(USER_DS == ((kSysretBase + 8) | 3) && USER_CS == ((kSysretBase + 16) | 3));
constexpr uint64_t kStar = (kSysretBase << 48) | (uint64_t(KERNEL_CS) << 32);

}  // namespace

void init() {
    percpu::header().syscall_kernel_rsp = tss::entry_stack().top;
    if (!features().syscall) return;
    wrmsr(kMsrStar, kStar);
    wrmsr(kMsrLstar, reinterpret_cast<uint64_t>(&syscall_entry));
    wrmsr(kMsrFmask, kFmask);
    wrmsr(kMsrEfer, rdmsr(kMsrEfer) | kEferSce);
    g_enabled = true;
}

bool enabled() { return g_enabled; }

}  // namespace x86::syscall

extern "C" void syscall_dispatch(x86::TrapFrame* frame) {
    using namespace x86;
    const ExceptionRecord rec = traps::record_of(*frame, 0);
    // No system calls are defined yet: a test that runs user code decides through its hook.
    traps::handle_user_trap(*frame, rec);
}
