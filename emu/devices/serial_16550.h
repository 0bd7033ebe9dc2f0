// COM1 as a 16550 UART, transmit side only: THR writes go to the console sink, LSR always
// reports the transmitter empty (bits 5 and 6), so a polling driver never waits.
#pragma once
#include <cstdio>
#include <string>

#include "emu/devices/port_bus.h"

namespace emu::devices {

class Serial16550 : public PortDevice {
public:
    Serial16550(uint16_t base, std::FILE* sink) : base_(base), sink_(sink) {}
    bool handles(uint16_t port) const override { return port >= base_ && port < base_ + 8; }
    PortAction write(uint16_t port, unsigned, uint32_t value) override {
        if (port == base_ + kThr && !(lcr_ & kDlab)) {
            const char c = static_cast<char>(value & 0xff);
            std::fputc(c, sink_);
            if (c == '\n') std::fflush(sink_);
            output_.push_back(c);
            if (output_.size() > kKeepBytes) output_.erase(0, output_.size() - kKeepBytes);
        } else if (port == base_ + kLcr) {
            lcr_ = value & 0xff;
        }
        return PortAction::Continue;
    }
    uint32_t read(uint16_t port, unsigned) override {
        if (port == base_ + kLsr) return kLsrThrEmpty | kLsrTransmitterEmpty;
        if (port == base_ + kLcr) return lcr_;
        return 0;
    }
    void flush() { std::fflush(sink_); }
    // The last bytes written (for crash reports).
    const std::string& recent_output() const { return output_; }

private:
    static constexpr uint16_t kThr = 0, kLcr = 3, kLsr = 5;
    static constexpr uint32_t kDlab = 0x80, kLsrThrEmpty = 0x20, kLsrTransmitterEmpty = 0x40;
    static constexpr size_t kKeepBytes = 4096;
    uint16_t base_;
    std::FILE* sink_;
    uint32_t lcr_ = 0;
    std::string output_;
};

}  // namespace emu::devices
