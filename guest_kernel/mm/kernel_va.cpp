#include "mm/kernel_va.h"

#include "mm/pte.h"

namespace mm {
namespace {

constinit VaRange g_vmalloc{kVmallocStart, kVmallocEnd};
constinit VaRange g_user_test{kUserTestStart, kUserTestEnd};

}  // namespace

uint64_t VaRange::allocate(uint64_t pages) {
    const uint64_t size = (pages + 1) * pte::k4K;  // + guard page
    SpinLockGuard guard(lock_);
    if (pages == 0 || size / pte::k4K != pages + 1 || limit_ - next_ < size) return 0;
    const uint64_t va = next_;
    next_ += size;
    return va;
}

VaRange& vmalloc_range() { return g_vmalloc; }
VaRange& user_test_range() { return g_user_test; }

}  // namespace mm
