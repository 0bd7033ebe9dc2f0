#include "fuzz/fuzz_mode.h"

#include "abi/asi_emu_abi.h"
#include "arch/x86/cpu.h"
#include "drivers/debug_exit.h"
#include "fuzz/fuzz_ops.h"
#include "fuzz/fuzz_program.h"
#include "kernel/panic.h"
#include "kernel/smp.h"
#include "lib/printf.h"
#include "mm/asi/asi.h"
#include "mm/kernel_page_allocator.h"
#include "mm/phys.h"
#include "mm/pte.h"

namespace fuzz_mode {
namespace {

using fuzz_program::FuzzOp;

// The program being run: CPU 0 decodes it once; run_on passes the other CPUs a pointer into
// it, valid until CPU 0 has waited for them.
constinit FuzzOp g_ops[fuzz_program::kFuzzMaxOps]{};
constinit uint8_t g_cmdline_program[asi_abi::kFuzzProgramMax]{};

// `out` to kFuzzPort, then a jump that ends the instruction block: asi-emu stops the vCPU
// right after it, between two blocks, where it may snapshot or read the request.
void fuzz_port(asi_abi::FuzzCommand command, uint64_t rdi, uint64_t rsi, uint64_t r8) {
    register uint64_t r8_reg __asm__("r8") = r8;
    __asm__ volatile("outl %%eax, %%dx\n\t"
                     "jmp 1f\n"
                     "1:"
                     :
                     : "a"(static_cast<uint32_t>(command)), "d"(asi_abi::kFuzzPort), "D"(rdi), "S"(rsi),
                       "r"(r8_reg)
                     : "memory");
}

uint8_t hex_value(char c) {
    if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
    return static_cast<uint8_t>(c - 'A' + 10);  // validated by config::parse
}

// The program's bytes and header flags: the buffer's when the host wrote a valid header,
// else fuzz.program's (no flags). False when there is neither.
bool find_program(const config::BootConfig& cfg, uint64_t buffer_pa, const uint8_t** bytes, uint32_t* length,
                  uint32_t* flags) {
    const auto* header = static_cast<const volatile asi_abi::FuzzProgramHeader*>(mm::phys_to_virt(buffer_pa));
    *flags = 0;
    if (header->magic == asi_abi::kFuzzProgramMagic && header->length <= asi_abi::kFuzzProgramMax) {
        *bytes = static_cast<const uint8_t*>(mm::phys_to_virt(buffer_pa)) + sizeof(asi_abi::FuzzProgramHeader);
        *length = header->length;
        *flags = header->flags;
        return true;
    }
    if (cfg.fuzz_program_hex == nullptr) return false;
    *length = cfg.fuzz_program_hex_length / 2;
    for (uint32_t i = 0; i < *length; ++i)
        g_cmdline_program[i] = static_cast<uint8_t>(hex_value(cfg.fuzz_program_hex[2 * i]) << 4 |
                                                    hex_value(cfg.fuzz_program_hex[2 * i + 1]));
    *bytes = g_cmdline_program;
    return true;
}

void run_op(void* arg) { execute(*static_cast<const FuzzOp*>(arg)); }

// Runs ops[0, n) in order, each on its CPU, from CPU 0.
void run_program(const FuzzOp* ops, size_t n) {
    uint32_t online[smp::kMaxCpus];
    uint32_t count = 0;
    const uint64_t mask = smp::online_mask();
    for (uint32_t cpu = 0; cpu < smp::kMaxCpus; ++cpu)
        if (mask & smp::cpu_bit(cpu)) online[count++] = cpu;
    for (size_t i = 0; i < n; ++i) {
        x86::interrupt_window();  // between operations, as the workload's
        const uint32_t cpu = online[fuzz_program::cpu_index(ops[i], count)];
        if (cpu == smp::this_cpu()) execute(ops[i]);
        else smp::run_on(cpu, run_op, const_cast<FuzzOp*>(&ops[i]));
    }
}

struct Snapshot {
    uint64_t flips_to_sensitive;
    uint64_t flips_to_nonsensitive;
    asi::Counters asi;  // all online CPUs
};

Snapshot snapshot() {
    const page_alloc::Metrics& m = mm::page_allocator().metrics();
    Snapshot s{m.flips_to_sensitive, m.flips_to_nonsensitive, {}};
    const uint64_t mask = smp::online_mask();
    for (uint32_t cpu = 0; cpu < smp::kMaxCpus; ++cpu) {
        if (!(mask & smp::cpu_bit(cpu))) continue;
        s.asi.add(asi::counters_of(cpu));
    }
    return s;
}

uint64_t pf_exits(const Snapshot& s) { return s.asi.exits[static_cast<uint32_t>(asi::ExitReason::kPageFault)]; }

void print_summary(size_t ops, const Snapshot& before, uint64_t bad_pages) {
    const Snapshot after = snapshot();
    const OpStats& s = op_stats();
    kprintf("asi-guest: fuzz: %lu ops on %u CPU(s); %lu allocations (%lu failed, %lu skipped), %lu frees, "
            "%lu pages touched, %lu interrupts, %lu checks (%lu pageblocks)\n",
            static_cast<uint64_t>(ops), smp::online_count(), s.allocs, s.alloc_failures, s.skipped, s.frees,
            s.touched_pages, s.interrupts, s.checks, s.checked_pageblocks);
    kprintf("asi-guest: fuzz: pageblock flips %lu to sensitive, %lu to nonsensitive; ASI %lu entries, %lu exits "
            "(%lu page fault); %lu bad pages\n",
            after.flips_to_sensitive - before.flips_to_sensitive,
            after.flips_to_nonsensitive - before.flips_to_nonsensitive, after.asi.entries - before.asi.entries,
            after.asi.exits_total() - before.asi.exits_total(), pf_exits(after) - pf_exits(before), bad_pages);
}

}  // namespace

void run(const config::BootConfig& cfg) {
    VERIFY(smp::this_cpu() == 0);
    static_assert(asi_abi::kFuzzBufferSize == mm::pte::k4K);
    const uint64_t buffer = mm::alloc_pages(0, page_alloc::GFP_KERNEL | page_alloc::kGfpZero);
    if (buffer == 0) panic("fuzz: no memory for the program buffer");
    prepare();
    fuzz_port(asi_abi::kFuzzReady, buffer, asi_abi::kFuzzBufferSize, 0);

    const Snapshot before = snapshot();
    const uint8_t* bytes = nullptr;
    uint32_t length = 0, flags = 0;
    size_t n = 0;
    const bool have_program = find_program(cfg, buffer, &bytes, &length, &flags);
    if (have_program) {
        n = fuzz_program::decode(bytes, length, g_ops, fuzz_program::kFuzzMaxOps);
        run_program(g_ops, n);
    }
    const uint64_t bad_pages = mm::page_allocator_arch().bad_pages();
    if (!have_program) kprintf("asi-guest: fuzz: no program (no header in the buffer, no fuzz.program=)\n");
    else if (!(flags & asi_abi::kFuzzQuiet)) print_summary(n, before, bad_pages);
    const asi_abi::FuzzStatus status = !have_program ? asi_abi::kFuzzNoProgram
                                       : bad_pages != 0 ? asi_abi::kFuzzCheckFailed
                                                        : asi_abi::kFuzzOk;
    fuzz_port(asi_abi::kFuzzDone, n, status, bad_pages);
    debug_exit::exit(asi_abi::kGuestExitSuccess);
}

}  // namespace fuzz_mode
