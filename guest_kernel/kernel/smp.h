// Symmetric multiprocessing: the CPUs asi-emu gives the machine (--smp N, asi_emu_abi.h
// "SMP"), their bring-up, and the ways CPUs wait for and ask each other.
//
// Bring-up: every vCPU starts at kernel_entry64; CPU 0 (the BSP) boots the kernel, then
// start_secondary_cpus() gives each application processor (AP) its stacks and releases them
// all (boot/entry64.S). An AP loads the kernel's CR3, GDT/TSS of its own, the shared IDT,
// CR0/CR4/EFER as the BSP set them, its SYSCALL MSRs, enables its x2APIC and its tick, marks
// itself online and enters the idle loop, where it runs work the BSP posts (run_on/post).
// Without x2APIC (QEMU's TCG) the APs are never released: the kernel runs on CPU 0.
//
// Interrupts: kernel code runs with IF=0. Interrupts are taken only in interrupt windows:
//   * between workload operations (kernel/workload_hooks.h);
//   * in every wait for another CPU (wait_relax: `sti; pause; cli`), so that two CPUs
//     waiting for each other's IPIs both make progress;
//   * while spinning for a spinlock the caller took with interrupts enabled (lib/spinlock.h);
//   * in the idle loop (`sti; hlt`), woken by the tick or an IPI.
// Rule for every wait for another CPU (checked): not in an interrupt handler, and no spinlock
// held. A CPU spinning for a lock with IF=0 therefore never blocks a CPU that waits for it.
//
// Per-CPU data: GS.base (arch/x86/percpu.h); this_cpu() is one load.
#pragma once
#include <stdint.h>

#include "arch/x86/percpu.h"

namespace smp {

constexpr uint32_t kMaxCpus = x86::percpu::kMaxCpus;

inline uint32_t this_cpu() { return x86::percpu::cpu_id(); }
// CPUs in the machine (BootInfo.cpu_count), online or not.
uint32_t cpu_count();
uint64_t online_mask();
uint32_t online_count();
bool is_online(uint32_t cpu);
constexpr uint64_t cpu_bit(uint32_t cpu) { return 1ull << cpu; }

// CPU 0, once the kernel address space and the allocator exist: x2APIC, IPI handlers, tick
// (unless `tick` is false: boot option nolapic_timer).
void init_boot_cpu(bool tick);
// CPU 0: allocates the APs' stacks, releases them and waits until all are online.
void start_secondary_cpus();

// Checks the waiting rule above (panics when broken).
void assert_may_wait();
// One step of a wait for another CPU: PAUSE with an interrupt window when IF=0.
void wait_relax();

using Fn = void (*)(void* arg);
// Runs fn(arg) on `cpu` in process context (its idle loop) and waits for it to return.
void run_on(uint32_t cpu, Fn fn, void* arg);
// The same in two steps: post, then wait_done. One item per CPU at a time.
void post(uint32_t cpu, Fn fn, void* arg);
void wait_done(uint32_t cpu);
// Runs fn(arg) on every other online CPU (in turn) and waits for each.
void run_on_others(Fn fn, void* arg);

// Runs fn(arg) on `cpu` in interrupt context (the call-function IPI; Linux's
// smp_call_function_single with wait=1) and waits; on this CPU: directly, IF=0. fn must not
// wait for other CPUs or take a lock the target may hold.
void call_function(uint32_t cpu, Fn fn, void* arg);

// The idle loop: runs posted work, otherwise `sti; hlt` until an interrupt.
[[noreturn]] void idle_loop();

// All online CPUs meet: the last to arrive releases the others.
class Barrier {
public:
    void wait();  // n = online_count() at the time of the call

private:
    uint32_t count_ = 0;
    uint32_t generation_ = 0;
};

struct CpuStats {
    uint64_t work_items = 0;         // run_on/post items run
    uint64_t call_function_ipis = 0; // call-function / wake-up IPIs handled
};
const CpuStats& stats(uint32_t cpu);

}  // namespace smp

extern "C" [[noreturn]] void ap_main(uint32_t cpu);
