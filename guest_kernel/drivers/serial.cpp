#include "drivers/serial.h"

#include "abi/asi_emu_abi.h"
#include "arch/x86/cpu.h"

namespace serial {
namespace {

constexpr uint16_t kThr = asi_abi::kCom1Port + 0;  // transmit holding register (DLAB=0)
constexpr uint16_t kLsr = asi_abi::kCom1Port + 5;  // line status register
constexpr uint8_t kLsrThrEmpty = 1u << 5;          // THR can take a byte
// Bounded wait: a UART that never reports THR empty must not hang the kernel (Linux's
// 8250 early console bounds the wait the same way).
constexpr uint32_t kMaxPolls = 1u << 20;

}  // namespace

// The UART is used as the firmware/loader left it (QEMU and asi-emu both start at a usable
// default); the kernel only polls LSR and writes THR.
void put_char(char c) {
    for (uint32_t i = 0; i < kMaxPolls; ++i) {
        if (x86::inb(kLsr) & kLsrThrEmpty) break;
        x86::pause();
    }
    x86::outb(kThr, static_cast<uint8_t>(c));
}

void write(const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i) put_char(s[i]);
}

}  // namespace serial
