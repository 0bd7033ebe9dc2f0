// Kernel virtual address ranges for dynamic mappings (test pages, stacks with guard pages),
// handed out by a bump pointer and never reused. asi-emu maps a virtual address to at most
// one physical frame over a whole run (DESIGN 4.1), so a range, once used, stays retired.
#pragma once
#include <stdint.h>

#include "lib/spinlock.h"

namespace mm {

class VaRange {
public:
    constexpr VaRange(uint64_t base, uint64_t limit) : next_(base), limit_(limit) {}
    // `pages` 4 KiB pages followed by one unmapped guard page; 0 when exhausted.
    uint64_t allocate(uint64_t pages);

private:
    SpinLock lock_;  // several CPUs may allocate
    uint64_t next_;
    uint64_t limit_;
};

// Linux's vmalloc area: 0xffffc90000000000 (VMALLOC_START), 32 TiB.
constexpr uint64_t kVmallocStart = 0xffffc90000000000ull;
constexpr uint64_t kVmallocEnd = 0xffffe90000000000ull;
VaRange& vmalloc_range();

// User-half addresses for test programs: above any physical RAM, because asi-emu cannot
// represent VA != PA inside [0, RAM) (DESIGN 4.1).
constexpr uint64_t kUserTestStart = 0x0000400000000000ull;
constexpr uint64_t kUserTestEnd = 0x0000500000000000ull;
VaRange& user_test_range();

}  // namespace mm
