#include "emu/boot_loader.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "guest_kernel/abi/asi_emu_abi.h"

namespace emu {
namespace {

// Physical layout of the boot data, all below 1 MiB (like a PC boot loader's):
//   0x00000-0x00fff  reserved (null page)
//   0x01000-0x40fff  boot-info blocks, one page per CPU (up to 64)
//   0x41000          PML4; 0x42000 identity PDPT; 0x43000 kernel-window PDPT;
//   0x44000          kernel-window PD; 0x45000-0x84fff identity PDs (one per GiB, up to 64)
//   0x90000-0x9ffff  boot stacks, 1 KiB per CPU, CPU n's top at 0xa0000 - n * 1 KiB
//   0xa0000-0xfffff  reserved (the PC's legacy hole; QEMU's memory map has it too)
constexpr uint64_t kBootInfoBase = 0x1000;
constexpr uint32_t kMaxCpus = 64;
constexpr uint64_t kPml4 = 0x41000, kIdentityPdpt = 0x42000, kKernelPdpt = 0x43000,
                   kKernelPd = 0x44000, kIdentityPds = 0x45000;
constexpr uint64_t kBootDataEnd = 0xa0000;
constexpr uint64_t kStackTop = kBootDataEnd;
constexpr uint64_t kBootStackSize = 1024;  // used only until the kernel switches stacks
constexpr uint64_t kPresentWritable = 0x3, kLargePage = 0x80;

void put64(std::span<uint8_t> ram, uint64_t pa, uint64_t v) { std::memcpy(ram.data() + pa, &v, 8); }

}  // namespace

BootLayout prepare_boot(std::span<uint8_t> ram, const ElfImage& image, const BootParameters& params) {
    const uint64_t ram_size = ram.size();
    if (params.cpu_count == 0 || params.cpu_count > kMaxCpus)
        throw std::invalid_argument("cpu count must be 1-64");
    const uint64_t identity_pds = (ram_size + (1ull << 30) - 1) >> 30;
    static_assert(kIdentityPds + 64 * 0x1000 <= kStackTop - kMaxCpus * kBootStackSize);

    std::memset(ram.data() + kBootInfoBase, 0, kBootDataEnd - kBootInfoBase);
    // Boot page tables: PML4[0] -> identity PDPT -> one PD per GiB; PML4[511] -> kernel PDPT,
    // PDPT[510] -> PD covering kKernelWindowBase + [0, min(RAM, 1 GiB)).
    put64(ram, kPml4 + 0 * 8, kIdentityPdpt | kPresentWritable);
    put64(ram, kPml4 + 511 * 8, kKernelPdpt | kPresentWritable);
    for (uint64_t g = 0; g < identity_pds; ++g) {
        const uint64_t pd = kIdentityPds + g * 0x1000;
        put64(ram, kIdentityPdpt + g * 8, pd | kPresentWritable);
        for (uint64_t i = 0; i < 512; ++i) {
            const uint64_t pa = (g << 30) + (i << 21);
            if (pa >= ram_size) break;
            put64(ram, pd + i * 8, pa | kPresentWritable | kLargePage);
        }
    }
    put64(ram, kKernelPdpt + 510 * 8, kKernelPd | kPresentWritable);
    for (uint64_t i = 0; i < 512 && (i << 21) < ram_size; ++i)
        put64(ram, kKernelPd + i * 8, (i << 21) | kPresentWritable | kLargePage);

    // Memory map: everything below 1 MiB is boot data or reserved; the image is KernelImage.
    std::vector<asi_abi::MemoryRegion> regions;
    regions.push_back({0, kBootInfoBase, asi_abi::kMemoryReserved, 0});
    regions.push_back({kBootInfoBase, kBootDataEnd - kBootInfoBase, asi_abi::kMemoryBootData, 0});
    regions.push_back({kBootDataEnd, 0x100000 - kBootDataEnd, asi_abi::kMemoryReserved, 0});
    uint64_t cursor = 0x100000;
    for (const ElfSegment& s : image.segments) {  // sorted by paddr
        const uint64_t begin = s.paddr & ~0xfffull, end = (s.paddr + s.mem_size + 0xfff) & ~0xfffull;
        if (begin > cursor) regions.push_back({cursor, begin - cursor, asi_abi::kMemoryUsable, 0});
        const uint64_t kb = std::max(begin, cursor);
        if (end > kb) regions.push_back({kb, end - kb, asi_abi::kMemoryKernelImage, 0});
        cursor = std::max(cursor, end);
    }
    if (cursor < ram_size) regions.push_back({cursor, ram_size - cursor, asi_abi::kMemoryUsable, 0});
    if (regions.size() > asi_abi::kMaxMemoryRegions) throw std::invalid_argument("too many memory regions");

    for (uint32_t cpu = 0; cpu < params.cpu_count; ++cpu) {
        asi_abi::BootInfo info{};
        info.magic = asi_abi::kBootInfoMagic;
        info.version = asi_abi::kBootInfoVersion;
        info.size = sizeof(asi_abi::BootInfo);
        info.cpu_count = params.cpu_count;
        info.cpu_id = cpu;
        info.region_count = static_cast<uint32_t>(regions.size());
        info.rng_seed = params.seed;
        std::copy(regions.begin(), regions.end(), info.regions);
        const size_t n = std::min<size_t>(params.cmdline.size(), asi_abi::kMaxCmdline - 1);
        std::memcpy(info.cmdline, params.cmdline.data(), n);
        info.cmdline_length = static_cast<uint32_t>(n);
        static_assert(sizeof(asi_abi::BootInfo) <= 4096);
        std::memcpy(ram.data() + kBootInfoBase + cpu * 4096ull, &info, sizeof info);
    }
    return BootLayout{kBootInfoBase, kPml4, kStackTop, kBootInfoBase, kBootDataEnd};
}

}  // namespace emu
