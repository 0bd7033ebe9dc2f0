#include "emu/backend/linear_memory.h"

#include <algorithm>
#include <cstring>

namespace emu::backend {

std::optional<LinearFault> LinearMemory::access(uint64_t va, void* buf, size_t len,
                                                mmu::AccessType type) {
    auto* bytes = static_cast<uint8_t*>(buf);
    while (len > 0) {
        const uint64_t in_page = std::min<uint64_t>(len, 4096 - (va & 4095));
        mmu::WalkResult w = mmu::walk(ram_, cr3_, va, type, ctx_);
        if (w.status != mmu::WalkStatus::Ok) return LinearFault{w.status, va, w.error_code};
        if (!ram_.contains(w.t.pa, in_page))
            return LinearFault{mmu::WalkStatus::TableOutsideRam, va, 0};
        if (type == mmu::AccessType::Write)
            std::memcpy(ram_.data + w.t.pa, bytes, in_page);
        else
            std::memcpy(bytes, ram_.data + w.t.pa, in_page);
        va += in_page;
        bytes += in_page;
        len -= in_page;
    }
    return std::nullopt;
}

std::optional<LinearFault> LinearMemory::read(uint64_t va, void* out, size_t len) {
    return access(va, out, len, mmu::AccessType::Read);
}

std::optional<LinearFault> LinearMemory::write(uint64_t va, const void* in, size_t len) {
    return access(va, const_cast<void*>(in), len, mmu::AccessType::Write);
}

}  // namespace emu::backend
