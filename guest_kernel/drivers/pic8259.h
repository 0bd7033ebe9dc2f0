// The legacy 8259A interrupt controllers (master at 0x20/0x21, slave at 0xa0/0xa1). This
// kernel takes interrupts from the local APIC only, so it reprograms both 8259s to vectors
// 0x20-0x2f, away from the CPU's exception vectors (firmware leaves the master at 0x08,
// where the PIT's IRQ 0 would arrive as a "#DF"), and masks every input, as Linux does when
// it uses the APIC (arch/x86/kernel/i8259.c). Must run before interrupts are first enabled.
// On asi-emu, which has no 8259, the writes go to no device (asi-emu drops them, as a PC
// bus would).
#pragma once
#include <stdint.h>

namespace pic8259 {

constexpr uint8_t kVectorBase = 0x20;  // IRQ n -> vector 0x20 + n
constexpr uint8_t kVectors = 16;

// Remaps and masks both controllers; registers a handler that counts stray interrupts (a
// masked 8259 can still raise its spurious IRQ 7 or 15, which needs no EOI).
void init_masked();
uint64_t stray_interrupts();

}  // namespace pic8259
