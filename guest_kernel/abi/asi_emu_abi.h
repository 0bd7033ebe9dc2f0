// The contract between the asi-emu host and the guest kernel. Included by both sides, so it
// uses only <stdint.h> and constexpr values: no library, no exceptions, no host types.
//
// Boot protocol (asi-emu acting as a 64-bit boot loader):
//   * PT_LOAD segments are copied to p_paddr.
//   * The boot page tables map [0, RAM) identity and the kernel window
//     kKernelWindowBase + [0, min(RAM, 1 GiB)) with 2 MiB pages, supervisor, writable.
//   * Execution starts at e_entry in 64-bit mode, CPL 0, interrupts disabled, with RDI holding
//     the physical address of a BootInfo block (identity-mapped), RSP pointing into a boot
//     stack inside the BootData region, CR4.PAE=1, EFER.LME/LMA=1, CR0.PG=PE=WP=1.
//   * The same image carries a PVH note (XEN_ELFNOTE_PHYS32_ENTRY) for QEMU's -kernel: that path
//     enters in 32-bit protected mode with EBX = hvm_start_info and the guest converts it into
//     a BootInfo itself.
#pragma once
#include <stdint.h>

namespace asi_abi {

// ---- Address-space layout (Linux's x86-64 layout) --------------------------------------
constexpr uint64_t kKernelWindowBase = 0xffffffff80000000ull;  // __START_KERNEL_map
constexpr uint64_t kDirectMapBase = 0xffff888000000000ull;     // PAGE_OFFSET
constexpr uint64_t kKernelLoadPhys = 0x200000ull;              // image's physical load address
constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kPageblockSize = 2ull << 20;                // pageblock_order 9

// ---- I/O ports ------------------------------------------------------------------------
constexpr uint16_t kCom1Port = 0x3f8;       // 16550 UART, THR at +0, LSR at +5
constexpr uint16_t kDebugExitPort = 0xf4;   // isa-debug-exit: out v -> exit status
constexpr uint16_t kTracePort = 0x0a51;     // asi-emu tracepoints (ignored by QEMU)

// ---- Boot-info block ------------------------------------------------------------------
constexpr uint64_t kBootInfoMagic = 0x4f464e4249534121ull;  // "!ASIBNFO"
constexpr uint32_t kBootInfoVersion = 1;
constexpr uint32_t kMaxMemoryRegions = 32;
constexpr uint32_t kMaxCmdline = 1024;

enum MemoryType : uint32_t {
    kMemoryUsable = 1,
    kMemoryReserved = 2,
    kMemoryKernelImage = 3,  // the PT_LOAD segments, page-rounded
    kMemoryBootData = 4,     // boot tables, boot stack, this block: reclaimable after boot
};

struct MemoryRegion {
    uint64_t base;
    uint64_t length;
    uint32_t type;  // MemoryType
    uint32_t reserved;
};

struct BootInfo {
    uint64_t magic;         // kBootInfoMagic
    uint32_t version;       // kBootInfoVersion
    uint32_t size;          // sizeof(BootInfo)
    uint32_t cpu_count;     // vCPUs in the machine
    uint32_t cpu_id;        // this vCPU (0 = bootstrap processor)
    uint32_t region_count;  // valid entries in regions[]
    uint32_t cmdline_length;  // bytes in cmdline, excluding the NUL
    uint64_t rng_seed;      // the run's seed (same value for every vCPU)
    MemoryRegion regions[kMaxMemoryRegions];
    char cmdline[kMaxCmdline];  // NUL-terminated
};

// ---- SMP (asi-emu --smp N) ------------------------------------------------------------
// Every vCPU powers on at e_entry in the 64-bit boot state above, at the same moment; there
// is no INIT/SIPI. RDI holds the physical address of *that* vCPU's BootInfo (the block for
// CPU n is at the BSP's block + n * 4 KiB; cpu_id = n, cpu_count = N, the rest identical) and
// RSP a 1 KiB boot stack of its own. CPU 0 is the bootstrap processor; application
// processors must wait (PAUSE loop) until the BSP has built what they need. Under QEMU's PVH
// path there is one CPU.
//
// Local APIC: x2APIC mode only (Intel SDM vol. 3A 10.12), advertised by CPUID.01H:ECX[21].
// IA32_APIC_BASE (MSR 0x1b) reads kApicBaseDefault | EN | EXTD (| BSP on CPU 0). The x2APIC
// ID (MSR 0x802) is the cpu_id. Implemented: ID, version, TPR, PPR, EOI, LDR, SVR, ISR, TMR,
// IRR, ESR, ICR (fixed delivery to one x2APIC ID, to self, to all, to all but self; other
// delivery modes are ignored), LVT timer (one-shot and periodic; TSC-deadline is not
// advertised), initial/current count, divide configuration, SELF IPI. The timer and the TSC
// count this vCPU's guest instructions (plus the time it spent halted): one TSC tick = one
// instruction, and the timer decrements once per (divide value) ticks.
constexpr uint32_t kMsrApicBase = 0x1b;
constexpr uint64_t kApicBaseDefault = 0xfee00000ull;
constexpr uint64_t kApicBaseBsp = 1ull << 8, kApicBaseExtd = 1ull << 10, kApicBaseEnable = 1ull << 11;
constexpr uint32_t kMsrX2apicId = 0x802, kMsrX2apicVersion = 0x803, kMsrX2apicTpr = 0x808,
                   kMsrX2apicPpr = 0x80a, kMsrX2apicEoi = 0x80b, kMsrX2apicLdr = 0x80d,
                   kMsrX2apicSvr = 0x80f, kMsrX2apicIsr0 = 0x810, kMsrX2apicTmr0 = 0x818,
                   kMsrX2apicIrr0 = 0x820, kMsrX2apicEsr = 0x828, kMsrX2apicIcr = 0x830,
                   kMsrX2apicLvtTimer = 0x832, kMsrX2apicLvtThermal = 0x833, kMsrX2apicLvtPmi = 0x834,
                   kMsrX2apicLvtLint0 = 0x835, kMsrX2apicLvtLint1 = 0x836, kMsrX2apicLvtError = 0x837,
                   kMsrX2apicInitCount = 0x838, kMsrX2apicCurCount = 0x839, kMsrX2apicDivide = 0x83e,
                   kMsrX2apicSelfIpi = 0x83f;
constexpr uint64_t kApicSvrEnable = 1u << 8;
constexpr uint64_t kApicLvtMasked = 1u << 16;
constexpr uint64_t kApicLvtTimerPeriodic = 1u << 17;
// ICR (SDM vol. 3A 10.12.9): vector 7:0, delivery mode 10:8 (0 = fixed), destination
// shorthand 19:18, x2APIC destination ID 63:32 (0xffffffff: broadcast).
constexpr uint64_t kIcrShorthandNone = 0ull << 18, kIcrShorthandSelf = 1ull << 18,
                   kIcrShorthandAll = 2ull << 18, kIcrShorthandOthers = 3ull << 18;
constexpr uint64_t kIcrLevelAssert = 1ull << 14;
// PAUSE (F3 90) ends the vCPU's time slice when other vCPUs are runnable, as VMX
// pause-loop exiting lets a hypervisor do (SDM vol. 3C 25.1.3): spin-waits cost one pass.

// ---- Tracepoints ----------------------------------------------------------------------
// The guest executes `out %eax, %dx` with DX = kTracePort, EAX = a TraceKind and the
// arguments in RDI, RSI, R8, R9, R10 (RDX is taken by the port). QEMU ignores the write.
// These are the guest's declarations of what only it can know (DESIGN section 3); the
// oracle never takes anything else from the guest.
enum TraceKind : uint32_t {
    // Allocation API boundary: a = physical address, b = order, c = gfp flags, d = owner.
    kTracePageAlloc = 1,
    kTracePageFree = 2,
    // a = root (CR3 physical address), b = PCID, c = kSpaceRestricted/kSpaceUnrestricted,
    // d = owner (0 = kernel, else process id).
    kTraceAddressSpaceRegister = 3,
    kTraceAddressSpaceUnregister = 4,
    // Informational (metrics only). a = pageblock physical address, b = new sensitivity.
    kTracePageblockFlip = 5,
    kTracePagesZeroed = 6,     // a = physical address, b = number of 4 KiB pages
    kTraceTlbFlush = 7,        // a = kind, b = pcid, c = address or 0, d = target cpu mask
    kTraceAsiExit = 8,         // a = reason (AsiExitReason), b = return address of the caller
                               // (of a page-fault exit: the faulting instruction)
    kTraceAsiEnter = 9,        // a = 0, b = return address of the caller
    kTraceMitigation = 10,     // a = kind (kMitigation*)
    kTraceMark = 11,           // a = user value: free-form marker for tests
};

constexpr uint64_t kSpaceUnrestricted = 0;
constexpr uint64_t kSpaceRestricted = 1;

// kTraceAsiExit's reason (argument a); kTraceAsiEnter reports 0. The ASI RFCs count exits
// per reason: a #PF on memory the restricted space does not map, the return to user mode, a
// context switch, a TLB flush that is cheaper done at the next entry, anything else (an
// explicit asi_exit() before touching sensitive data).
enum AsiExitReason : uint64_t {
    kAsiExitPageFault = 1,
    kAsiExitReturnToUser = 2,
    kAsiExitContextSwitch = 3,
    kAsiExitTlbFlush = 4,
    kAsiExitOther = 5,
};

// kTraceMitigation's kind (argument a): what a real kernel would do at an ASI transition.
// The guest only counts them (the emulated CPU has no predictors or L1D to flush).
enum MitigationKind : uint64_t {
    kMitigationBranchPredictor = 1,  // IBPB-style indirect-branch-predictor barrier
    kMitigationL1dFlush = 2,         // MSR_IA32_FLUSH_CMD.L1D_FLUSH
};

// gfp flags the guest reports (a subset of Linux's meanings).
constexpr uint64_t kGfpDirectReclaim = 1u << 0;  // caller may sleep: flushes allowed
constexpr uint64_t kGfpSensitive = 1u << 1;      // __GFP_SENSITIVE
constexpr uint64_t kGfpZero = 1u << 2;
constexpr uint64_t kGfpMovable = 1u << 3;
constexpr uint64_t kGfpReclaimable = 1u << 4;

// ---- In-emulator fuzzing (boot option `fuzz`; fuzz/README.md) --------------------------
// With `fuzz` on the command line the kernel boots as usual (allocator, ASI, every CPU
// online; no warm-up, no workload), then CPU 0 reserves a program buffer (kFuzzBufferSize
// bytes, physically contiguous, 4 KiB aligned) and executes
//     out %eax, %dx      DX = kFuzzPort, EAX = kFuzzReady, RDI = the buffer's physical
//                        address, RSI = kFuzzBufferSize
//     jmp 1f             (ends the instruction block: the host stops before the next one)
//  1:
// The host may snapshot the machine there. It then writes a FuzzProgramHeader followed by
// the program bytes into the buffer and resumes (or writes nothing: no host, as under QEMU).
// CPU 0 checks the header (magic, length <= kFuzzProgramMax), decodes the bytes with
// guest_kernel/fuzz/fuzz_program.h (every byte string is a valid program; the host's print
// mode uses the same decoder), runs the operations (on the CPUs they name, modulo the number
// online), prints a summary of them on the console unless the header's flags hold
// kFuzzQuiet, and reports
//     out %eax, %dx      DX = kFuzzPort, EAX = kFuzzDone, RDI = operations run,
//                        RSI = FuzzStatus, R8 = the allocator's self-check result (0: good)
//     jmp 1f
// and then exits through kDebugExitPort with kGuestExitSuccess (the host normally ends the
// input at kFuzzDone already). A guest without a program (no magic) reports kFuzzDone with
// kFuzzNoProgram.
constexpr uint16_t kFuzzPort = 0x0a52;
enum FuzzCommand : uint32_t {
    kFuzzReady = 1,
    kFuzzDone = 2,
};
enum FuzzStatus : uint64_t {
    kFuzzOk = 0,
    kFuzzNoProgram = 1,    // no valid header in the buffer
    kFuzzCheckFailed = 2,  // the allocator's own checks (page_asi_mapping_bad, invariants) failed
};
constexpr uint64_t kFuzzProgramMagic = 0x4d474f52505a5546ull;  // "FUZPROGM"
struct FuzzProgramHeader {
    uint64_t magic;    // kFuzzProgramMagic
    uint32_t length;   // program bytes that follow the header
    uint32_t flags;    // kFuzzQuiet, or 0
};
// The guest prints no summary of the program on the console (its lines cost one port write
// a character; the fuzzer, which reads none of them, sets this).
constexpr uint32_t kFuzzQuiet = 1u << 0;
constexpr uint32_t kFuzzBufferSize = 4096;
constexpr uint32_t kFuzzProgramMax = kFuzzBufferSize - sizeof(FuzzProgramHeader);

// ---- Exit status ------------------------------------------------------------------------
// The guest writes v to kDebugExitPort. asi-emu exits 0 for v == 0 and 1 otherwise;
// QEMU exits (v << 1) | 1.
constexpr uint32_t kGuestExitSuccess = 0;
constexpr uint32_t kGuestExitFailure = 1;

}  // namespace asi_abi
