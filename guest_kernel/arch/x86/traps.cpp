#include "arch/x86/traps.h"

#include "abi/asi_emu_abi.h"
#include "arch/x86/cpu.h"
#include "arch/x86/idt.h"
#include "arch/x86/irq.h"
#include "arch/x86/percpu.h"
#include "arch/x86/probe.h"
#include "arch/x86/recovery.h"
#include "drivers/debug_exit.h"
#include "kernel/image.h"
#include "lib/printf.h"
#include "mm/asi/asi.h"

namespace x86::traps {
namespace {

constinit UserTrapHook g_user_hook = nullptr;
constinit bool g_in_oops = false;

// Exceptions an exception-table fixup may apply to: faults raised by the instruction at RIP.
// Not NMI (an interrupt), #DF (RIP undefined, SDM vol. 3A 6.15 "Interrupt 8") or #MC (abort).
bool fixable(uint64_t vector) {
    return vector < 32 && vector != idt::kNmi && vector != idt::kDoubleFault &&
           vector != idt::kMachineCheck;
}

void print_error_code(uint64_t vector, uint64_t err) {
    if (vector == idt::kPageFault) {
        // #PF error code (SDM vol. 3A 4.7, figure 4-12).
        kprintf(" [%s%s%s%s%s%s%s]", (err & 1) ? "P" : "not-present", (err & 2) ? " W" : " R",
                (err & 4) ? " U" : " S", (err & 8) ? " RSVD" : "", (err & 16) ? " I/D" : "",
                (err & 32) ? " PK" : "", (err & 64) ? " SS" : "");
    } else if ((vector >= idt::kInvalidTss && vector <= idt::kGeneralProtection) && err != 0) {
        // Selector error code (SDM vol. 3A 6.13, figure 6-6): EXT, IDT, TI, index.
        kprintf(" [%s index %lu%s]", (err & 2) ? "IDT" : ((err & 4) ? "LDT" : "GDT"), err >> 3,
                (err & 1) ? " EXT" : "");
    }
}

void print_call_trace(uint64_t rbp) {
    kprintf("Call Trace (RBP chain):\n");
    for (int depth = 0; depth < 16 && rbp != 0 && (rbp & 7) == 0; ++depth) {
        uint64_t next = 0;
        uint64_t ret = 0;
        // The chain may be corrupt: read it through the probe helpers, which cannot oops.
        if (!probe_read_u64(rbp, &next) || !probe_read_u64(rbp + 8, &ret)) break;
        kprintf("  [<%016lx>]%s\n", ret, image::contains(ret) ? "" : " (outside the image)");
        if (next <= rbp) break;
        rbp = next;
    }
}

}  // namespace

void set_user_trap_hook(UserTrapHook hook) { g_user_hook = hook; }

ExceptionRecord record_of(const TrapFrame& f, uint64_t cr2) {
    return ExceptionRecord{f.vector, f.error_code, cr2,    f.rip,
                           f.cs,     f.rflags,     f.rsp,  f.ss,
                           reinterpret_cast<uint64_t>(&f)};
}

void handle_user_trap(TrapFrame& f, const ExceptionRecord& rec) {
    if (g_user_hook == nullptr) oops(f, rec.cr2, "trap from user mode with no user context");
    switch (g_user_hook(f, rec)) {
        case UserTrapAction::kReturnToUser:
            asi::prepare_return_to_user();
            return;
        case UserTrapAction::kAbandon:
            if (!recovery::armed()) oops(f, rec.cr2, "user context abandoned with nothing to resume");
            recovery::resume(f);
            return;
    }
}

void oops(const TrapFrame& f, uint64_t cr2, const char* reason) {
    cli();
    // One report: a second oops (a fault while reporting, or another CPU) just ends the run.
    if (__atomic_exchange_n(&g_in_oops, true, __ATOMIC_ACQ_REL)) debug_exit::exit(asi_abi::kGuestExitFailure);
    console_bust();
    kprintf("------------[ cut here ]------------\n");
    kprintf("Oops: %s (vector %lu) error_code=%#lx", idt::vector_name(f.vector), f.vector,
            f.error_code);
    print_error_code(f.vector, f.error_code);
    kprintf(" CPL %lu CPU %u\n", f.cs & 3, percpu::cpu_id());
    kprintf("RIP: %04lx:%016lx RFLAGS: %016lx\n", f.cs, f.rip, f.rflags);
    kprintf("RSP: %04lx:%016lx (handler stack %p)\n", f.ss, f.rsp, static_cast<const void*>(&f));
    kprintf("CR0: %016lx CR2: %016lx CR3: %016lx CR4: %016lx\n", read_cr0(), cr2, read_cr3(),
            read_cr4());
    kprintf("RAX: %016lx RBX: %016lx RCX: %016lx\n", f.rax, f.rbx, f.rcx);
    kprintf("RDX: %016lx RSI: %016lx RDI: %016lx\n", f.rdx, f.rsi, f.rdi);
    kprintf("RBP: %016lx R08: %016lx R09: %016lx\n", f.rbp, f.r8, f.r9);
    kprintf("R10: %016lx R11: %016lx R12: %016lx\n", f.r10, f.r11, f.r12);
    kprintf("R13: %016lx R14: %016lx R15: %016lx\n", f.r13, f.r14, f.r15);
    if (!f.from_user()) print_call_trace(f.rbp);
    kprintf("---[ end trace ]---\n");
    kprintf("Kernel panic - not syncing: %s\n", reason);
    debug_exit::exit(asi_abi::kGuestExitFailure);
}

}  // namespace x86::traps

extern "C" void trap_dispatch(x86::TrapFrame* frame) {
    using namespace x86;
    // CR2 first: any later #PF (even one that is fixed up) would overwrite it.
    const uint64_t cr2 = read_cr2();
    TrapFrame& f = *frame;
    const ExceptionRecord rec = traps::record_of(f, cr2);

    // The local APIC's interrupts, from any mode (user mode runs with IF=0 today). ASI: a
    // handler that leaves the restricted space (a #PF exit) while the interrupted code was in
    // an ASI critical section re-enters it on the way out (2022 RFC, asi_intr_exit).
    if (irq::is_external(f.vector)) {
        const asi::State before = asi::state();
        irq::dispatch(f);
        asi::restore_after_interrupt(before);
        if (f.from_user()) asi::prepare_return_to_user();
        return;
    }
    if (f.from_user()) {
        traps::handle_user_trap(f, rec);
        return;
    }
    // ASI: a fault on memory only the unrestricted space maps leaves the restricted space
    // and retries the access, before any fixup sees it (a probe of such memory succeeds).
    if (f.vector == idt::kPageFault && asi::handle_page_fault(f, cr2)) return;
    if (traps::fixable(f.vector)) {
        if (const extable::Entry* e = extable::search(f.rip)) {
            extable::note_exception(rec);
            f.rip = e->fixup;
            return;
        }
    }
    if (recovery::armed_for(f.vector)) {
        extable::note_exception(rec);
        recovery::resume(f);
        return;
    }
    // #BP is a trap: RIP already points after the int3, so returning resumes execution.
    if (f.vector == idt::kBreakpoint && extable::expecting()) {
        extable::note_exception(rec);
        return;
    }
    traps::oops(f, cr2, f.vector < 32 ? "unexpected exception in kernel mode"
                                      : "unexpected interrupt");
}
