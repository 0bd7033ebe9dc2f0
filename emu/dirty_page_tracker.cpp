#include "emu/dirty_page_tracker.h"

#include <signal.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace emu {
namespace {

constexpr size_t kPage = 4096;
DirtyPageTracker* g_tracker = nullptr;
struct sigaction g_previous {};

void forward(int sig, siginfo_t* info, void* context) {
    if (g_previous.sa_flags & SA_SIGINFO) {
        g_previous.sa_sigaction(sig, info, context);
        return;
    }
    if (g_previous.sa_handler == SIG_IGN) return;
    if (g_previous.sa_handler == SIG_DFL) {
        // Re-executing the faulting access with the default action kills the process with
        // the right signal, and a core dump points at the access.
        signal(sig, SIG_DFL);
        return;
    }
    g_previous.sa_handler(sig);
}

}  // namespace

DirtyPageTracker::DirtyPageTracker(uint8_t* base, size_t size)
    : base_(base), size_(size), pages_(size / kPage), saved_(pages_, 0), writable_(pages_, 0), dirty_(pages_, 0),
      last_dirty_(pages_, 0), streak_(pages_, 0) {
    if (g_tracker) throw std::runtime_error("one DirtyPageTracker per process");
    if ((reinterpret_cast<uintptr_t>(base) | size) & (kPage - 1))
        throw std::runtime_error("DirtyPageTracker: region not page-aligned");
    void* shadow = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (shadow == MAP_FAILED) throw std::runtime_error("DirtyPageTracker: cannot map the shadow copy");
    pristine_ = static_cast<uint8_t*>(shadow);
    struct sigaction sa {};
    sa.sa_sigaction = reinterpret_cast<void (*)(int, siginfo_t*, void*)>(&DirtyPageTracker::on_fault);
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    g_tracker = this;
    sigaction(SIGSEGV, &sa, &g_previous);
}

DirtyPageTracker::~DirtyPageTracker() {
    sigaction(SIGSEGV, &g_previous, nullptr);
    g_tracker = nullptr;
    mprotect(base_, size_, PROT_READ | PROT_WRITE);
    munmap(pristine_, size_);
}

void DirtyPageTracker::arm() {
    mprotect(base_, size_, PROT_READ | PROT_WRITE);
    std::fill(saved_.begin(), saved_.end(), 0);
    std::fill(writable_.begin(), writable_.end(), 0);
    std::fill(last_dirty_.begin(), last_dirty_.end(), 0);
    std::fill(streak_.begin(), streak_.end(), 0);
    hot_.clear();
    round_ = 0;
    // Pages whose pristine copy is stale must not be reused: drop the shadow's content.
    madvise(pristine_, size_, MADV_DONTNEED);
    dirty_count_ = 0;
    armed_ = true;
    mprotect(base_, size_, PROT_READ);
}

void DirtyPageTracker::on_fault(int sig, void* info_v, void* context) {
    auto* info = static_cast<siginfo_t*>(info_v);
    if (g_tracker && g_tracker->handle(reinterpret_cast<uintptr_t>(info->si_addr))) return;
    forward(sig, info, context);
}

// Async-signal-safe: memcpy into preallocated memory and mprotect only.
bool DirtyPageTracker::handle(uintptr_t address) {
    const uintptr_t base = reinterpret_cast<uintptr_t>(base_);
    if (!armed_ || address < base || address >= base + size_) return false;
    const size_t page = (address - base) / kPage;
    uint8_t* p = base_ + page * kPage;
    if (!saved_[page]) {
        std::memcpy(pristine_ + page * kPage, p, kPage);
        saved_[page] = 1;
    }
    dirty_[dirty_count_++] = static_cast<uint32_t>(page);
    writable_[page] = 1;
    return mprotect(p, kPage, PROT_READ | PROT_WRITE) == 0;
}

void DirtyPageTracker::will_write(size_t offset, size_t size) {
    if (!armed_ || size == 0 || offset >= size_) return;
    const size_t first = offset / kPage, last = std::min(offset + size - 1, size_ - 1) / kPage;
    for (size_t page = first; page <= last;) {
        if (writable_[page]) {
            ++page;
            continue;
        }
        const size_t run = page;
        for (; page <= last && !writable_[page]; ++page) {
            if (!saved_[page]) {
                std::memcpy(pristine_ + page * kPage, base_ + page * kPage, kPage);
                saved_[page] = 1;
            }
            dirty_[dirty_count_++] = static_cast<uint32_t>(page);
            writable_[page] = 1;
        }
        mprotect(base_ + run * kPage, (page - run) * kPage, PROT_READ | PROT_WRITE);
    }
}

size_t DirtyPageTracker::restore() {
    const size_t n = dirty_count_;
    ++round_;
    for (uint32_t page : hot_) std::memcpy(base_ + size_t{page} * kPage, pristine_ + size_t{page} * kPage, kPage);
    // Pages that turn hot now stay writable; the rest are protected again.
    size_t kept = 0;
    for (size_t i = 0; i < n; ++i) {
        const uint32_t page = dirty_[i];
        std::memcpy(base_ + size_t{page} * kPage, pristine_ + size_t{page} * kPage, kPage);
        streak_[page] = last_dirty_[page] + 1 == round_ ? static_cast<uint8_t>(std::min<uint32_t>(streak_[page] + 1, 255)) : 1;
        last_dirty_[page] = round_;
        if (streak_[page] >= kHotAfter && hot_.size() < kMaxHot) {
            hot_.push_back(page);
        } else {
            dirty_[kept++] = page;
            writable_[page] = 0;
        }
    }
    std::sort(dirty_.begin(), dirty_.begin() + static_cast<ptrdiff_t>(kept));
    for (size_t i = 0; i < kept;) {
        // One mprotect per run of consecutive pages.
        size_t j = i;
        while (j + 1 < kept && dirty_[j + 1] == dirty_[j] + 1) ++j;
        mprotect(base_ + size_t{dirty_[i]} * kPage, (j - i + 1) * kPage, PROT_READ);
        i = j + 1;
    }
    dirty_count_ = 0;
    return n + hot_.size() - (n - kept);
}

}  // namespace emu
