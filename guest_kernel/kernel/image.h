// The kernel image's own layout, from the linker script (kernel.ld): segment bounds as
// virtual addresses in the kernel window, and their physical counterparts.
#pragma once
#include <stdint.h>

#include "abi/asi_emu_abi.h"
#include "arch/x86/asm_defs.h"

extern "C" {
extern char __image_start[], __image_end[];
extern char __boot32_start[], __boot32_end[];
extern char __text_start[], __text_end[];
extern char __rodata_start[], __rodata_end[];
extern char __data_start[], __data_end[];
extern char __bss_start[], __bss_end[];
}

namespace image {

static_assert(KERNEL_VIRT_BASE == asi_abi::kKernelWindowBase);

// PA of a kernel-image virtual address (valid only for addresses inside the image).
inline uint64_t virt_to_phys(const void* va) {
    return reinterpret_cast<uint64_t>(va) - asi_abi::kKernelWindowBase;
}
inline uint64_t start_phys() { return virt_to_phys(__image_start); }
inline uint64_t end_phys() { return virt_to_phys(__image_end); }
inline bool contains(uint64_t va) {
    return va >= reinterpret_cast<uint64_t>(__image_start) && va < reinterpret_cast<uint64_t>(__image_end);
}

}  // namespace image
