// QEMU's isa-debug-exit: a write of v ends the run. QEMU itself exits with (v << 1) | 1;
// asi-emu exits 0 for v == 0 and 1 otherwise, and reports v in --json.
#pragma once
#include <optional>

#include "emu/devices/port_bus.h"

namespace emu::devices {

class DebugExit : public PortDevice {
public:
    explicit DebugExit(uint16_t port) : port_(port) {}
    bool handles(uint16_t port) const override { return port == port_; }
    PortAction write(uint16_t, unsigned, uint32_t value) override {
        value_ = value;
        return PortAction::Stop;
    }
    uint32_t read(uint16_t, unsigned) override { return 0; }
    std::optional<uint32_t> value() const { return value_; }
    void set_value(std::optional<uint32_t> v) { value_ = v; }  // machine snapshots

private:
    uint16_t port_;
    std::optional<uint32_t> value_;
};

}  // namespace emu::devices
