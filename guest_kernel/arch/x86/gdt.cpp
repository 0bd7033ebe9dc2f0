#include "arch/x86/gdt.h"

#include "arch/x86/percpu.h"
#include "arch/x86/tss.h"

// Segment descriptors (SDM vol. 3A 3.4.5, figure 3-8). In 64-bit mode base and limit are
// ignored for code and data, but the L bit selects 64-bit code (L=1, D=0), P must be 1 and
// DPL sets the privilege. The accessed bit (type bit 0) is preset so the CPU never writes
// the table when loading a selector.
//   0x00af9b000000ffff: G=1 L=1 P=1 DPL=0 S=1 type=0xb (code, execute/read, accessed)
//   0x00cf93000000ffff: G=1 D/B=1 P=1 DPL=0 S=1 type=0x3 (data, read/write, accessed)
//   0x00cff3000000ffff: as above with DPL=3
//   0x00affb000000ffff: 64-bit code with DPL=3
extern "C" {
constinit uint64_t gdt_table[GDT_ENTRIES] = {
    0x0000000000000000,  // null
    0x00af9b000000ffff,  // KERNEL_CS
    0x00cf93000000ffff,  // KERNEL_DS
    0x00cff3000000ffff,  // USER_DS
    0x00affb000000ffff,  // USER_CS
    0,                   // TSS (low half), filled by gdt::init()
    0,                   // TSS (high half)
};
constinit x86::DescriptorTablePointer gdt_pointer = {sizeof(gdt_table) - 1, gdt_table};
}

static_assert(KERNEL_CS == 1 * 8 && KERNEL_DS == 2 * 8);
static_assert(USER_DS == (3 * 8 | 3) && USER_CS == (4 * 8 | 3));
static_assert(TSS_SELECTOR == 5 * 8);

namespace x86::gdt {
namespace {

struct alignas(16) CpuGdt {
    uint64_t entries[GDT_ENTRIES];
    DescriptorTablePointer pointer;
};
constinit CpuGdt g_ap_gdt[percpu::kMaxCpus]{};  // index 0 unused: CPU 0 keeps gdt_table

// 64-bit TSS descriptor (SDM vol. 3A 7.2.3, figure 7-4): 16 bytes, type 0x9 (available
// 64-bit TSS), P=1, DPL=0, limit = sizeof(TSS) - 1, 64-bit base split over both halves.
void set_tss_descriptor(uint64_t* table, const Tss64& tss) {
    const uint64_t base = reinterpret_cast<uint64_t>(&tss);
    const uint64_t limit = sizeof(Tss64) - 1;
    uint64_t low = limit & 0xffff;
    low |= (base & 0xffffff) << 16;
    low |= uint64_t(0x89) << 40;  // P=1, DPL=0, type=1001b
    low |= ((limit >> 16) & 0xf) << 48;
    low |= ((base >> 24) & 0xff) << 56;
    table[TSS_SELECTOR / 8] = low;
    table[TSS_SELECTOR / 8 + 1] = base >> 32;
}

}  // namespace

void init() {
    set_tss_descriptor(gdt_table, tss::get(0));
    // The code/data descriptors are the ones kernel_entry64 loaded, so the segment registers'
    // hidden parts are already current; only TR is new. LTR marks the descriptor busy.
    lgdt(gdt_pointer);
    ltr(TSS_SELECTOR);
}

void init_cpu(uint32_t cpu) {
    CpuGdt& g = g_ap_gdt[cpu];
    for (unsigned i = 0; i < TSS_SELECTOR / 8; ++i) g.entries[i] = gdt_table[i];
    set_tss_descriptor(g.entries, tss::get(cpu));
    g.pointer = DescriptorTablePointer{sizeof(g.entries) - 1, g.entries};
    // Same code and data descriptors as gdt_table: the loaded selectors stay valid.
    lgdt(g.pointer);
    ltr(TSS_SELECTOR);
}

}  // namespace x86::gdt
