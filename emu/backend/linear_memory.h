// Guest linear-address accesses made by the host on the guest's behalf (exception-frame
// pushes, IDT/GDT/TSS reads, INVPCID descriptors). Unicorn 2.0.1's uc_mem_read/write bypass
// guest paging, so these go through our walker and fail exactly where the CPU would.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>

#include "mmu/walker.h"

namespace emu::backend {

struct LinearFault {
    mmu::WalkStatus status;  // NonCanonical, PageFault or TableOutsideRam
    uint64_t address;        // the faulting linear address (CR2 for a #PF)
    uint32_t error_code;     // #PF error code when status == PageFault
};

class LinearMemory {
public:
    LinearMemory(mmu::PhysicalMemory& ram, uint64_t cr3, const mmu::AccessContext& ctx)
        : ram_(ram), cr3_(cr3), ctx_(ctx) {}

    std::optional<LinearFault> read(uint64_t va, void* out, size_t len);
    std::optional<LinearFault> write(uint64_t va, const void* in, size_t len);

private:
    std::optional<LinearFault> access(uint64_t va, void* buf, size_t len, mmu::AccessType type);
    mmu::PhysicalMemory& ram_;
    uint64_t cr3_;
    mmu::AccessContext ctx_;
};

}  // namespace emu::backend
