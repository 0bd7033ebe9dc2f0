// Inline wrappers for privileged and model-specific x86-64 instructions.
// asi-emu places a code hook on every mov-to-CR, invlpg, invpcid, rdmsr/wrmsr and rdtsc it
// finds in the text segment (DESIGN 4.6), so these stay single instructions: no tricks that
// compute them at run time.
#pragma once
#include <stdint.h>

namespace x86 {

// ---- Control registers (SDM vol. 3A 2.5) ------------------------------------------------
constexpr uint64_t kCr0Pe = 1ull << 0;
constexpr uint64_t kCr0Wp = 1ull << 16;  // supervisor writes honour R/W=0 (SDM 4.6.1)
constexpr uint64_t kCr0Pg = 1ull << 31;

constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kCr4Pge = 1ull << 7;
constexpr uint64_t kCr4Pcide = 1ull << 17;
constexpr uint64_t kCr4Smep = 1ull << 20;
constexpr uint64_t kCr4Smap = 1ull << 21;

// CR3 with CR4.PCIDE=1 (SDM 4.5.2, 4.10.1): bits 11:0 are the PCID; bit 63 of the value
// written asks MOV to CR3 not to invalidate the new PCID's entries (4.10.4.1). Bit 63 is never
// stored in CR3.
constexpr uint64_t kCr3PcidMask = 0xfff;
constexpr uint64_t kCr3NoFlush = 1ull << 63;

inline uint64_t read_cr0() { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
inline uint64_t read_cr2() { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
inline uint64_t read_cr3() { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
inline uint64_t read_cr4() { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
// The "memory" clobbers order page-table stores before the switch and keep the compiler
// from caching memory reads across a change of translation.
inline void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
inline void write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

// ---- TLB invalidation (SDM vol. 3A 4.10.4.1) -------------------------------------------
// INVLPG: the current PCID's translations for the page, global translations for the page,
// and all paging-structure-cache entries of the current PCID.
inline void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }

// INVPCID (SDM vol. 2A): descriptor bits 11:0 = PCID, 63:12 must be 0, 127:64 = address.
struct InvpcidDescriptor {
    uint64_t pcid;
    uint64_t address;
};
enum InvpcidType : uint64_t {
    kInvpcidAddress = 0,        // one address, one PCID, not global
    kInvpcidSingleContext = 1,  // one PCID, not global
    kInvpcidAllIncludingGlobal = 2,
    kInvpcidAllExceptGlobal = 3,
};
inline void invpcid(uint64_t type, const InvpcidDescriptor& desc) {
    __asm__ volatile("invpcid %0, %1" : : "m"(desc), "r"(type) : "memory");
}

// ---- CPUID / MSRs / TSC ------------------------------------------------------------------
struct CpuidResult {
    uint32_t eax, ebx, ecx, edx;
};
inline CpuidResult cpuid(uint32_t leaf, uint32_t subleaf = 0) {
    CpuidResult r;
    __asm__ volatile("cpuid"
                     : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                     : "a"(leaf), "c"(subleaf));
    return r;
}

constexpr uint32_t kMsrEfer = 0xc0000080;
constexpr uint32_t kMsrStar = 0xc0000081;
constexpr uint32_t kMsrLstar = 0xc0000082;
constexpr uint32_t kMsrFmask = 0xc0000084;
constexpr uint64_t kEferSce = 1ull << 0;   // SYSCALL enable
constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;
constexpr uint64_t kEferNxe = 1ull << 11;  // bit 63 of paging entries is XD, not reserved

inline uint64_t rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t(hi) << 32) | lo;
}
inline void wrmsr(uint32_t msr, uint64_t v) {
    __asm__ volatile("wrmsr" : : "c"(msr), "a"(uint32_t(v)), "d"(uint32_t(v >> 32)) : "memory");
}
inline uint64_t rdtsc() {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t(hi) << 32) | lo;
}

// ---- Port I/O ------------------------------------------------------------------------------
inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
inline uint8_t inb(uint16_t port) {
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

// ---- Descriptor tables and flags -----------------------------------------------------------
// GDTR/IDTR image (SDM vol. 3A 3.5.1, 6.10): 16-bit limit, 64-bit linear base.
struct [[gnu::packed]] DescriptorTablePointer {
    uint16_t limit;
    const void* base;
};
static_assert(sizeof(DescriptorTablePointer) == 10);
inline void lgdt(const DescriptorTablePointer& p) { __asm__ volatile("lgdt %0" : : "m"(p) : "memory"); }
inline void lidt(const DescriptorTablePointer& p) { __asm__ volatile("lidt %0" : : "m"(p) : "memory"); }
inline void ltr(uint16_t selector) { __asm__ volatile("ltr %0" : : "r"(selector) : "memory"); }
inline void load_ds_es(uint16_t selector) {
    __asm__ volatile("mov %0, %%ds\n\tmov %0, %%es" : : "r"(selector) : "memory");
}
inline uint16_t read_cs() { uint16_t v; __asm__ volatile("mov %%cs, %0" : "=r"(v)); return v; }
inline uint16_t read_ds() { uint16_t v; __asm__ volatile("mov %%ds, %0" : "=r"(v)); return v; }
inline uint64_t read_rflags() {
    uint64_t v;
    __asm__ volatile("pushfq\n\tpopq %0" : "=r"(v));
    return v;
}
constexpr uint64_t kRflagsIf = 1ull << 9;

inline void cli() { __asm__ volatile("cli" : : : "memory"); }
inline void sti() { __asm__ volatile("sti" : : : "memory"); }
inline void hlt() { __asm__ volatile("hlt" : : : "memory"); }
// cpu_relax(): the spin-wait hint. asi-emu ends the vCPU's time slice here when other vCPUs
// can run (asi_emu_abi.h "SMP"), so every spin loop must execute it.
inline void pause() { __asm__ volatile("pause" : : : "memory"); }

// ---- Interrupt flag ------------------------------------------------------------------------
// Kernel code runs with IF=0; interrupts are taken only in interrupt windows (kernel/smp.h).
// STI delays recognition of interrupts until after the *next* instruction (SDM vol. 2B STI,
// "interrupt shadow"), so `sti; cli` opens nothing on real hardware: each window below puts
// one instruction in the shadow.
inline bool interrupts_enabled() { return (read_rflags() & kRflagsIf) != 0; }
// local_irq_save / local_irq_restore. Restoring IF=1 uses STI (not POPF), at which asi-emu
// also delivers a pending interrupt.
inline uint64_t irq_save() {
    const uint64_t flags = read_rflags();
    cli();
    return flags;
}
inline void irq_restore(uint64_t flags) {
    if (flags & kRflagsIf) sti();
}
// A pending interrupt is taken after the NOP, then IF=0 again.
inline void interrupt_window() { __asm__ volatile("sti\n\tnop\n\tcli" : : : "memory"); }
// One spin-wait step that also answers interrupts (IPIs from a CPU waiting for us).
inline void pause_with_interrupts() { __asm__ volatile("sti\n\tpause\n\tcli" : : : "memory"); }
// `sti; hlt` (Linux's safe_halt): the shadow covers HLT, so an interrupt that became pending
// after the caller's last check still wakes it. Returns with IF=1, after the handler ran.
inline void safe_halt() { __asm__ volatile("sti\n\thlt" : : : "memory"); }

}  // namespace x86
