// ASI transitions and the restricted address space's shape: the state machine of
// asi_enter/asi_relax/asi_exit, the page-fault exit (a fault on sensitive memory while
// restricted exits and retries), the kernel-half sharing with the unrestricted root, and the
// rule "no global pages while ASI is on" (series patch "x86/mm/asi: don't use global pages
// when ASI enabled").
#include "arch/x86/cpu.h"
#include "arch/x86/extable.h"
#include "arch/x86/idt.h"
#include "arch/x86/probe.h"
#include "mm/asi/asi.h"
#include "mm/asi/fault_injection.h"
#include "mm/asi/restricted_map.h"
#include "mm/kernel_mappings.h"
#include "mm/kernel_page_allocator.h"
#include "mm/kernel_va.h"
#include "mm/phys.h"
#include "mm/pte.h"
#include "mm/tlb.h"
#include "test/tests.h"

namespace tests {
namespace {

using asi::ExitReason;

uint64_t exits(ExitReason r) { return asi::counters().exits[static_cast<uint32_t>(r)]; }
uint64_t cr3_root() { return x86::read_cr3() & ~x86::kCr3PcidMask; }
uint64_t cr3_pcid() { return x86::read_cr3() & x86::kCr3PcidMask; }

}  // namespace

void asi_state(ktap::Test& t) {
    if (!asi::enabled()) return t.skip("ASI is off (asi=off)");
    KT_EXPECT(t, asi::state() == asi::State::kUnrestricted);
    KT_EXPECT_EQ(t, x86::read_cr3(), mm::kernel_cr3());
    const asi::Counters before = asi::counters();

    asi::enter();
    KT_EXPECT(t, asi::state() == asi::State::kRestrictedTense);
    KT_EXPECT_EQ(t, cr3_root(), asi::rmap::root());
    KT_EXPECT_EQ(t, cr3_pcid(), mm::tlb::pcid(mm::tlb::Space::kRestricted));
    KT_EXPECT_EQ(t, asi::counters().entries, before.entries + 1);
    // A transition counts both mitigations.
    KT_EXPECT_EQ(t, asi::counters().l1d_flushes, before.l1d_flushes + 1);
    KT_EXPECT_EQ(t, asi::counters().branch_predictor_barriers, before.branch_predictor_barriers + 1);

    asi::relax();
    KT_EXPECT(t, asi::state() == asi::State::kRestrictedRelaxed);
    KT_EXPECT_EQ(t, cr3_root(), asi::rmap::root());

    asi::enter();  // already restricted: a new critical section, no switch
    KT_EXPECT(t, asi::state() == asi::State::kRestrictedTense);
    KT_EXPECT_EQ(t, asi::counters().entries, before.entries + 1);

    asi::exit(ExitReason::kOther);
    KT_EXPECT(t, asi::state() == asi::State::kUnrestricted);
    KT_EXPECT_EQ(t, x86::read_cr3(), mm::kernel_cr3());
    KT_EXPECT_EQ(t, exits(ExitReason::kOther), before.exits[static_cast<uint32_t>(ExitReason::kOther)] + 1);
    KT_EXPECT_EQ(t, asi::counters().exits_total(), before.exits_total() + 1);

    asi::exit(ExitReason::kOther);  // not restricted: nothing happens, nothing is counted
    KT_EXPECT_EQ(t, asi::counters().exits_total(), before.exits_total() + 1);

    // The way back to user mode leaves ASI (user mappings live in the unrestricted root).
    asi::enter();
    asi::prepare_return_to_user();
    KT_EXPECT(t, asi::state() == asi::State::kUnrestricted);
    KT_EXPECT_EQ(t, exits(ExitReason::kReturnToUser),
                 before.exits[static_cast<uint32_t>(ExitReason::kReturnToUser)] + 1);
    t.diag("restricted CR3 %#lx PCID %lu; unrestricted %#lx", asi::rmap::root(),
           mm::tlb::pcid(mm::tlb::Space::kRestricted), mm::kernel_cr3());
}

// A read of a sensitive page while restricted faults (not present in the restricted direct
// map), exits ASI with reason "page fault" and completes on the retry with the right value.
// A nonsensitive page is read without leaving; a truly unmapped address still faults.
void asi_fault_exit(ktap::Test& t) {
    if (!asi::enabled()) return t.skip("ASI is off (asi=off)");
    constexpr uint64_t kValue = 0x5ec2e7000000a51ull;
    const uint64_t secret = mm::alloc_pages(0, page_alloc::GFP_USER, 1);
    const uint64_t plain = mm::alloc_pages(0, page_alloc::GFP_KERNEL | page_alloc::kGfpZero);
    if (!KT_EXPECT(t, secret != 0 && plain != 0)) return;
    *static_cast<volatile uint64_t*>(mm::phys_to_virt(secret)) = kValue;
    const uint64_t pf_before = exits(ExitReason::kPageFault);

    asi::enter();
    const uint64_t zero = *static_cast<volatile uint64_t*>(mm::phys_to_virt(plain));
    KT_EXPECT(t, asi::in_restricted());
    KT_EXPECT_EQ(t, zero, 0u);
    KT_EXPECT_EQ(t, exits(ExitReason::kPageFault), pf_before);

    const uint64_t read = *static_cast<volatile uint64_t*>(mm::phys_to_virt(secret));
    KT_EXPECT_EQ(t, read, kValue);
    KT_EXPECT(t, !asi::in_restricted());
    KT_EXPECT_EQ(t, x86::read_cr3(), mm::kernel_cr3());
    KT_EXPECT_EQ(t, exits(ExitReason::kPageFault), pf_before + 1);

    // Not ASI's fault: a guard page of the vmalloc area is unmapped in both spaces.
    const uint64_t va = mm::vmalloc_range().allocate(1);
    asi::enter();
    {
        x86::ExpectException ex;
        uint64_t v = 0;
        KT_EXPECT(t, !probe_read_u64(va + mm::pte::k4K, &v));
        KT_EXPECT_EQ(t, ex.count(), 1u);
        KT_EXPECT_EQ(t, ex.last().vector, x86::idt::kPageFault);
    }
    KT_EXPECT(t, asi::in_restricted());
    KT_EXPECT_EQ(t, exits(ExitReason::kPageFault), pf_before + 1);
    asi::exit(ExitReason::kOther);

    mm::free_pages(secret, 0);
    mm::free_pages(plain, 0);
}

// The restricted root shares the kernel half of the unrestricted root, except the direct
// map; the user half is empty; CR4.PGE stays clear.
void asi_address_space_shape(ktap::Test& t) {
    if (!asi::enabled()) return t.skip("ASI is off (asi=off)");
    if (!asi::bug(asi::Bug::kGlobalRestricted)) KT_EXPECT(t, !(x86::read_cr4() & x86::kCr4Pge));
    const uint64_t* restricted = static_cast<const uint64_t*>(mm::phys_to_virt(asi::rmap::root()));
    const uint64_t* kernel = static_cast<const uint64_t*>(mm::phys_to_virt(mm::kernel_root()));
    const unsigned direct = mm::pte::pml4_index(asi_abi::kDirectMapBase);
    uint32_t shared = 0, user = 0;
    for (unsigned i = 0; i < 512; ++i) {
        if (i < 256) {
            user += (restricted[i] & mm::pte::kPresent) != 0;
        } else if (i != direct && (kernel[i] & mm::pte::kPresent)) {
            KT_EXPECT_EQ(t, restricted[i] & mm::pte::kAddrMask, kernel[i] & mm::pte::kAddrMask);
            ++shared;
        }
    }
    KT_EXPECT_EQ(t, user, 0u);
    KT_EXPECT(t, shared >= 2);  // the kernel image and the vmalloc area at least
    KT_EXPECT((t), (restricted[direct] & mm::pte::kAddrMask) != (kernel[direct] & mm::pte::kAddrMask));
    // The kernel image (this code) is mapped in both.
    const uint64_t text = reinterpret_cast<uint64_t>(&asi_address_space_shape);
    KT_EXPECT_EQ(t, restricted[mm::pte::pml4_index(text)], kernel[mm::pte::pml4_index(text)]);
    t.diag("%u shared kernel-half PML4 entries", shared);
}

}  // namespace tests
