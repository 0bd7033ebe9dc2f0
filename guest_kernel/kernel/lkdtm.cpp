#include "kernel/lkdtm.h"

#include "abi/asi_emu_abi.h"
#include "arch/x86/cpu.h"
#include "arch/x86/idt.h"
#include "drivers/debug_exit.h"
#include "kernel/image.h"
#include "kernel/panic.h"
#include "lib/printf.h"
#include "mm/early_frame_allocator.h"
#include "mm/kernel_mappings.h"
#include "mm/kernel_va.h"

extern "C" [[noreturn]] void overflow_stack(void* top);

namespace lkdtm {
namespace {

// The text WRITE_KERN_TEXT overwrites; never called.
[[gnu::noinline, gnu::used]] void write_target() { __asm__ volatile("nop; nop; nop; nop"); }

[[noreturn]] void triple_fault() {
    kprintf("lkdtm: TRIPLE_FAULT: loading an empty IDT and executing UD2\n");
    x86::idt::load_empty();
    __asm__ volatile("ud2");
    __builtin_unreachable();
}

[[noreturn]] void infinite_loop() {
    kprintf("lkdtm: INFINITE_LOOP: spinning with interrupts off\n");
    x86::cli();
    for (;;) __asm__ volatile("" ::: "memory");
}

[[noreturn]] void write_kern_text() {
    const uint64_t text_va = reinterpret_cast<uint64_t>(&write_target);
    const uint64_t pa = image::virt_to_phys(reinterpret_cast<const void*>(&write_target));
    const uint64_t alias = mm::direct_map_va(pa);
    kprintf("lkdtm: WRITE_KERN_TEXT: text %#lx (PA %#lx) through the direct-map alias %#lx\n",
            text_va, pa, alias);
    // The image's 2 MiB blocks are mapped with 4 KiB pages in the direct map, read-only for
    // text. Make this one alias writable in the kernel's own tables: a kernel that goes
    // rogue can always do that, which is why the emulator watches the text frames.
    if (mm::kernel_page_table().protect_4k(alias, mm::pte::kWritable, 0) != mm::MapError::kOk)
        panic("lkdtm: the text alias %#lx is not a 4 KiB mapping", alias);
    x86::invlpg(alias);  // R/O -> R/W: drop the cached read-only translation
    *reinterpret_cast<volatile uint8_t*>(alias) = 0xcc;  // INT3 over the first byte
    kprintf("lkdtm: WRITE_KERN_TEXT: kernel text was modified and nothing stopped it\n");
    debug_exit::exit(asi_abi::kGuestExitFailure);
}

[[noreturn]] void exception() {
    kprintf("lkdtm: EXCEPTION: reading a non-canonical address without a fixup\n");
    (void)*reinterpret_cast<volatile uint64_t*>(0x8000000000000000ull);
    panic("lkdtm: EXCEPTION: the access did not fault");
}

[[noreturn]] void bug() {
    kprintf("lkdtm: BUG: UD2 without a fixup\n");
    __asm__ volatile("ud2");
    __builtin_unreachable();
}

[[noreturn]] void exhaust_stack() {
    const uint64_t base = mm::vmalloc_range().allocate(2);
    if (base == 0) panic("lkdtm: no address space");
    const uint64_t stack = base + mm::pte::k4K;  // base itself stays unmapped: the guard
    if (mm::kernel_page_table().map_4k(stack, mm::allocate_zeroed_frame(),
                                       mm::pte::kWritable | mm::nx_flag()) != mm::MapError::kOk)
        panic("lkdtm: cannot map the stack");
    kprintf("lkdtm: EXHAUST_STACK: overflowing a stack with guard page %#lx\n", base);
    overflow_stack(reinterpret_cast<void*>(stack + mm::pte::k4K));
}

struct Crash {
    const char* name;
    void (*fn)();
};
constexpr Crash kCrashes[] = {
    {"TRIPLE_FAULT", triple_fault}, {"INFINITE_LOOP", infinite_loop},
    {"WRITE_KERN_TEXT", write_kern_text}, {"EXCEPTION", exception},
    {"BUG", bug}, {"EXHAUST_STACK", exhaust_stack},
};

}  // namespace

void trigger(StringView name) {
    for (const Crash& c : kCrashes) {
        if (name.equals(c.name)) c.fn();
    }
    kprintf("lkdtm: unknown crash type '%.*s'; known:", static_cast<int>(name.size), name.data);
    for (const Crash& c : kCrashes) kprintf(" %s", c.name);
    kprintf("\n");
}

}  // namespace lkdtm
