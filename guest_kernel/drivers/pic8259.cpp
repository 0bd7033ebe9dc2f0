#include "drivers/pic8259.h"

#include "arch/x86/cpu.h"
#include "arch/x86/irq.h"

namespace pic8259 {
namespace {

constexpr uint16_t kMasterCommand = 0x20, kMasterData = 0x21;
constexpr uint16_t kSlaveCommand = 0xa0, kSlaveData = 0xa1;
// Initialization command words (8259A data sheet; Linux's init_8259A()).
constexpr uint8_t kIcw1Init = 0x11;   // ICW1: edge triggered, cascade, ICW4 follows
constexpr uint8_t kIcw3Master = 0x04;  // ICW3: slave on IR2
constexpr uint8_t kIcw3Slave = 0x02;   // ICW3: slave ID 2
constexpr uint8_t kIcw4_8086 = 0x01;   // ICW4: 8086 mode, normal EOI
constexpr uint8_t kMaskAll = 0xff;     // OCW1

constinit uint64_t g_stray = 0;

void on_stray(const x86::TrapFrame&) { __atomic_fetch_add(&g_stray, 1, __ATOMIC_RELAXED); }

}  // namespace

void init_masked() {
    x86::outb(kMasterData, kMaskAll);
    x86::outb(kSlaveData, kMaskAll);
    x86::outb(kMasterCommand, kIcw1Init);
    x86::outb(kSlaveCommand, kIcw1Init);
    x86::outb(kMasterData, kVectorBase);
    x86::outb(kSlaveData, kVectorBase + 8);
    x86::outb(kMasterData, kIcw3Master);
    x86::outb(kSlaveData, kIcw3Slave);
    x86::outb(kMasterData, kIcw4_8086);
    x86::outb(kSlaveData, kIcw4_8086);
    x86::outb(kMasterData, kMaskAll);  // OCW1 after initialization: every IRQ masked
    x86::outb(kSlaveData, kMaskAll);
    for (uint8_t v = 0; v < kVectors; ++v) x86::irq::set_handler(kVectorBase + v, on_stray);
}

uint64_t stray_interrupts() { return __atomic_load_n(&g_stray, __ATOMIC_RELAXED); }

}  // namespace pic8259
