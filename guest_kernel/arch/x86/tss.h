// The 64-bit Task-State Segment (SDM vol. 3A 7.7, figure 7-11): in 64-bit mode it only holds
// stack pointers: RSP0 for entries from CPL3, and the Interrupt Stack Table (6.14.5). One
// per CPU, each with its own stacks: a CPU's interrupt frames must never land on another
// CPU's stack.
#pragma once
#include <stdint.h>

namespace x86 {

struct [[gnu::packed]] Tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];      // RSP0..RSP2: stack for a privilege change to CPL 0..2
    uint64_t reserved1;
    uint64_t ist[7];      // IST1..IST7
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;  // offset of the I/O permission bitmap; >= limit means none
};
static_assert(sizeof(Tss64) == 104);

struct StackRange {
    uint64_t bottom;  // lowest address
    uint64_t top;     // one past the highest address (initial RSP)
    bool contains(uint64_t addr) const { return addr >= bottom && addr < top; }
};

namespace tss {

// The stacks a CPU's TSS points to.
struct CpuStacks {
    StackRange entry;         // RSP0: entries from user mode (interrupts and SYSCALL)
    StackRange double_fault;  // IST1
    StackRange nmi;           // IST2
};

constexpr uint64_t kStackSize = 16 * 1024;

// CPU 0: static stacks in .bss.
void init();
// An application processor: stacks its bring-up allocated (kernel/smp.cpp).
void init_cpu(uint32_t cpu, const CpuStacks& stacks);
const Tss64& get();                   // this CPU's
const Tss64& get(uint32_t cpu);
StackRange entry_stack();             // this CPU's RSP0 stack
StackRange ist_stack(unsigned ist);   // this CPU's, 1-based IST slot

}  // namespace tss
}  // namespace x86
