// Boot option `fuzz`: the guest side of the in-emulator fuzzer (asi_emu_abi.h "In-emulator
// fuzzing"; the program format is fuzz/fuzz_program.h).
//
// After the usual boot (allocator, ASI, every CPU online, tick as configured; no warm-up, no
// workload) CPU 0:
//   1. allocates the program buffer (kFuzzBufferSize bytes, one zeroed nonsensitive page)
//      and announces it: `out` kFuzzReady (RDI = its physical address, RSI = its size), then
//      `jmp 1f; 1:` so that the host can stop exactly there, snapshot, and write a program;
//   2. takes the program from the buffer if its header is valid, else from the boot option
//      fuzz.program=HEX, else runs nothing (kFuzzNoProgram);
//   3. runs the operations in order, each on the CPU it names (CPU 0 itself, the others
//      through smp::run_on: posted to their idle loop, CPU 0 waiting with interrupt windows
//      so that it answers their shootdown IPIs); one operation at a time, so the shared
//      state below (the live table, the counters) is never touched by two CPUs at once;
//   4. prints a two-line summary, `out` kFuzzDone (RDI = operations run, RSI = FuzzStatus,
//      R8 = the allocator's bad-page count: 0 is good), `jmp 1f; 1:`, and exits with
//      kGuestExitSuccess through the debug-exit port.
//
// ASI state persists per CPU between operations: only asi_enter / asi_relax / asi_exit
// operations change it, and whatever the kernel does on its own -- a #PF exit when a touch
// (or the allocator's zeroing) reaches sensitive memory while restricted, a "TLB flush" exit
// of a shootdown, the re-entry of restore_after_interrupt when an interrupt handler left a
// tense section. A CPU other than 0 returns to its idle loop in that state and halts there
// (`sti; hlt`), taking ticks and IPIs restricted if it is inside; CPU 0 opens one interrupt
// window between operations, as the workload does, and keeps its state while it waits.
//
// Deterministic: the same image, command line, seed and program give the same execution.
#pragma once

#include "kernel/boot_config.h"

namespace fuzz_mode {

[[noreturn]] void run(const config::BootConfig& config);

}  // namespace fuzz_mode
