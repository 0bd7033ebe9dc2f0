// Constants shared by the assembly entry code (.S) and C++. Plain #defines only, so that the
// preprocessor can hand them to the assembler; C++ code checks them against the ABI header
// and the structure layouts with static_assert.
#pragma once

// Linux's __START_KERNEL_map: image VA = KERNEL_VIRT_BASE + PA (asi_abi::kKernelWindowBase).
#define KERNEL_VIRT_BASE 0xffffffff80000000

// GDT layout (index: descriptor). The order follows the SYSCALL/SYSRET conventions
// (SDM vol. 3A 5.8.8): SYSCALL loads CS = STAR[47:32] and SS = STAR[47:32] + 8, so kernel data
// follows kernel code; 64-bit SYSRET loads SS = STAR[63:48] + 8 and CS = STAR[63:48] + 16,
// so user code follows user data.
//   0 null, 1 kernel code 64, 2 kernel data, 3 user data, 4 user code 64, 5-6 TSS (16 bytes)
#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_DS 0x1b     /* index 3, RPL 3 */
#define USER_CS 0x23     /* index 4, RPL 3 */
#define TSS_SELECTOR 0x28
#define GDT_ENTRIES 7

// The trap frame's `vector` value for an entry through SYSCALL (not an IDT vector).
#define SYSCALL_FRAME_VECTOR 0x100

// TrapFrame (arch/x86/trap_frame.h): 15 GPRs pushed by the entry stub, then vector and error
// code, then the hardware frame (SDM vol. 3A 6.14.2, figure 6-9).
#define TRAP_FRAME_SIZE (22 * 8)

// Interrupt Stack Table slots (SDM vol. 3A 6.14.5). IST numbers are 1-based in the gate.
#define IST_DOUBLE_FAULT 1
#define IST_NMI 2

// SMP. MAX_CPUS = asi-emu's --smp limit (asi_emu_abi.h "SMP") = page_alloc::kMaxCpus.
#define MAX_CPUS 64
// offsetof(asi_abi::BootInfo, cpu_id): read by kernel_entry64 before it touches any stack.
#define BOOT_INFO_CPU_ID 20
// Each CPU's x86::percpu::Header (arch/x86/percpu.h), reached through GS.base: 64 bytes each
// in percpu_headers[MAX_CPUS]; the offsets the entry code uses.
#define PERCPU_HEADER_SHIFT 6
#define PERCPU_SELF 0
#define PERCPU_CPU_ID 8
#define PERCPU_LOCK_DEPTH 12
#define PERCPU_IRQ_DEPTH 16
#define PERCPU_USER_RSP 24
#define PERCPU_KERNEL_RSP 32
// IA32_GS_BASE (SDM vol. 4 table 2-2).
#define MSR_GS_BASE 0xc0000101
