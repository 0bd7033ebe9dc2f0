// Exception fixups, in the spirit of Linux's exception tables: an instruction that may fault
// on purpose (the probe helpers in probe.S, inline asm in tests) records its address and a
// fixup address in __ex_table. A kernel-mode exception at such an instruction is recorded
// and execution resumes at the fixup; any other kernel exception is an oops.
#pragma once
#include <stdint.h>

namespace x86 {

// One exception as the handler saw it.
struct ExceptionRecord {
    uint64_t vector;
    uint64_t error_code;
    uint64_t cr2;          // read on entry; meaningful for #PF only
    uint64_t rip;          // RIP in the frame (the faulting instruction for faults, the next
                           // one for traps such as #BP; undefined for #DF, SDM 6.15)
    uint64_t cs;
    uint64_t rflags;
    uint64_t rsp;          // interrupted RSP
    uint64_t ss;
    uint64_t handler_rsp;  // RSP in the handler: shows which stack the CPU switched to
};

namespace extable {

struct Entry {
    uint64_t insn;
    uint64_t fixup;
};

// The fixup for an exception at `rip`, or nullptr.
const Entry* search(uint64_t rip);
uint64_t entry_count();

// Called by the trap dispatcher for every exception it recovers from.
void note_exception(const ExceptionRecord& rec);
// True while an ExpectException is alive (the dispatcher then also accepts #BP).
bool expecting();

}  // namespace extable

// Test facility: while alive, counts the exceptions the kernel recovers from and keeps the
// last one. Not nestable; per CPU.
class ExpectException {
public:
    ExpectException();
    ~ExpectException();
    ExpectException(const ExpectException&) = delete;
    ExpectException& operator=(const ExpectException&) = delete;

    uint64_t count() const;
    const ExceptionRecord& last() const;
    // Forget what was recorded so far (stays armed).
    void reset();
};

}  // namespace x86
