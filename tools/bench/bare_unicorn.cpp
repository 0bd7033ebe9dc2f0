#include "tools/bench/bare_unicorn.h"

#include <sys/mman.h>
#include <unicorn/unicorn.h>

#include "emu/boot_loader.h"
#include "emu/elf_loader.h"
#include "guest_kernel/abi/asi_emu_abi.h"

namespace bench {

bool run_bare_unicorn(const std::string& image_path, uint64_t ram_size) {
    const std::vector<uint8_t> file = emu::read_file_bytes(image_path);
    const emu::ElfImage image = emu::parse_elf(file, ram_size);
    auto* ram = static_cast<uint8_t*>(mmap(nullptr, ram_size, PROT_READ | PROT_WRITE,
                                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
    std::span<uint8_t> ram_span(ram, ram_size);
    emu::load_segments(image, file, ram_span);
    const emu::BootLayout layout = emu::prepare_boot(ram_span, image, {});
    uc_engine* uc = nullptr;
    uc_open(UC_ARCH_X86, UC_MODE_64, &uc);
    uc_mem_map_ptr(uc, 0, ram_size, UC_PROT_ALL, ram);
    uc_mem_map_ptr(uc, asi_abi::kKernelWindowBase, std::min<uint64_t>(ram_size, 1ull << 30), UC_PROT_ALL, ram);
    uint64_t cr0 = 0x80010033, cr4 = 0x20, rsp = layout.stack_top, rdi = layout.boot_info_pa;
    uc_reg_write(uc, UC_X86_REG_CR3, &layout.boot_cr3);
    uc_reg_write(uc, UC_X86_REG_CR4, &cr4);
    uc_reg_write(uc, UC_X86_REG_CR0, &cr0);
    uc_x86_msr efer{0xc0000080, 0x500};
    uc_reg_write(uc, UC_X86_REG_MSR, &efer);
    uc_reg_write(uc, UC_X86_REG_RSP, &rsp);
    uc_reg_write(uc, UC_X86_REG_RDI, &rdi);
    const uc_err err = uc_emu_start(uc, image.entry, 0x0000800000000000ull, 0, 0);
    uc_close(uc);
    munmap(ram, ram_size);
    return err == UC_ERR_OK;
}

}  // namespace bench
