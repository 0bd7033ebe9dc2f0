#include "arch/x86/cpu_features.h"

#include "arch/x86/cpu.h"

namespace x86 {
namespace {

constinit Features g_features{};

constexpr bool bit(uint32_t v, unsigned n) { return (v >> n) & 1u; }

void store_vendor_word(char* dst, uint32_t w) {
    for (int i = 0; i < 4; ++i) dst[i] = static_cast<char>(w >> (8 * i));
}

}  // namespace

void detect_features() {
    Features& f = g_features;
    const CpuidResult l0 = cpuid(0);
    f.max_leaf = l0.eax;
    store_vendor_word(f.vendor + 0, l0.ebx);  // "GenuineIntel": EBX, EDX, ECX
    store_vendor_word(f.vendor + 4, l0.edx);
    store_vendor_word(f.vendor + 8, l0.ecx);
    f.vendor[12] = '\0';

    if (f.max_leaf >= 1) {
        const CpuidResult l1 = cpuid(1);
        uint32_t family = (l1.eax >> 8) & 0xf;
        uint32_t model = (l1.eax >> 4) & 0xf;
        if (family == 0xf) family += (l1.eax >> 20) & 0xff;
        if (family == 0x6 || family >= 0xf) model |= ((l1.eax >> 16) & 0xf) << 4;
        f.family = family;
        f.model = model;
        f.stepping = l1.eax & 0xf;
        f.pcid = bit(l1.ecx, 17);
        f.pge = bit(l1.edx, 13);
        f.x2apic = bit(l1.ecx, 21);
    }
    if (f.max_leaf >= 7) {
        const CpuidResult l7 = cpuid(7, 0);
        f.invpcid = bit(l7.ebx, 10);
    }
    f.max_ext_leaf = cpuid(0x80000000).eax;
    if (f.max_ext_leaf >= 0x80000001) {
        const CpuidResult e1 = cpuid(0x80000001);
        f.syscall = bit(e1.edx, 11);
        f.nx = bit(e1.edx, 20);
        f.page_1g = bit(e1.edx, 26);
        f.long_mode = bit(e1.edx, 29);
    }
    f.phys_addr_bits = 36;
    f.virt_addr_bits = 48;
    if (f.max_ext_leaf >= 0x80000008) {
        const CpuidResult e8 = cpuid(0x80000008);
        f.phys_addr_bits = e8.eax & 0xff;
        f.virt_addr_bits = (e8.eax >> 8) & 0xff;
    }
}

const Features& features() { return g_features; }
void clear_pcid_feature() { g_features.pcid = false; }
void clear_invpcid_feature() { g_features.invpcid = false; }

}  // namespace x86
