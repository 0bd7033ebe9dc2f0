// The kernel's own mappings: the direct-map alias of image data, per-segment permissions,
// and write protection of read-only pages in supervisor mode (CR0.WP=1, SDM vol. 3A 4.6.1).
#include "arch/x86/extable.h"
#include "arch/x86/idt.h"
#include "arch/x86/probe.h"
#include "kernel/image.h"
#include "mm/kernel_mappings.h"
#include "test/tests.h"

namespace tests {
namespace {

constinit volatile uint64_t g_alias_word = 0x1111222233334444;
// const volatile with a constant initializer: emitted into .rodata, never optimised away.
[[gnu::used]] const volatile uint64_t g_readonly_word = 0x0123456789abcdef;

// #PF error code bits (SDM vol. 3A 4.7).
constexpr uint64_t kPfPresent = 1, kPfWrite = 2;

uint64_t addr(const volatile void* p) { return reinterpret_cast<uint64_t>(p); }

}  // namespace

void direct_map_alias(ktap::Test& t) {
    const uint64_t va = addr(&g_alias_word);
    const uint64_t pa = image::virt_to_phys(const_cast<const uint64_t*>(&g_alias_word));
    auto* alias = reinterpret_cast<volatile uint64_t*>(mm::direct_map_va(pa));
    t.diag("image VA %#lx, PA %#lx, direct-map VA %p", va, pa, const_cast<uint64_t*>(alias));

    mm::KernelPageTable& pt = mm::kernel_page_table();
    const mm::Translation ti = pt.translate(va);
    const mm::Translation td = pt.translate(mm::direct_map_va(pa));
    KT_EXPECT(t, ti.present && td.present);
    KT_EXPECT_EQ(t, ti.pa, pa);
    KT_EXPECT_EQ(t, td.pa, pa);

    KT_EXPECT_EQ(t, *alias, g_alias_word);
    g_alias_word = 0xa5a5a5a5deadbeef;
    KT_EXPECT_EQ(t, *alias, 0xa5a5a5a5deadbeefull);
    *alias = 0x5a5a5a5acafef00d;
    KT_EXPECT_EQ(t, g_alias_word, 0x5a5a5a5acafef00dull);
}

void kernel_page_tables(ktap::Test& t) {
    mm::KernelPageTable& pt = mm::kernel_page_table();
    const bool nx = mm::nx_flag() != 0;
    struct Check {
        const char* what;
        uint64_t va;
        bool writable;
        bool executable;
    };
    const uint64_t text = addr(__text_start);
    const uint64_t rodata = addr(__rodata_start);
    const uint64_t data = addr(__data_start);
    const uint64_t bss = addr(__bss_end) - 1;
    const Check checks[] = {
        {"text", text, false, true},
        {"rodata", rodata, false, !nx},
        {"data", data, true, !nx},
        {"bss", bss, true, !nx},
        {"text via direct map", mm::direct_map_va(image::virt_to_phys(__text_start)), false, !nx},
        {"rodata via direct map", mm::direct_map_va(image::virt_to_phys(__rodata_start)), false, !nx},
        {"data via direct map", mm::direct_map_va(image::virt_to_phys(__data_start)), true, !nx},
    };
    for (const Check& c : checks) {
        const mm::Translation tr = pt.translate(c.va);
        if (!tr.present) {
            t.fail("%s (%#lx) is not mapped", c.what, c.va);
            continue;
        }
        if (tr.writable != c.writable || tr.no_execute == c.executable || tr.user)
            t.fail("%s (%#lx): writable=%d nx=%d user=%d, expected writable=%d nx=%d user=0", c.what,
                   c.va, tr.writable, tr.no_execute, tr.user, c.writable, !c.executable);
        if ((tr.entry & mm::pte::kGlobal) != 0) t.fail("%s: global page", c.what);
    }
    // The image is mapped with 4 KiB pages; the direct map of the image's 2 MiB block too.
    KT_EXPECT_EQ(t, pt.translate(text).level, 1u);
    KT_EXPECT_EQ(t, pt.translate(mm::direct_map_va(image::start_phys())).level, 1u);
    // No identity mapping after the switch.
    KT_EXPECT(t, !pt.translate(image::start_phys()).present);
    KT_EXPECT(t, !pt.translate(0).present);
    const mm::KernelMapStats& s = mm::kernel_map_stats();
    t.diag("image 4K pages %lu, direct map 2M %lu + 4K %lu up to %#lx, table frames %lu",
           s.image_pages, s.direct_2m, s.direct_4k, s.direct_map_end, s.table_frames);
}

void write_to_readonly(ktap::Test& t) {
    const uint64_t va = addr(&g_readonly_word);
    if (!KT_EXPECT(t, va >= addr(__rodata_start) && va < addr(__rodata_end))) return;
    const uint64_t alias = mm::direct_map_va(image::virt_to_phys(__rodata_start) + (va - addr(__rodata_start)));
    const uint64_t targets[] = {va, alias};
    for (uint64_t target : targets) {
        x86::ExpectException ex;
        const bool wrote = probe_write_u64(target, 0xbadbadbadbad);
        KT_EXPECT(t, !wrote);
        KT_EXPECT_EQ(t, ex.count(), 1u);
        KT_EXPECT_EQ(t, ex.last().vector, x86::idt::kPageFault);
        KT_EXPECT_EQ(t, ex.last().error_code, kPfPresent | kPfWrite);
        KT_EXPECT_EQ(t, ex.last().cr2, target);
        KT_EXPECT_EQ(t, ex.last().rip, reinterpret_cast<uint64_t>(&probe_write_u64));
    }
    KT_EXPECT_EQ(t, g_readonly_word, 0x0123456789abcdefull);
}

}  // namespace tests
