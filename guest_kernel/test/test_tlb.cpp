// PCID and TLB-invalidation rules (SDM vol. 3A 4.10.1 PCIDs, 4.10.4 invalidation; vol. 2A
// INVPCID; vol. 2B MOV to CR3). These are the rules asi-emu's TLB model implements, so the
// guest checks what the CPU it runs on reports.
#include "arch/x86/cpu.h"
#include "arch/x86/cpu_features.h"
#include "arch/x86/extable.h"
#include "arch/x86/idt.h"
#include "arch/x86/probe.h"
#include "mm/early_frame_allocator.h"
#include "mm/kernel_mappings.h"
#include "mm/kernel_va.h"
#include "mm/tlb.h"
#include "test/tests.h"

namespace tests {
namespace {

constinit volatile uint64_t g_invpcid_target = 0;

bool expect_gp0(ktap::Test& t, x86::ExpectException& ex, const char* what, bool completed) {
    if (completed || ex.count() != 1 || ex.last().vector != x86::idt::kGeneralProtection ||
        ex.last().error_code != 0) {
        t.fail("%s: completed=%d exceptions=%lu vector=%ld error=%#lx, expected #GP(0)", what,
               completed, ex.count(), static_cast<int64_t>(ex.last().vector), ex.last().error_code);
        ex.reset();
        return false;
    }
    ex.reset();
    return true;
}

bool expect_completes(ktap::Test& t, x86::ExpectException& ex, const char* what, bool completed) {
    if (!completed || ex.count() != 0) {
        t.fail("%s: completed=%d exceptions=%lu (vector %ld error %#lx), expected no exception",
               what, completed, ex.count(), static_cast<int64_t>(ex.last().vector),
               ex.last().error_code);
        ex.reset();
        return false;
    }
    return true;
}

}  // namespace

// MOV to CR3 with CR4.PCIDE=1: bits 11:0 are the PCID and stay in CR3; bit 63 only says
// "do not invalidate" and is never stored (SDM vol. 2B MOV, vol. 3A 4.10.4.1).
void cr3_noflush_readback(ktap::Test& t) {
    if (!x86::features().pcid) return t.skip("CPU has no PCID");
    const uint64_t root = mm::kernel_root();
    KT_EXPECT_EQ(t, x86::read_cr3(), mm::kernel_cr3());
    KT_EXPECT(t, x86::read_cr4() & x86::kCr4Pcide);

    // A PCID no address space uses (not ASI's restricted one: that would leave the kernel
    // root's translations cached under it, reachable after the next no-flush asi_enter).
    x86::write_cr3(root | mm::tlb::kTestPcid | x86::kCr3NoFlush);
    const uint64_t with_test_pcid = x86::read_cr3();
    x86::write_cr3(mm::kernel_cr3() | x86::kCr3NoFlush);
    const uint64_t back = x86::read_cr3();
    KT_EXPECT_EQ(t, with_test_pcid, root | mm::tlb::kTestPcid);
    KT_EXPECT_EQ(t, back, mm::kernel_cr3());
}

// Clearing a PTE without INVLPG, then MOV to CR3 with the no-flush bit: the old translation
// may still be used or may be gone (a TLB may drop entries at any time, SDM 4.10.4.3), so a
// read returns the old value or raises #PF; nothing else is allowed. INVLPG then must remove
// it (4.10.4.1).
void stale_after_noflush(ktap::Test& t) {
    if (!x86::features().pcid) return t.skip("CPU has no PCID");
    constexpr uint64_t kMagic = 0x57a1e57a1e57a1e5;
    const uint64_t va = mm::vmalloc_range().allocate(1);
    const uint64_t frame = mm::allocate_zeroed_frame();
    *static_cast<volatile uint64_t*>(mm::phys_to_virt(frame)) = kMagic;
    // Not-present -> present: no invalidation needed (4.10.4.3).
    const mm::MapError e = mm::kernel_page_table().map_4k(va, frame, mm::pte::kWritable | mm::nx_flag());
    if (e != mm::MapError::kOk) return t.fail("map: %s", mm::map_error_name(e));
    KT_EXPECT_EQ(t, *reinterpret_cast<volatile uint64_t*>(va), kMagic);  // now possibly cached

    KT_EXPECT(t, mm::kernel_page_table().unmap_4k(va) == mm::MapError::kOk);
    x86::write_cr3(mm::kernel_cr3() | x86::kCr3NoFlush);

    x86::ExpectException ex;
    uint64_t value = 0;
    const bool read = probe_read_u64(va, &value);
    if (read && ex.count() == 0) {
        if (value == kMagic)
            t.diag("read after no-flush CR3 load used the stale translation (allowed)");
        else
            t.fail("read after no-flush CR3 load returned %#lx, neither the old value nor a fault", value);
    } else if (!read && ex.count() == 1 && ex.last().vector == x86::idt::kPageFault &&
               ex.last().error_code == 0 && ex.last().cr2 == va) {
        t.diag("read after no-flush CR3 load faulted: the translation was not cached (allowed)");
    } else {
        t.fail("read after no-flush CR3 load: completed=%d exceptions=%lu vector=%ld error=%#lx cr2=%#lx",
               read, ex.count(), static_cast<int64_t>(ex.last().vector), ex.last().error_code,
               ex.last().cr2);
    }

    ex.reset();
    x86::invlpg(va);
    KT_EXPECT(t, !probe_read_u64(va, &value));
    KT_EXPECT_EQ(t, ex.count(), 1u);
    KT_EXPECT_EQ(t, ex.last().vector, x86::idt::kPageFault);
    KT_EXPECT_EQ(t, ex.last().error_code, 0u);
    KT_EXPECT_EQ(t, ex.last().cr2, va);
}

// INVPCID's faults (SDM vol. 2A INVPCID, "Protected Mode Exceptions"): #GP(0) for a type
// above 3, for descriptor bits 63:12 not zero, for type 0 with a non-canonical address, and
// for types 0 and 1 with a nonzero PCID while CR4.PCIDE = 0.
void invpcid_types(ktap::Test& t) {
    if (!x86::features().invpcid) return t.skip("CPU has no INVPCID");
    const uint64_t va = reinterpret_cast<uint64_t>(&g_invpcid_target);
    const uint64_t pcid = mm::kernel_pcid();
    x86::ExpectException ex;

    const x86::InvpcidDescriptor own{pcid, va};
    expect_completes(t, ex, "type 0 (address)", probe_invpcid(x86::kInvpcidAddress, &own));
    expect_completes(t, ex, "type 1 (single context)", probe_invpcid(x86::kInvpcidSingleContext, &own));
    expect_completes(t, ex, "type 2 (all, global too)", probe_invpcid(x86::kInvpcidAllIncludingGlobal, &own));
    expect_completes(t, ex, "type 3 (all but global)", probe_invpcid(x86::kInvpcidAllExceptGlobal, &own));

    expect_gp0(t, ex, "type 4", probe_invpcid(4, &own));
    const x86::InvpcidDescriptor wide{0x1000 | pcid, va};
    expect_gp0(t, ex, "PCID field > 0xfff", probe_invpcid(x86::kInvpcidSingleContext, &wide));
    const x86::InvpcidDescriptor non_canonical{pcid, 0x8000000000000000ull};
    expect_gp0(t, ex, "type 0, non-canonical address", probe_invpcid(x86::kInvpcidAddress, &non_canonical));

    // With CR4.PCIDE = 0 only PCID 0 exists. Turning PCIDE back on requires CR3[11:0] = 0
    // (SDM vol. 3A 4.10.1), so drop to PCID 0 first.
    const uint64_t cr4 = x86::read_cr4();
    const bool had_pcide = (cr4 & x86::kCr4Pcide) != 0;
    if (had_pcide) {
        x86::write_cr3(mm::kernel_root());
        x86::write_cr4(cr4 & ~x86::kCr4Pcide);
    }
    const x86::InvpcidDescriptor pcid1{1, va};
    const x86::InvpcidDescriptor pcid0{0, va};
    const bool gp_type0 = probe_invpcid(x86::kInvpcidAddress, &pcid1);
    const uint64_t n0 = ex.count(), v0 = ex.last().vector, e0 = ex.last().error_code;
    ex.reset();
    const bool gp_type1 = probe_invpcid(x86::kInvpcidSingleContext, &pcid1);
    const uint64_t n1 = ex.count(), v1 = ex.last().vector, e1 = ex.last().error_code;
    ex.reset();
    const bool ok_pcid0 = probe_invpcid(x86::kInvpcidAddress, &pcid0) &&
                          probe_invpcid(x86::kInvpcidSingleContext, &pcid0) &&
                          probe_invpcid(x86::kInvpcidAllExceptGlobal, &pcid1);
    const uint64_t n2 = ex.count();
    ex.reset();
    if (had_pcide) {
        x86::write_cr4(cr4);
        x86::write_cr3(mm::kernel_cr3());
    }
    KT_EXPECT_EQ(t, x86::read_cr3(), mm::kernel_cr3());
    if (gp_type0 || n0 != 1 || v0 != x86::idt::kGeneralProtection || e0 != 0)
        t.fail("PCIDE=0, type 0, PCID 1: completed=%d exceptions=%lu vector=%lu error=%#lx", gp_type0, n0, v0, e0);
    if (gp_type1 || n1 != 1 || v1 != x86::idt::kGeneralProtection || e1 != 0)
        t.fail("PCIDE=0, type 1, PCID 1: completed=%d exceptions=%lu vector=%lu error=%#lx", gp_type1, n1, v1, e1);
    if (!ok_pcid0 || n2 != 0) t.fail("PCIDE=0: PCID 0 (types 0, 1) or type 3: %lu exceptions", n2);
}

}  // namespace tests
