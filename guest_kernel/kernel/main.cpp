// The common 64-bit boot path, reached from kernel_entry64 (boot/entry64.S) on both the
// asi-emu and the PVH path, with the kernel's GDT loaded and on the boot stack: CPU 0's.
// The other CPUs wait in kernel_entry64 until start_secondary_cpus() (kernel/smp.h).
#include <stdint.h>

#include "abi/asi_emu_abi.h"
#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/cpu_features.h"
#include "arch/x86/extable.h"
#include "arch/x86/gdt.h"
#include "arch/x86/idt.h"
#include "arch/x86/syscall.h"
#include "arch/x86/tss.h"
#include "boot/boot_info.h"
#include "drivers/debug_exit.h"
#include "drivers/pic8259.h"
#include "fuzz/fuzz_mode.h"
#include "kernel/boot_config.h"
#include "kernel/image.h"
#include "kernel/lkdtm.h"
#include "kernel/panic.h"
#include "kernel/smp.h"
#include "kernel/tick.h"
#include "kernel/workload_run.h"
#include "lib/cmdline.h"
#include "lib/printf.h"
#include "mm/asi/asi.h"
#include "mm/asi/fault_injection.h"
#include "mm/asi/restricted_map.h"
#include "mm/early_frame_allocator.h"
#include "mm/kernel_mappings.h"
#include "mm/kernel_page_allocator.h"
#include "mm/tlb.h"
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
    const mm::PageAllocLayout& l = mm::page_alloc_layout();
    const mm::KernelPageAllocator& a = mm::page_allocator();
    kprintf("asi-guest: page allocator (%s): %lu pages in %u ranges [%#lx-%#lx), %lu KiB metadata at %#lx\n",
            a.policy_name(), a.usable_pages(), l.ranges, l.first_pa, l.end_pa, l.metadata_bytes >> 10,
            l.metadata_pa);
    if (asi::enabled()) {
        const asi::rmap::Stats& r = asi::rmap::stats();
        kprintf("asi-guest: ASI on: restricted CR3 %#lx (PCID %lu), %lu preallocated tables, %lu own / %lu shared "
                "2 MiB blocks, %lu pages mapped at init\n",
                asi::rmap::root(), mm::tlb::pcid(mm::tlb::Space::kRestricted), r.table_frames, r.own_blocks,
                r.shared_blocks, r.present_at_init);
    } else {
        kprintf("asi-guest: ASI off\n");
    }
    if (x86::apic::available() && tick::enabled())
        kprintf("asi-guest: SMP: %u of %u CPU(s) online (x2APIC), tick every %u instructions\n",
                smp::online_count(), smp::cpu_count(), tick::kTickInstructions);
    else if (x86::apic::available())
        kprintf("asi-guest: SMP: %u of %u CPU(s) online (x2APIC), no periodic tick (nolapic_timer)\n",
                smp::online_count(), smp::cpu_count());
    else
        kprintf("asi-guest: SMP: no x2APIC: CPU 0 only, no tick\n");
}

[[noreturn]] void bad_option(const char* message) {
    kprintf("asi-guest: bad command line: %s\n", message);
    debug_exit::exit(asi_abi::kGuestExitFailure);
}

}  // namespace

extern "C" [[noreturn]] void kernel_main(uint64_t boot_info_pa) {
    boot::adopt_boot_info(boot_info_pa);
    const asi_abi::BootInfo& bi = boot::info();
    kprintf("asi-guest: booting via %s, command line \"%s\"\n",
            boot::booted_via_pvh() ? "PVH (32-bit entry)" : "the 64-bit entry", bi.cmdline);

    VERIFY(image::start_phys() == asi_abi::kKernelLoadPhys);  // kernel.ld's KERNEL_LOAD_PHYS

    config::BootConfig cfg;
    char error[128];
    if (!config::parse(bi.cmdline, bi.rng_seed, &cfg, error, sizeof error)) bad_option(error);
    asi::set_injected_bug(cfg.bug);

    x86::detect_features();
    if (cfg.nopcid) x86::clear_pcid_feature();
    if (cfg.noinvpcid) x86::clear_invpcid_feature();
    x86::tss::init();
    x86::gdt::init();
    x86::idt::init();
    pic8259::init_masked();  // before any interrupt window: only the local APIC delivers

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

    mm::PageAllocConfig pa_cfg;
    pa_cfg.asi = cfg.asi;
    pa_cfg.policy = config::policy_name(cfg.policy);
    pa_cfg.l1tf_invert = cfg.l1tf_invert;
    mm::init_page_allocator(pa_cfg);
    smp::init_boot_cpu(cfg.lapic_timer);
    smp::start_secondary_cpus();

    if (cmdline.find("test", &value)) debug_exit::exit(ktap::run(value));

    print_banner();
    if (cfg.fuzz) fuzz_mode::run(cfg);
    debug_exit::exit(kernel_workload::run(cfg));
}
