// CPU features the kernel depends on, read once with CPUID at boot.
#pragma once
#include <stdint.h>

namespace x86 {

struct Features {
    char vendor[13];
    uint32_t max_leaf;
    uint32_t max_ext_leaf;
    uint32_t family, model, stepping;
    bool pcid;        // CPUID.01H:ECX[17]: CR4.PCIDE may be set
    bool invpcid;     // CPUID.(07H,0):EBX[10]
    bool nx;          // CPUID.80000001H:EDX[20]: EFER.NXE may be set
    bool syscall;     // CPUID.80000001H:EDX[11]: SYSCALL/SYSRET in 64-bit mode
    bool long_mode;   // CPUID.80000001H:EDX[29]
    bool pge;         // CPUID.01H:EDX[13]
    bool x2apic;      // CPUID.01H:ECX[21]: the local APIC's x2APIC mode (SDM vol. 3A 10.12.1)
    bool page_1g;     // CPUID.80000001H:EDX[26]
    uint32_t phys_addr_bits;  // CPUID.80000008H:EAX[7:0] (36 if the leaf is absent)
    uint32_t virt_addr_bits;  // CPUID.80000008H:EAX[15:8] (48 if absent)
};

void detect_features();
const Features& features();
// Boot options `nopcid` and `noinvpcid` (Linux's names): the kernel behaves as if CPUID had
// not reported the feature. Must run before the kernel address space is activated.
void clear_pcid_feature();
void clear_invpcid_feature();

}  // namespace x86
