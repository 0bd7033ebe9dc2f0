// A kernel stack overflow into an unmapped guard page must end in #DF on the IST1 stack
// (SDM vol. 3A 6.14.5 IST, 6.15 "Interrupt 8": error code 0, saved CS:RIP undefined), and
// the kernel must be able to carry on afterwards.
#include "arch/x86/asm_defs.h"
#include "arch/x86/extable.h"
#include "arch/x86/idt.h"
#include "arch/x86/recovery.h"
#include "arch/x86/tss.h"
#include "mm/early_frame_allocator.h"
#include "mm/kernel_mappings.h"
#include "mm/kernel_va.h"
#include "test/tests.h"

extern "C" [[noreturn]] void overflow_stack(void* top);
extern "C" char boot_stack_bottom[], boot_stack_top[];

namespace tests {
namespace {

constexpr uint64_t kStackPages = 3;

void run_overflow(void* top) { overflow_stack(top); }

uint64_t current_rsp() {
    uint64_t rsp;
    __asm__ volatile("movq %%rsp, %0" : "=r"(rsp));
    return rsp;
}

}  // namespace

void double_fault_ist(ktap::Test& t) {
    // [guard][stack page x3]: the lowest page stays unmapped.
    const uint64_t base = mm::vmalloc_range().allocate(1 + kStackPages);
    if (!KT_EXPECT(t, base != 0)) return;
    const uint64_t guard = base;
    const uint64_t top = base + (1 + kStackPages) * mm::pte::k4K;
    for (uint64_t va = guard + mm::pte::k4K; va < top; va += mm::pte::k4K) {
        const mm::MapError e = mm::kernel_page_table().map_4k(
            va, mm::allocate_zeroed_frame(), mm::pte::kWritable | mm::nx_flag());
        if (e != mm::MapError::kOk) {
            t.fail("mapping the test stack: %s", mm::map_error_name(e));
            return;
        }
    }
    t.diag("test stack [%#lx, %#lx), guard page %#lx", guard + mm::pte::k4K, top, guard);

    x86::ExpectException ex;
    const bool abandoned = x86::recovery::run(
        [](void* arg) { run_overflow(arg); }, reinterpret_cast<void*>(top),
        x86::recovery::vector_bit(x86::idt::kDoubleFault));
    const x86::ExceptionRecord rec = ex.last();

    KT_EXPECT(t, abandoned);
    KT_EXPECT_EQ(t, ex.count(), 1u);
    KT_EXPECT_EQ(t, rec.vector, x86::idt::kDoubleFault);
    KT_EXPECT_EQ(t, rec.error_code, 0u);
    const x86::StackRange ist1 = x86::tss::ist_stack(IST_DOUBLE_FAULT);
    if (!ist1.contains(rec.handler_rsp))
        t.fail("#DF handler ran on %#lx, outside the IST1 stack [%#lx, %#lx)", rec.handler_rsp,
               ist1.bottom, ist1.top);
    t.diag("#DF: handler RSP %#lx (IST1 [%#lx, %#lx)), interrupted RSP %#lx", rec.handler_rsp,
           ist1.bottom, ist1.top, rec.rsp);
    // The interrupted RSP is where the push into the guard page failed.
    KT_EXPECT(t, rec.rsp >= guard && rec.rsp <= guard + mm::pte::k4K + 64);

    // Back on the boot stack with the harness intact.
    const uint64_t rsp = current_rsp();
    KT_EXPECT(t, rsp >= reinterpret_cast<uint64_t>(boot_stack_bottom) &&
                     rsp < reinterpret_cast<uint64_t>(boot_stack_top));
}

}  // namespace tests
