// I/O-port devices. A write may ask the machine to stop (isa-debug-exit).
#pragma once
#include <cstdint>
#include <vector>

namespace emu::devices {

enum class PortAction { Continue, Stop };

class PortDevice {
public:
    virtual ~PortDevice() = default;
    virtual bool handles(uint16_t port) const = 0;
    virtual PortAction write(uint16_t port, unsigned size, uint32_t value) = 0;
    virtual uint32_t read(uint16_t port, unsigned size) = 0;
};

class PortBus {
public:
    void attach(PortDevice* d) { devices_.push_back(d); }
    PortAction write(uint16_t port, unsigned size, uint32_t value) {
        for (PortDevice* d : devices_)
            if (d->handles(port)) return d->write(port, size, value);
        return PortAction::Continue;  // no device: the write is dropped, as on a PC
    }
    uint32_t read(uint16_t port, unsigned size) {
        for (PortDevice* d : devices_)
            if (d->handles(port)) return d->read(port, size);
        return size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffu;  // floating bus
    }

private:
    std::vector<PortDevice*> devices_;
};

}  // namespace emu::devices
