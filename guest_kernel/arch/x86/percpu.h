// Per-CPU data: every CPU's GS.base (IA32_GS_BASE, SDM vol. 3A 3.4.4) points at its own
// 64-byte Header in percpu_headers[], so `mov %gs:off` reaches this CPU's copy in one
// instruction, as Linux's this_cpu_read() does. The entry code sets GS.base before the first
// line of C++ runs on a CPU (boot/entry64.S), so every function may use cpu_id().
//
// User mode gets its own GS.base: SWAPGS (SDM vol. 2B) exchanges GS.base and
// IA32_KERNEL_GS_BASE on every entry from CPL3 and before every IRETQ to CPL3 (trap_entry.S,
// syscall_entry.S), so kernel code always runs with the kernel's value whatever user code
// loads into GS. No NMI is ever raised in this kernel (the entry path would otherwise need
// Linux's "paranoid" GS check).
//
// Subsystems keep their own per-CPU arrays indexed by cpu_id() (Linux's DEFINE_PER_CPU);
// the Header holds only what assembly needs at fixed offsets and the two depth counters
// every wait checks (kernel/smp.h).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/asm_defs.h"

namespace x86::percpu {

constexpr uint32_t kMaxCpus = MAX_CPUS;

struct alignas(64) Header {
    Header* self;                 // PERCPU_SELF
    uint32_t cpu_id;              // PERCPU_CPU_ID: = the x2APIC ID = BootInfo.cpu_id
    uint32_t lock_depth;          // PERCPU_LOCK_DEPTH: spinlocks this CPU holds (lib/spinlock.h)
    uint32_t irq_depth;           // PERCPU_IRQ_DEPTH: nesting of external-interrupt handlers
    uint32_t reserved;
    uint64_t syscall_user_rsp;    // PERCPU_USER_RSP: the user RSP during SYSCALL's stack switch
    uint64_t syscall_kernel_rsp;  // PERCPU_KERNEL_RSP: SYSCALL's kernel stack (= TSS.RSP0)
};
static_assert(sizeof(Header) == 1u << PERCPU_HEADER_SHIFT);
static_assert(offsetof(Header, self) == PERCPU_SELF);
static_assert(offsetof(Header, cpu_id) == PERCPU_CPU_ID);
static_assert(offsetof(Header, lock_depth) == PERCPU_LOCK_DEPTH);
static_assert(offsetof(Header, irq_depth) == PERCPU_IRQ_DEPTH);
static_assert(offsetof(Header, syscall_user_rsp) == PERCPU_USER_RSP);
static_assert(offsetof(Header, syscall_kernel_rsp) == PERCPU_KERNEL_RSP);

// No "volatile": a CPU's id never changes (no migration in this kernel), so the compiler
// may reuse the value. The depth counters are read with volatile asm (they do change).
inline uint32_t cpu_id() {
    uint32_t v;
    __asm__("movl %%gs:%c1, %0" : "=r"(v) : "i"(PERCPU_CPU_ID));
    return v;
}
inline Header& header() {
    Header* p;
    __asm__("movq %%gs:%c1, %0" : "=r"(p) : "i"(PERCPU_SELF));
    return *p;
}
inline uint32_t lock_depth() {
    uint32_t v;
    __asm__ volatile("movl %%gs:%c1, %0" : "=r"(v) : "i"(PERCPU_LOCK_DEPTH) : "memory");
    return v;
}
inline uint32_t irq_depth() {
    uint32_t v;
    __asm__ volatile("movl %%gs:%c1, %0" : "=r"(v) : "i"(PERCPU_IRQ_DEPTH) : "memory");
    return v;
}
// One instruction each: an interrupt cannot split the read-modify-write.
inline void lock_depth_inc() { __asm__ volatile("incl %%gs:%c0" : : "i"(PERCPU_LOCK_DEPTH) : "memory"); }
inline void lock_depth_dec() { __asm__ volatile("decl %%gs:%c0" : : "i"(PERCPU_LOCK_DEPTH) : "memory"); }
inline void irq_depth_inc() { __asm__ volatile("incl %%gs:%c0" : : "i"(PERCPU_IRQ_DEPTH) : "memory"); }
inline void irq_depth_dec() { __asm__ volatile("decl %%gs:%c0" : : "i"(PERCPU_IRQ_DEPTH) : "memory"); }

// Another CPU's header (for reports).
const Header& header_of(uint32_t cpu);

}  // namespace x86::percpu

extern "C" x86::percpu::Header percpu_headers[x86::percpu::kMaxCpus];
