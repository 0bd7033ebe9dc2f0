// CPU identification and the time-stamp counter.
#include "arch/x86/cpu.h"
#include "arch/x86/cpu_features.h"
#include "mm/kernel_mappings.h"
#include "test/tests.h"

namespace tests {

// The TSC never goes backwards on one CPU (SDM vol. 3B 18.17); asi-emu derives it from the
// instruction count.
void rdtsc_monotonic(ktap::Test& t) {
    constexpr int kReads = 1000;
    uint64_t prev = x86::rdtsc();
    const uint64_t first = prev;
    int backwards = 0;
    for (int i = 0; i < kReads; ++i) {
        const uint64_t now = x86::rdtsc();
        if (now < prev) ++backwards;
        prev = now;
    }
    KT_EXPECT_EQ(t, backwards, 0);
    KT_EXPECT(t, prev > first);
    t.diag("%d reads, TSC advanced by %lu", kReads, prev - first);
}

// Prints what CPUID reports and checks that the kernel's setup follows it.
void cpuid_features(ktap::Test& t) {
    const x86::Features& f = x86::features();
    t.diag("vendor '%s' family %#x model %#x stepping %u, max leaf %#x, max extended leaf %#x",
           f.vendor, f.family, f.model, f.stepping, f.max_leaf, f.max_ext_leaf);
    t.diag("pcid=%d invpcid=%d nx=%d syscall=%d pge=%d 1g-pages=%d, address bits phys %u virt %u",
           f.pcid, f.invpcid, f.nx, f.syscall, f.pge, f.page_1g, f.phys_addr_bits,
           f.virt_addr_bits);
    const uint64_t efer = x86::rdmsr(x86::kMsrEfer);
    const uint64_t cr4 = x86::read_cr4();
    t.diag("CR0 %#lx CR3 %#lx CR4 %#lx EFER %#lx", x86::read_cr0(), x86::read_cr3(), cr4, efer);

    KT_EXPECT(t, f.max_leaf >= 1);
    KT_EXPECT(t, f.max_ext_leaf >= 0x80000001);
    KT_EXPECT(t, f.long_mode);  // we are running in it
    KT_EXPECT(t, efer & x86::kEferLma);
    KT_EXPECT_EQ(t, (cr4 & x86::kCr4Pcide) != 0, f.pcid);
    KT_EXPECT_EQ(t, (efer & x86::kEferNxe) != 0, f.nx);
    KT_EXPECT_EQ(t, (efer & x86::kEferSce) != 0, f.syscall);
    KT_EXPECT_EQ(t, cr4 & x86::kCr4Pge, 0u);
    KT_EXPECT(t, x86::read_cr0() & x86::kCr0Wp);
    KT_EXPECT_EQ(t, x86::read_cr3(), mm::kernel_cr3());
    KT_EXPECT(t, f.virt_addr_bits >= 48);
}

}  // namespace tests
