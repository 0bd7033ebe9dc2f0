// CPL3 round trip: IRETQ into a user page, SYSCALL (SDM vol. 3A 5.8.8) and back with IRETQ,
// INT 0x80 through a DPL3 interrupt gate with the stack switch to TSS.RSP0 (6.14.4/6.14.5),
// and a user read of a supervisor-only page: #PF with error code P|U (4.6.1, 4.7). The kernel
// then abandons the user context and the harness carries on.
#include "arch/x86/asm_defs.h"
#include "arch/x86/cpu.h"
#include "arch/x86/idt.h"
#include "arch/x86/recovery.h"
#include "arch/x86/syscall.h"
#include "arch/x86/traps.h"
#include "arch/x86/tss.h"
#include "lib/string.h"
#include "mm/asi/asi.h"
#include "mm/early_frame_allocator.h"
#include "mm/kernel_mappings.h"
#include "mm/kernel_va.h"
#include "test/tests.h"

extern "C" const char user_program_start[], user_program_end[];
extern "C" const uint64_t user_program_offsets[3];  // after syscall, after int 0x80, faulting load

namespace tests {
namespace {

using x86::TrapFrame;
using x86::traps::UserTrapAction;

constexpr uint64_t kSyscallNumber = 0x5157;  // RAX in test_helpers.S
constexpr uint64_t kSyscallArg = 0x1111;     // RDI
constexpr uint64_t kSyscallResult = 0x600d;
constexpr uint64_t kSupervisorPageOffset = 0x2000;  // USER_SUPERVISOR_PAGE_OFFSET

struct UserRun {
    int stage;  // 0: expect SYSCALL, 1: expect INT 0x80, 2: expect #PF, 3: done
    TrapFrame syscall_frame;
    TrapFrame int80_frame;
    x86::ExceptionRecord int80;
    x86::ExceptionRecord fault;
    x86::ExceptionRecord unexpected;
    uint16_t handler_cs;
    bool unexpected_seen;
};
constinit UserRun g_run{};

UserTrapAction on_user_trap(TrapFrame& f, const x86::ExceptionRecord& rec) {
    g_run.handler_cs = x86::read_cs();
    if (g_run.stage == 0 && f.vector == SYSCALL_FRAME_VECTOR) {
        g_run.syscall_frame = f;
        f.rax = kSyscallResult;
        g_run.stage = 1;
        return UserTrapAction::kReturnToUser;
    }
    if (g_run.stage == 1 && f.vector == x86::idt::kSyscallGate) {
        g_run.int80_frame = f;
        g_run.int80 = rec;
        g_run.stage = 2;
        return UserTrapAction::kReturnToUser;
    }
    if (g_run.stage == 2 && f.vector == x86::idt::kPageFault) {
        g_run.fault = rec;
        g_run.stage = 3;
        return UserTrapAction::kAbandon;
    }
    g_run.unexpected = rec;
    g_run.unexpected_seen = true;
    return UserTrapAction::kAbandon;
}

struct Entry {
    uint64_t rip;
    uint64_t rsp;
};

void enter(void* arg) {
    const Entry* e = static_cast<const Entry*>(arg);
    asi::prepare_return_to_user();
    enter_user(e->rip, e->rsp);
}

}  // namespace

void user_mode(ktap::Test& t) {
    if (!x86::syscall::enabled()) return t.skip("CPU has no SYSCALL");
    const uint64_t size = static_cast<uint64_t>(user_program_end - user_program_start);
    if (!KT_EXPECT(t, size <= mm::pte::k4K)) return;

    // [code (U, RO, X)][stack (U, RW, NX)][supervisor-only (S, RO, NX)] at a user VA above RAM.
    const uint64_t base = mm::user_test_range().allocate(3);
    const uint64_t code = mm::allocate_zeroed_frame();
    const uint64_t stack = mm::allocate_zeroed_frame();
    const uint64_t secret = mm::allocate_zeroed_frame();
    memcpy(mm::phys_to_virt(code), user_program_start, size);
    *static_cast<uint64_t*>(mm::phys_to_virt(secret)) = 0x5ec2e75ec2e7;
    mm::KernelPageTable& pt = mm::kernel_page_table();
    const uint64_t nx = mm::nx_flag();
    const mm::MapError errors[] = {
        pt.map_4k(base, code, mm::pte::kUser),
        pt.map_4k(base + 0x1000, stack, mm::pte::kUser | mm::pte::kWritable | nx),
        pt.map_4k(base + kSupervisorPageOffset, secret, nx),
    };
    for (mm::MapError e : errors) {
        if (e != mm::MapError::kOk) return t.fail("mapping user pages: %s", mm::map_error_name(e));
    }
    const uint64_t stack_top = base + 0x2000;
    t.diag("user code page %#lx, stack page %#lx, supervisor-only page %#lx", base,
           base + 0x1000, base + kSupervisorPageOffset);

    g_run = UserRun{};
    x86::traps::set_user_trap_hook(on_user_trap);
    Entry entry{base, stack_top};
    const bool abandoned = x86::recovery::run(enter, &entry, 0);
    x86::traps::set_user_trap_hook(nullptr);

    KT_EXPECT(t, abandoned);
    KT_EXPECT_EQ(t, x86::read_cs(), KERNEL_CS);
    KT_EXPECT_EQ(t, x86::read_ds(), KERNEL_DS);
    if (g_run.unexpected_seen)
        t.fail("unexpected trap at stage %d: vector %lu error %#lx rip %#lx cr2 %#lx", g_run.stage,
               g_run.unexpected.vector, g_run.unexpected.error_code, g_run.unexpected.rip,
               g_run.unexpected.cr2);
    KT_EXPECT_EQ(t, g_run.stage, 3);
    KT_EXPECT_EQ(t, g_run.handler_cs, KERNEL_CS);

    // SYSCALL: RCX = return RIP, R11 = user RFLAGS, RSP untouched (SDM 5.8.8).
    const TrapFrame& s = g_run.syscall_frame;
    KT_EXPECT_EQ(t, s.rax, kSyscallNumber);
    KT_EXPECT_EQ(t, s.rdi, kSyscallArg);
    KT_EXPECT_EQ(t, s.rcx, base + user_program_offsets[0]);
    KT_EXPECT_EQ(t, s.rip, base + user_program_offsets[0]);
    KT_EXPECT_EQ(t, s.r11 & ~0x10000ull, 0x2u);  // the user's RFLAGS (RF may be set)
    KT_EXPECT_EQ(t, s.rsp, stack_top);

    // INT 0x80: the CPU's frame shows CPL3 (CS and SS with RPL 3), the next RIP, the user RSP;
    // the handler runs on TSS.RSP0's stack. RSI carries the SYSCALL's return value.
    const TrapFrame& i = g_run.int80_frame;
    KT_EXPECT_EQ(t, i.cs, USER_CS);
    KT_EXPECT_EQ(t, i.ss, USER_DS);
    KT_EXPECT_EQ(t, i.rip, base + user_program_offsets[1]);
    KT_EXPECT_EQ(t, i.rsp, stack_top);
    KT_EXPECT_EQ(t, i.rsi, kSyscallResult);
    KT_EXPECT(t, x86::tss::entry_stack().contains(g_run.int80.handler_rsp));

    // #PF: P=1 (the page is present), W/R=0, U/S=1 → error code 5.
    const x86::ExceptionRecord& pf = g_run.fault;
    KT_EXPECT_EQ(t, pf.vector, x86::idt::kPageFault);
    KT_EXPECT_EQ(t, pf.error_code, 5u);
    KT_EXPECT_EQ(t, pf.cr2, base + kSupervisorPageOffset);
    KT_EXPECT_EQ(t, pf.rip, base + user_program_offsets[2]);
    KT_EXPECT_EQ(t, pf.cs, USER_CS);
    KT_EXPECT(t, x86::tss::entry_stack().contains(pf.handler_rsp));

    // Tear down: present -> not present requires invalidation (SDM 4.10.4.2).
    for (uint64_t va = base; va < base + 3 * mm::pte::k4K; va += mm::pte::k4K) {
        pt.unmap_4k(va);
        x86::invlpg(va);
    }
}

}  // namespace tests
