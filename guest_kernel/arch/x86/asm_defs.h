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
