// asi-emu as a 64-bit boot loader (ABI header, DESIGN 3): copies the image's PT_LOAD
// segments to their physical addresses, writes the boot-info block, a boot stack and
// minimal boot page tables (identity [0, RAM) and the kernel window, 2 MiB pages) into a
// BootData region, and returns the state to enter the kernel with.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "emu/elf_image.h"

namespace emu {

struct BootParameters {
    std::string cmdline;
    uint32_t cpu_count = 1;
    uint64_t seed = 0;
};

struct BootLayout {
    uint64_t boot_info_pa;
    uint64_t boot_cr3;
    uint64_t stack_top;        // CPU n's boot stack top is stack_top - n * 1 KiB
    uint64_t boot_data_begin;
    uint64_t boot_data_end;
};

inline constexpr uint64_t kMinRamSize = 16ull << 20;
inline constexpr uint32_t kMaxVcpus = 64;
inline constexpr uint64_t kBootStackPerCpu = 1024;
inline constexpr uint64_t kMinQuantum = 100;
inline constexpr uint64_t kMaxQuantum = 1ull << 32;
inline constexpr uint64_t kMaxRamSize = 64ull << 30;

// Writes everything into ram (the image's segments must already be loaded). Returns the
// layout; the boot-info block for CPU `id` is at boot_info_pa + id * 4096.
BootLayout prepare_boot(std::span<uint8_t> ram, const ElfImage& image, const BootParameters& params);

}  // namespace emu
