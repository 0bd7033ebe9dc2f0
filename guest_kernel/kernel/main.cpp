// The common 64-bit boot path, reached from kernel_entry64 (boot/entry64.S) on both the
// asi-emu and the PVH path, with the kernel's GDT loaded and on the boot stack.
#include <stdint.h>

#include "abi/asi_emu_abi.h"
#include "arch/x86/cpu.h"
#include "arch/x86/cpu_features.h"
#include "arch/x86/extable.h"
#include "arch/x86/gdt.h"
#include "arch/x86/idt.h"
#include "arch/x86/syscall.h"
#include "arch/x86/tss.h"
#include "boot/boot_info.h"
#include "drivers/debug_exit.h"
#include "kernel/image.h"
#include "kernel/lkdtm.h"
#include "kernel/panic.h"
#include "lib/cmdline.h"
#include "lib/printf.h"
#include "mm/early_frame_allocator.h"
#include "mm/kernel_mappings.h"
#include "test/ktap.h"

namespace {

// The PVH early tables map 1 GiB; asi-emu's boot tables map all RAM. Page tables built before
// the switch are reached through that identity mapping, so their frames must lie below it.
constexpr uint64_t kBootIdentityLimit = 1ull << 30;

void print_banner() {
    const asi_abi::BootInfo& bi = boot::info();
    const x86::Features& f = x86::features();
    kprintf("asi-guest: memory map (%u regions):\n", bi.region_count);
    uint64_t usable = 0;
    for (uint32_t i = 0; i < bi.region_count; ++i) {
        const asi_abi::MemoryRegion& r = bi.regions[i];
        kprintf("  [%#014lx-%#014lx] %-12s %8lu KiB\n", r.base, r.base + r.length - 1,
                boot::memory_type_name(r.type), r.length >> 10);
        if (r.type == asi_abi::kMemoryUsable) usable += r.length;
    }
    kprintf("asi-guest: %lu MiB usable, %u CPU(s), this is CPU %u, rng seed %#lx\n", usable >> 20,
            bi.cpu_count, bi.cpu_id, bi.rng_seed);
    kprintf("asi-guest: CPU '%s' family %#x model %#x: pcid=%d invpcid=%d nx=%d syscall=%d\n",
            f.vendor, f.family, f.model, f.pcid, f.invpcid, f.nx, f.syscall);
    const mm::KernelMapStats& s = mm::kernel_map_stats();
    kprintf("asi-guest: kernel CR3 %#lx (PCID %lu); image %lu x 4K; direct map %lu x 2M + %lu x 4K "
            "up to %#lx; %lu table frames; %lu early frames used\n",
            mm::kernel_cr3(), mm::kernel_pcid(), s.image_pages, s.direct_2m, s.direct_4k,
            s.direct_map_end, s.table_frames, mm::early_frames().allocated());
    kprintf("asi-guest: %lu exception-table entries\n", x86::extable::entry_count());
    kprintf("asi-guest: no workload selected (options: test=all|NAME[,NAME...], lkdtm=NAME)\n");
}

}  // namespace

extern "C" [[noreturn]] void kernel_main(uint64_t boot_info_pa) {
    boot::adopt_boot_info(boot_info_pa);
    const asi_abi::BootInfo& bi = boot::info();
    kprintf("asi-guest: booting via %s, command line \"%s\"\n",
            boot::booted_via_pvh() ? "PVH (32-bit entry)" : "the 64-bit entry", bi.cmdline);

    VERIFY(image::start_phys() == asi_abi::kKernelLoadPhys);  // kernel.ld's KERNEL_LOAD_PHYS

    x86::detect_features();
    x86::tss::init();
    x86::gdt::init();
    x86::idt::init();

    mm::early_frames().init(bi, image::start_phys(), image::end_phys(), boot::loader_block_phys());
    mm::early_frames().set_limit(kBootIdentityLimit);
    mm::build_kernel_address_space();
    mm::activate_kernel_address_space();
    x86::syscall::init();

    const CommandLine cmdline(bi.cmdline);
    StringView value;
    if (cmdline.find("lkdtm", &value)) {
        lkdtm::trigger(value);
        debug_exit::exit(asi_abi::kGuestExitFailure);
    }
    if (cmdline.find("test", &value)) debug_exit::exit(ktap::run(value));

    print_banner();
    debug_exit::exit(asi_abi::kGuestExitSuccess);
}
