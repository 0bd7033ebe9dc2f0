#include "kernel/smp.h"

#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/cpu_features.h"
#include "arch/x86/gdt.h"
#include "arch/x86/idt.h"
#include "arch/x86/irq.h"
#include "arch/x86/syscall.h"
#include "arch/x86/tss.h"
#include "boot/boot_info.h"
#include "kernel/panic.h"
#include "kernel/tick.h"
#include "lib/printf.h"
#include "mm/asi/asi.h"
#include "mm/kernel_mappings.h"
#include "mm/kernel_page_allocator.h"
#include "mm/pte.h"
#include "mm/tlb_shootdown.h"

// Read by boot/entry64.S's AP path: written by CPU 0 before it sets ap_release.
extern "C" {
constinit uint32_t ap_release = 0;
constinit uint32_t ap_boot_nxe = 0;
constinit uint64_t ap_boot_cr3 = 0;
constinit uint64_t ap_boot_stack_top[smp::kMaxCpus] = {};
}

namespace smp {
namespace {

// An AP's stacks: one order-5 block (128 KiB) from the page allocator, nonsensitive (the CPU
// uses them while restricted): its kernel stack (64 KiB, twice CPU 0's boot stack: the
// workload and the interrupt frames of its windows run there), then its TSS's three.
constexpr uint32_t kApStackOrder = 5;
constexpr uint64_t kApKernelStack = 64 * 1024;
static_assert(kApKernelStack + 3 * x86::tss::kStackSize <= (mm::pte::k4K << kApStackOrder));

constinit uint64_t g_online = 0;
constinit x86::tss::CpuStacks g_ap_stacks[kMaxCpus]{};

// run_on / post: one item per CPU, run by its idle loop.
struct Work {
    Fn fn;
    void* arg;
    uint64_t posted;
    uint64_t done;
};
constinit Work g_work[kMaxCpus]{};

// call_function: one caller per target at a time (claimed), run by the IPI handler.
struct Call {
    Fn fn;
    void* arg;
    uint32_t claimed;
    uint64_t requested;
    uint64_t completed;
};
constinit Call g_call[kMaxCpus]{};

constinit CpuStats g_stats[kMaxCpus]{};

void mark_online(uint32_t cpu) { __atomic_fetch_or(&g_online, cpu_bit(cpu), __ATOMIC_SEQ_CST); }

// The call-function / wake-up vector: runs a pending call_function(); a posted work item is
// picked up by the idle loop once this returns (the IPI only ended its HLT).
void on_call_function_ipi(const x86::TrapFrame&) {
    const uint32_t cpu = this_cpu();
    ++g_stats[cpu].call_function_ipis;
    Call& c = g_call[cpu];
    const uint64_t requested = __atomic_load_n(&c.requested, __ATOMIC_ACQUIRE);
    if (requested != c.completed) {
        c.fn(c.arg);
        __atomic_store_n(&c.completed, requested, __ATOMIC_RELEASE);
    }
    x86::apic::eoi();
}

// One posted item, if any; IF=0.
bool run_posted_work(uint32_t cpu) {
    Work& w = g_work[cpu];
    const uint64_t posted = __atomic_load_n(&w.posted, __ATOMIC_ACQUIRE);
    if (posted == w.done) return false;
    w.fn(w.arg);
    ++g_stats[cpu].work_items;
    __atomic_store_n(&w.done, posted, __ATOMIC_RELEASE);
    return true;
}

}  // namespace

uint32_t cpu_count() { return boot::info().cpu_count; }
uint64_t online_mask() { return __atomic_load_n(&g_online, __ATOMIC_SEQ_CST); }
uint32_t online_count() { return static_cast<uint32_t>(__builtin_popcountll(online_mask())); }
bool is_online(uint32_t cpu) { return cpu < kMaxCpus && (online_mask() & cpu_bit(cpu)) != 0; }
const CpuStats& stats(uint32_t cpu) { return g_stats[cpu]; }

void init_boot_cpu(bool with_tick) {
    VERIFY(this_cpu() == 0);
    if (x86::apic::available()) {
        x86::irq::set_handler(x86::apic::kCallFunctionVector, on_call_function_ipi);
        mm::tlb::shootdown_init();
        tick::init(with_tick);
        x86::apic::init_cpu();
        VERIFY(x86::apic::id() == 0);
        tick::start_cpu();
    }
    mark_online(0);
}

void start_secondary_cpus() {
    const uint32_t n = cpu_count();
    if (n == 1) return;
    VERIFY(n <= kMaxCpus);
    if (!x86::apic::available()) {
        kprintf("asi-guest: %u CPUs but no x2APIC (CPUID.01H:ECX[21]): running on CPU 0 only\n", n);
        return;
    }
    for (uint32_t cpu = 1; cpu < n; ++cpu) {
        const uint64_t pa = mm::alloc_pages(kApStackOrder, page_alloc::GFP_KERNEL);
        if (pa == 0) panic("SMP: no memory for CPU %u's stacks", cpu);
        const uint64_t base = mm::direct_map_va(pa);
        auto range = [&](uint64_t i) {
            const uint64_t bottom = base + kApKernelStack + i * x86::tss::kStackSize;
            return x86::StackRange{bottom, bottom + x86::tss::kStackSize};
        };
        g_ap_stacks[cpu] = x86::tss::CpuStacks{range(0), range(1), range(2)};
        ap_boot_stack_top[cpu] = base + kApKernelStack;
    }
    ap_boot_cr3 = mm::kernel_root();  // PCID 0: the AP turns CR4.PCIDE on itself
    ap_boot_nxe = mm::nx_flag() != 0;
    // Release: the stores above are visible before this one (x86 keeps stores in order).
    __atomic_store_n(&ap_release, 1, __ATOMIC_RELEASE);
    // Bring-up is serialised: nothing issues a TLB shootdown until every AP is online, so an
    // AP's first (flushing) CR3 loads cannot miss a page-table change.
    while (online_count() != n) wait_relax();
}

extern "C" void ap_main(uint32_t cpu) {
    x86::idt::load();
    x86::tss::init_cpu(cpu, g_ap_stacks[cpu]);
    x86::gdt::init_cpu(cpu);
    mm::activate_kernel_address_space_on_ap();
    x86::syscall::init();
    asi::init_cpu();
    x86::apic::init_cpu();
    VERIFY(x86::apic::id() == cpu);
    tick::start_cpu();
    mark_online(cpu);
    idle_loop();
}

void idle_loop() {
    const uint32_t cpu = this_cpu();
    for (;;) {
        x86::cli();
        if (run_posted_work(cpu)) continue;
        // Checked with IF=0, then `sti; hlt`: an IPI sent after the check is pending when HLT
        // executes and wakes it (no lost wake-up).
        x86::safe_halt();
    }
}

void assert_may_wait() {
    if (x86::irq::in_interrupt()) panic("waiting for another CPU in an interrupt handler");
    if (x86::percpu::lock_depth() != 0)
        panic("waiting for another CPU with %u spinlock(s) held", x86::percpu::lock_depth());
}

void wait_relax() {
    assert_may_wait();
    if (x86::interrupts_enabled()) x86::pause();
    else x86::pause_with_interrupts();
}

void post(uint32_t cpu, Fn fn, void* arg) {
    VERIFY(cpu != this_cpu() && is_online(cpu));
    Work& w = g_work[cpu];
    VERIFY(__atomic_load_n(&w.done, __ATOMIC_ACQUIRE) == w.posted);  // the previous item finished
    w.fn = fn;
    w.arg = arg;
    __atomic_store_n(&w.posted, w.posted + 1, __ATOMIC_RELEASE);
    x86::apic::send_ipi(cpu, x86::apic::kCallFunctionVector);  // wakes its HLT
}

void wait_done(uint32_t cpu) {
    Work& w = g_work[cpu];
    while (__atomic_load_n(&w.done, __ATOMIC_ACQUIRE) != w.posted) wait_relax();
}

void run_on(uint32_t cpu, Fn fn, void* arg) {
    post(cpu, fn, arg);
    wait_done(cpu);
}

void run_on_others(Fn fn, void* arg) {
    const uint64_t others = online_mask() & ~cpu_bit(this_cpu());
    for (uint32_t cpu = 0; cpu < kMaxCpus; ++cpu)
        if (others & cpu_bit(cpu)) run_on(cpu, fn, arg);
}

void call_function(uint32_t cpu, Fn fn, void* arg) {
    assert_may_wait();
    if (cpu == this_cpu()) {
        const uint64_t flags = x86::irq_save();
        fn(arg);
        x86::irq_restore(flags);
        return;
    }
    VERIFY(is_online(cpu));
    Call& c = g_call[cpu];
    while (__atomic_exchange_n(&c.claimed, 1u, __ATOMIC_ACQUIRE) != 0) wait_relax();
    c.fn = fn;
    c.arg = arg;
    const uint64_t seq = c.requested + 1;
    __atomic_store_n(&c.requested, seq, __ATOMIC_RELEASE);
    x86::apic::send_ipi(cpu, x86::apic::kCallFunctionVector);
    while (__atomic_load_n(&c.completed, __ATOMIC_ACQUIRE) != seq) wait_relax();
    __atomic_store_n(&c.claimed, 0u, __ATOMIC_RELEASE);
}

void Barrier::wait() {
    const uint32_t n = online_count();
    const uint32_t gen = __atomic_load_n(&generation_, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&count_, 1, __ATOMIC_ACQ_REL) == n) {
        __atomic_store_n(&count_, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&generation_, gen + 1, __ATOMIC_RELEASE);  // after the reset
        return;
    }
    while (__atomic_load_n(&generation_, __ATOMIC_ACQUIRE) == gen) wait_relax();
}

}  // namespace smp
