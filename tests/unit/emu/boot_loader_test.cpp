// prepare_boot (the boot-info block and boot page tables of the ABI header, DESIGN 3) and
// parse_size.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "emu/boot_loader.h"
#include "emu/size_parse.h"
#include "guest_kernel/abi/asi_emu_abi.h"
#include "mmu/walker.h"

namespace emu {
namespace {

// Guest RAM as a sparse anonymous mapping: only the pages prepare_boot touches get memory.
class SparseRam {
public:
    explicit SparseRam(uint64_t size) : size_(size) {
        void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        data_ = static_cast<uint8_t*>(p);
    }
    ~SparseRam() { munmap(data_, size_); }
    SparseRam(const SparseRam&) = delete;
    SparseRam& operator=(const SparseRam&) = delete;
    std::span<uint8_t> span() { return {data_, size_}; }
    mmu::PhysicalMemory phys() { return {data_, size_}; }
    uint8_t* data() { return data_; }

private:
    uint8_t* data_;
    uint64_t size_;
};

ElfSegment segment(uint64_t paddr, uint64_t mem_size) {
    ElfSegment s;
    s.paddr = paddr;
    s.vaddr = asi_abi::kKernelWindowBase + paddr;
    s.mem_size = mem_size;
    s.file_size = mem_size;
    s.readable = true;
    return s;
}

// A typical image: text, rodata sharing nothing, data after a gap, bss.
ElfImage typical_image() {
    ElfImage img;
    img.entry = asi_abi::kKernelWindowBase + 0x200000;
    img.segments = {segment(0x200000, 0x5123), segment(0x206800, 0x100), segment(0x400000, 0x21000)};
    return img;
}

asi_abi::BootInfo read_info(uint8_t* ram, uint64_t pa) {
    asi_abi::BootInfo info;
    std::memcpy(&info, ram + pa, sizeof info);
    return info;
}

mmu::WalkResult walk(mmu::PhysicalMemory& mem, uint64_t cr3, uint64_t va) {
    mmu::AccessContext ctx;
    return mmu::walk(mem, cr3, va, mmu::AccessType::Write, ctx);
}

// ---- Page tables ---------------------------------------------------------------------------

class BootTables : public ::testing::TestWithParam<uint64_t> {};

TEST_P(BootTables, IdentityAndKernelWindowTranslate) {
    const uint64_t ram_size = GetParam();
    SparseRam ram(ram_size);
    const BootLayout layout = prepare_boot(ram.span(), typical_image(), BootParameters{});
    mmu::PhysicalMemory mem = ram.phys();

    std::vector<uint64_t> pas = {0, 0x1000, 0x200000, 0x200fff, 0x1fffff, ram_size / 2 + 0x123, ram_size - 8,
                                 ram_size - 0x200000, ram_size - 1};
    for (uint64_t g = 1; (g << 30) < ram_size; ++g) {
        pas.push_back((g << 30) - 8);
        pas.push_back(g << 30);
    }
    for (uint64_t pa : pas) {
        mmu::WalkResult w = walk(mem, layout.boot_cr3, pa);
        ASSERT_EQ(w.status, mmu::WalkStatus::Ok) << std::hex << "identity " << pa;
        EXPECT_EQ(w.t.pa, pa) << std::hex << "identity " << pa;
        EXPECT_FALSE(w.t.user);
        EXPECT_TRUE(w.t.writable);
        const uint64_t kernel_window = std::min<uint64_t>(ram_size, 1ull << 30);
        if (pa < kernel_window) {
            w = walk(mem, layout.boot_cr3, asi_abi::kKernelWindowBase + pa);
            ASSERT_EQ(w.status, mmu::WalkStatus::Ok) << std::hex << "kernel window " << pa;
            EXPECT_EQ(w.t.pa, pa) << std::hex << "kernel window " << pa;
        }
    }
}

TEST_P(BootTables, NothingBeyondRamOrTheWindowsIsMapped) {
    const uint64_t ram_size = GetParam();
    SparseRam ram(ram_size);
    const BootLayout layout = prepare_boot(ram.span(), typical_image(), BootParameters{});
    mmu::PhysicalMemory mem = ram.phys();
    const uint64_t kernel_window = std::min<uint64_t>(ram_size, 1ull << 30);
    for (uint64_t va : {ram_size, ram_size + 0x200000, uint64_t{64} << 30, asi_abi::kKernelWindowBase + kernel_window,
                        asi_abi::kKernelWindowBase - 0x1000, asi_abi::kDirectMapBase,
                        asi_abi::kDirectMapBase + 0x200000, uint64_t{0x0000700000000000}}) {
        mmu::WalkResult w = walk(mem, layout.boot_cr3, va);
        EXPECT_EQ(w.status, mmu::WalkStatus::PageFault) << std::hex << va;
    }
}

INSTANTIATE_TEST_SUITE_P(RamSizes, BootTables,
                         ::testing::Values(16ull << 20, 256ull << 20, 1ull << 30, 3ull << 30),
                         [](const ::testing::TestParamInfo<uint64_t>& i) {
                             return std::to_string(i.param >> 20) + "MiB";
                         });

// ---- The boot-info block -------------------------------------------------------------------

TEST(BootInfo, HeaderAndLayout) {
    SparseRam ram(256ull << 20);
    BootParameters p;
    p.cmdline = "asi=on workload=mixed seed=7";
    p.seed = 0x1234567;
    p.cpu_count = 3;
    const BootLayout layout = prepare_boot(ram.span(), typical_image(), p);
    for (uint32_t cpu = 0; cpu < 3; ++cpu) {
        const asi_abi::BootInfo info = read_info(ram.data(), layout.boot_info_pa + cpu * 4096ull);
        EXPECT_EQ(info.magic, asi_abi::kBootInfoMagic) << cpu;
        EXPECT_EQ(info.version, asi_abi::kBootInfoVersion);
        EXPECT_EQ(info.size, sizeof(asi_abi::BootInfo));
        EXPECT_EQ(info.cpu_count, 3u);
        EXPECT_EQ(info.cpu_id, cpu);
        EXPECT_EQ(info.rng_seed, 0x1234567u);
        EXPECT_EQ(info.cmdline_length, p.cmdline.size());
        EXPECT_STREQ(info.cmdline, p.cmdline.c_str());
    }
    EXPECT_EQ(read_info(ram.data(), layout.boot_info_pa + 3 * 4096ull).magic, 0u) << "no block for CPU 3";
    // Everything the loader wrote lies in the BootData region, below the kernel image.
    EXPECT_LE(layout.boot_data_begin, layout.boot_info_pa);
    EXPECT_LE(layout.boot_info_pa + 3 * 4096ull, layout.boot_data_end);
    EXPECT_LT(layout.boot_data_begin, layout.boot_cr3);
    EXPECT_LE(layout.boot_cr3 + 4096, layout.boot_data_end);
    EXPECT_GT(layout.stack_top, layout.boot_data_begin);
    EXPECT_LE(layout.stack_top, layout.boot_data_end);
    EXPECT_LE(layout.boot_data_end, asi_abi::kKernelLoadPhys);
}

// Regions sorted, contiguous from 0 to RAM, no overlap; KernelImage exactly the page-rounded
// segments.
void check_regions(const asi_abi::BootInfo& info, uint64_t ram_size, const ElfImage& img, const BootLayout& layout) {
    ASSERT_GT(info.region_count, 0u);
    ASSERT_LE(info.region_count, asi_abi::kMaxMemoryRegions);
    uint64_t cursor = 0;
    std::vector<std::pair<uint64_t, uint64_t>> kernel;
    bool boot_data_seen = false;
    for (uint32_t i = 0; i < info.region_count; ++i) {
        const asi_abi::MemoryRegion& r = info.regions[i];
        EXPECT_EQ(r.base, cursor) << "region " << i << " leaves a gap or overlaps";
        EXPECT_GT(r.length, 0u) << i;
        EXPECT_EQ(r.base % 4096, 0u) << i;
        EXPECT_EQ(r.length % 4096, 0u) << i;
        cursor = r.base + r.length;
        if (r.type == asi_abi::kMemoryKernelImage) {
            if (!kernel.empty() && kernel.back().second == r.base)
                kernel.back().second = cursor;
            else
                kernel.push_back({r.base, cursor});
        }
        if (r.type == asi_abi::kMemoryBootData) {
            boot_data_seen = true;
            EXPECT_EQ(r.base, layout.boot_data_begin);
            EXPECT_EQ(cursor, layout.boot_data_end);
        }
        EXPECT_TRUE(r.type >= asi_abi::kMemoryUsable && r.type <= asi_abi::kMemoryBootData) << i;
    }
    EXPECT_EQ(cursor, ram_size);
    EXPECT_TRUE(boot_data_seen);
    std::vector<std::pair<uint64_t, uint64_t>> want;
    for (const ElfSegment& s : img.segments) {
        const uint64_t b = s.paddr & ~0xfffull, e = (s.paddr + s.mem_size + 0xfff) & ~0xfffull;
        if (!want.empty() && b <= want.back().second)
            want.back().second = std::max(want.back().second, e);
        else
            want.push_back({b, e});
    }
    EXPECT_EQ(kernel, want);
}

TEST(BootInfo, RegionsCoverRamWithoutOverlap) {
    for (uint64_t size : {16ull << 20, 256ull << 20, 3ull << 30}) {
        SparseRam ram(size);
        const ElfImage img = typical_image();
        const BootLayout layout = prepare_boot(ram.span(), img, BootParameters{});
        const asi_abi::BootInfo info = read_info(ram.data(), layout.boot_info_pa);
        SCOPED_TRACE(size);
        check_regions(info, size, img, layout);
        // The first region after the image is usable and runs to the end of RAM.
        const asi_abi::MemoryRegion& last = info.regions[info.region_count - 1];
        EXPECT_EQ(last.type, asi_abi::kMemoryUsable);
        EXPECT_EQ(last.base, 0x421000u);
    }
}

TEST(BootInfo, SegmentsSharingAPageGiveOneKernelRegion) {
    SparseRam ram(16ull << 20);
    ElfImage img;
    img.segments = {segment(0x200000, 0x800), segment(0x200800, 0x800), segment(0x201000, 0x10)};
    const BootLayout layout = prepare_boot(ram.span(), img, BootParameters{});
    const asi_abi::BootInfo info = read_info(ram.data(), layout.boot_info_pa);
    check_regions(info, 16ull << 20, img, layout);
}

TEST(BootInfo, ImageRightAtOneMiBLeavesNoEmptyRegion) {
    SparseRam ram(16ull << 20);
    ElfImage img;
    img.segments = {segment(0x100000, 0x1000)};
    const BootLayout layout = prepare_boot(ram.span(), img, BootParameters{});
    const asi_abi::BootInfo info = read_info(ram.data(), layout.boot_info_pa);
    check_regions(info, 16ull << 20, img, layout);
}

TEST(BootInfo, TooManyRegionsIsRefused) {
    // 3 regions below 1 MiB + (gap, image) per segment + the tail: 14 segments give 32.
    auto image_with = [](int n) {
        ElfImage img;
        for (int i = 0; i < n; ++i) img.segments.push_back(segment(0x200000 + i * 0x10000ull, 0x1000));
        return img;
    };
    SparseRam ram(16ull << 20);
    const BootLayout layout = prepare_boot(ram.span(), image_with(14), BootParameters{});
    EXPECT_EQ(read_info(ram.data(), layout.boot_info_pa).region_count, 32u);
    EXPECT_THROW(prepare_boot(ram.span(), image_with(15), BootParameters{}), std::invalid_argument);
}

TEST(BootInfo, CpuCountLimits) {
    SparseRam ram(16ull << 20);
    BootParameters p;
    p.cpu_count = 0;
    EXPECT_THROW(prepare_boot(ram.span(), typical_image(), p), std::invalid_argument);
    p.cpu_count = 65;
    EXPECT_THROW(prepare_boot(ram.span(), typical_image(), p), std::invalid_argument);
    p.cpu_count = 64;
    const BootLayout layout = prepare_boot(ram.span(), typical_image(), p);
    EXPECT_EQ(read_info(ram.data(), layout.boot_info_pa + 63 * 4096ull).cpu_id, 63u);
    // The last CPU's block does not run into the page tables.
    EXPECT_LE(layout.boot_info_pa + 64 * 4096ull, layout.boot_cr3);
    // CPU 63's boot stack (1 KiB below stack_top - 63 KiB) stays in BootData above the tables.
    mmu::PhysicalMemory mem = ram.phys();
    EXPECT_EQ(walk(mem, layout.boot_cr3, 0x200000).status, mmu::WalkStatus::Ok);
}

TEST(BootInfo, CmdlineIsNulTerminatedAndTruncated) {
    SparseRam ram(16ull << 20);
    BootParameters p;
    p.cmdline = std::string(5000, 'x');
    p.cmdline[asi_abi::kMaxCmdline - 2] = 'y';
    const BootLayout layout = prepare_boot(ram.span(), typical_image(), p);
    const asi_abi::BootInfo info = read_info(ram.data(), layout.boot_info_pa);
    EXPECT_EQ(info.cmdline_length, asi_abi::kMaxCmdline - 1);
    EXPECT_EQ(info.cmdline[asi_abi::kMaxCmdline - 2], 'y');
    EXPECT_EQ(info.cmdline[asi_abi::kMaxCmdline - 1], '\0');
    EXPECT_EQ(std::strlen(info.cmdline), asi_abi::kMaxCmdline - 1);

    // Exactly kMaxCmdline - 1 characters fit untruncated; a shorter line after a longer one
    // leaves no trace of the old one.
    p.cmdline = std::string(asi_abi::kMaxCmdline - 1, 'z');
    prepare_boot(ram.span(), typical_image(), p);
    EXPECT_EQ(read_info(ram.data(), layout.boot_info_pa).cmdline_length, asi_abi::kMaxCmdline - 1);
    p.cmdline = "short";
    prepare_boot(ram.span(), typical_image(), p);
    const asi_abi::BootInfo again = read_info(ram.data(), layout.boot_info_pa);
    EXPECT_STREQ(again.cmdline, "short");
    EXPECT_EQ(again.cmdline_length, 5u);
    for (uint32_t i = 5; i < asi_abi::kMaxCmdline; ++i) ASSERT_EQ(again.cmdline[i], '\0') << i;
}

TEST(BootInfo, EmptyCmdline) {
    SparseRam ram(16ull << 20);
    const BootLayout layout = prepare_boot(ram.span(), typical_image(), BootParameters{});
    const asi_abi::BootInfo info = read_info(ram.data(), layout.boot_info_pa);
    EXPECT_EQ(info.cmdline_length, 0u);
    EXPECT_EQ(info.cmdline[0], '\0');
}

// ---- parse_size ----------------------------------------------------------------------------

TEST(ParseSize, Accepts) {
    EXPECT_EQ(parse_size("4096"), 4096u);
    EXPECT_EQ(parse_size("0"), 0u);
    EXPECT_EQ(parse_size("64K"), 64u << 10);
    EXPECT_EQ(parse_size("64k"), 64u << 10);
    EXPECT_EQ(parse_size("256M"), 256ull << 20);
    EXPECT_EQ(parse_size("1G"), 1ull << 30);
    EXPECT_EQ(parse_size("1GiB"), 1ull << 30);
    EXPECT_EQ(parse_size("2MiB"), 2ull << 20);
    EXPECT_EQ(parse_size("3GB"), 3ull << 30);
    EXPECT_EQ(parse_size("17179869183G"), 17179869183ull << 30) << "largest G value that fits";
    EXPECT_EQ(parse_size("18446744073709551615"), UINT64_MAX);
}

TEST(ParseSize, Rejects) {
    EXPECT_EQ(parse_size(""), std::nullopt);
    EXPECT_EQ(parse_size("M"), std::nullopt);
    EXPECT_EQ(parse_size("12X"), std::nullopt);
    EXPECT_EQ(parse_size("99999999999G"), std::nullopt);
    EXPECT_EQ(parse_size("17179869184G"), std::nullopt) << "2^64";
    EXPECT_EQ(parse_size("18446744073709551616"), std::nullopt) << "digits overflow";
    EXPECT_EQ(parse_size("-1"), std::nullopt);
    EXPECT_EQ(parse_size(" 1G"), std::nullopt);
    EXPECT_EQ(parse_size("1G "), std::nullopt);
    EXPECT_EQ(parse_size("1.5G"), std::nullopt);
    EXPECT_EQ(parse_size("1GiBB"), std::nullopt);
    EXPECT_EQ(parse_size("1T"), std::nullopt);
}

TEST(ParseSize, RejectsADoubledByteSuffix) {
    EXPECT_EQ(parse_size("64KBB"), std::nullopt);
}

}  // namespace
}  // namespace emu
