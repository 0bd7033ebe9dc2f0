// Exception delivery in kernel mode and recovery through exception-table fixups
// (SDM vol. 3A 6.14, 64-bit interrupt handling; 6.15, the per-vector reference).
#include "arch/x86/asm_defs.h"
#include "arch/x86/cpu.h"
#include "arch/x86/extable.h"
#include "arch/x86/extable_asm.h"
#include "arch/x86/idt.h"
#include "arch/x86/probe.h"
#include "mm/kernel_va.h"
#include "test/tests.h"

namespace tests {
namespace {

constinit volatile uint64_t g_mapped_word = 0x600dcafe;

uint64_t fn_addr(const void* f) { return reinterpret_cast<uint64_t>(f); }

// Reads `va`, which must not be mapped, and checks the #PF a supervisor read of a
// not-present page delivers: error code 0 (P=0, W/R=0, U/S=0, SDM vol. 3A 4.7), CR2 = va,
// RIP = the faulting instruction (a fault, so the instruction has not completed).
void expect_not_present_read(ktap::Test& t, x86::ExpectException& ex, uint64_t va,
                             uint64_t expected_count) {
    uint64_t value = 0x1234;
    const bool ok = probe_read_u64(va, &value);
    KT_EXPECT(t, !ok);
    KT_EXPECT_EQ(t, value, 0x1234u);
    KT_EXPECT_EQ(t, ex.count(), expected_count);
    KT_EXPECT_EQ(t, ex.last().vector, x86::idt::kPageFault);
    KT_EXPECT_EQ(t, ex.last().error_code, 0u);
    KT_EXPECT_EQ(t, ex.last().cr2, va);
    KT_EXPECT_EQ(t, ex.last().rip, fn_addr(reinterpret_cast<const void*>(&probe_read_u64)));
    KT_EXPECT_EQ(t, ex.last().cs, KERNEL_CS);
}

}  // namespace

void page_fault_not_present(ktap::Test& t) {
    x86::ExpectException ex;
    // A probe of a mapped address completes without an exception.
    uint64_t value = 0;
    KT_EXPECT(t, probe_read_u64(reinterpret_cast<uint64_t>(&g_mapped_word), &value));
    KT_EXPECT_EQ(t, value, 0x600dcafeu);
    KT_EXPECT_EQ(t, ex.count(), 0u);

    const uint64_t base = mm::vmalloc_range().allocate(1);  // never mapped
    KT_EXPECT(t, base != 0);
    const uint64_t va = base + 0x7a8;  // CR2 holds the exact address, not the page
    expect_not_present_read(t, ex, va, 1);
    // Execution resumed at the fixup: keep going.
    KT_EXPECT(t, probe_read_u64(reinterpret_cast<uint64_t>(&g_mapped_word), &value));
    KT_EXPECT_EQ(t, ex.count(), 1u);
}

// A fault that is delivered successfully ends the exception: the next fault is a new
// first fault, not a double fault (SDM vol. 3A 6.15, table 6-5 applies only to a fault
// raised while delivering another).
void three_page_faults(ktap::Test& t) {
    x86::ExpectException ex;
    for (uint64_t i = 1; i <= 3; ++i) {
        const uint64_t va = mm::vmalloc_range().allocate(1) + 8 * i;
        expect_not_present_read(t, ex, va, i);
    }
}

// #BP is a trap: the saved RIP is the instruction after INT3 (SDM vol. 3A 6.5, 6.15).
void int3(ktap::Test& t) {
    x86::ExpectException ex;
    uint64_t after = 0;
    __asm__ volatile(
        "int3\n\t"
        "1:\n\t"
        "leaq 1b(%%rip), %0\n\t"
        : "=r"(after)
        :
        : "memory");
    KT_EXPECT_EQ(t, ex.count(), 1u);
    KT_EXPECT_EQ(t, ex.last().vector, x86::idt::kBreakpoint);
    KT_EXPECT_EQ(t, ex.last().rip, after);
    KT_EXPECT_EQ(t, ex.last().error_code, 0u);
}

// #UD is a fault: the saved RIP is the UD2 itself.
void ud2(ktap::Test& t) {
    x86::ExpectException ex;
    uint64_t at = 0;
    __asm__ volatile(
        "leaq 1f(%%rip), %0\n\t"
        "1: ud2\n\t"
        "2:\n\t" EXTABLE_ENTRY_STR("1b", "2b")
        : "=r"(at)
        :
        : "memory");
    KT_EXPECT_EQ(t, ex.count(), 1u);
    KT_EXPECT_EQ(t, ex.last().vector, x86::idt::kInvalidOpcode);
    KT_EXPECT_EQ(t, ex.last().rip, at);
}

// A data access to a non-canonical address through a segment other than SS is #GP(0)
// (SDM vol. 3A 6.15 "Interrupt 13"; through SS it would be #SS(0)). No #PF, CR2 unchanged.
void non_canonical(ktap::Test& t) {
    x86::ExpectException ex;
    constexpr uint64_t kNonCanonical = 0x8000000000000000ull;
    uint64_t value = 0;
    KT_EXPECT(t, !probe_read_u64(kNonCanonical, &value));
    KT_EXPECT_EQ(t, ex.count(), 1u);
    KT_EXPECT_EQ(t, ex.last().vector, x86::idt::kGeneralProtection);
    KT_EXPECT_EQ(t, ex.last().error_code, 0u);
    KT_EXPECT_EQ(t, ex.last().rip, fn_addr(reinterpret_cast<const void*>(&probe_read_u64)));
    KT_EXPECT(t, !probe_write_u64(kNonCanonical + 0x1000, 1));
    KT_EXPECT_EQ(t, ex.count(), 2u);
    KT_EXPECT_EQ(t, ex.last().vector, x86::idt::kGeneralProtection);
    KT_EXPECT_EQ(t, ex.last().error_code, 0u);
}

// MOV to DS with a selector whose index is beyond the GDT limit: #GP with the selector's
// index and TI in the error code, i.e. selector & 0xfffc (SDM vol. 3A 6.13, and the MOV
// instruction's protected-mode exceptions in vol. 2B).
void bad_selector(ktap::Test& t) {
    x86::ExpectException ex;
    KT_EXPECT(t, probe_load_ds(KERNEL_DS));  // a valid selector loads
    KT_EXPECT_EQ(t, ex.count(), 0u);
    const uint16_t selectors[] = {0x1003, GDT_ENTRIES * 8, 0xfff8};
    uint64_t n = 0;
    for (uint16_t sel : selectors) {
        KT_EXPECT(t, !probe_load_ds(sel));
        ++n;
        KT_EXPECT_EQ(t, ex.count(), n);
        KT_EXPECT_EQ(t, ex.last().vector, x86::idt::kGeneralProtection);
        KT_EXPECT_EQ(t, ex.last().error_code, sel & 0xfffcu);
        KT_EXPECT_EQ(t, ex.last().rip, fn_addr(reinterpret_cast<const void*>(&probe_load_ds)));
    }
    KT_EXPECT_EQ(t, x86::read_ds(), KERNEL_DS);  // a faulting load leaves DS unchanged
}

}  // namespace tests
