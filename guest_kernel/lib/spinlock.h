// A test-and-test-and-set spinlock with interrupts off while held (Linux's spin_lock_irqsave).
//
// Rules this kernel keeps (and checks where it can):
//   * held with IF=0: an interrupt handler on this CPU never runs while the lock is held, so
//     a handler may take a lock too without deadlocking against the code it interrupted;
//   * while *spinning*, interrupts are briefly enabled (`sti; pause; cli`) if the caller had
//     them enabled (Linux's old __raw_spin_lock_flags): such a CPU still answers TLB-shootdown
//     IPIs. That is safe because a test-and-set waiter holds nothing (a ticket lock's waiter
//     would hold its ticket, and a handler taking the same lock would wait behind it);
//   * no lock is held while this CPU waits for another CPU (a shootdown's acknowledgements,
//     a remote function, a barrier): kernel/smp.h checks lock_depth() == 0 in every such
//     wait. Hence a waiter spinning here with IF=0 (the kernel's normal state) cannot
//     deadlock against an initiator waiting for it: the holder never waits for anyone.
// PAUSE in the loop: asi-emu gives the rest of the time slice to the other vCPUs (one of
// which holds the lock). The per-CPU lock_depth (arch/x86/percpu.h) counts held locks.
//
// Memory order: the exchange that takes the lock is a locked instruction (a full barrier on
// x86, SDM vol. 3A 8.2.2: "locked instructions have a total order"); the release is a store
// with release semantics (x86 stores are not reordered with older loads or stores).
#pragma once
#include <stdint.h>

#include "arch/x86/cpu.h"
#include "arch/x86/percpu.h"

class SpinLock {
public:
    constexpr SpinLock() = default;
    SpinLock(const SpinLock&) = delete;
    SpinLock& operator=(const SpinLock&) = delete;

    // Returns the caller's RFLAGS for unlock_irqrestore().
    [[nodiscard]] uint64_t lock_irqsave() {
        const uint64_t flags = x86::irq_save();
        while (!try_acquire()) {
            do {
                if (flags & x86::kRflagsIf) x86::pause_with_interrupts();
                else x86::pause();
            } while (__atomic_load_n(&locked_, __ATOMIC_RELAXED) != 0);
        }
        x86::percpu::lock_depth_inc();
        return flags;
    }

    void unlock_irqrestore(uint64_t flags) {
        x86::percpu::lock_depth_dec();
        __atomic_store_n(&locked_, 0, __ATOMIC_RELEASE);
        x86::irq_restore(flags);
    }

    bool is_locked() const { return __atomic_load_n(&locked_, __ATOMIC_RELAXED) != 0; }

private:
    bool try_acquire() { return __atomic_exchange_n(&locked_, 1u, __ATOMIC_ACQUIRE) == 0; }

    uint32_t locked_ = 0;
};

// Scoped lock_irqsave / unlock_irqrestore.
class SpinLockGuard {
public:
    explicit SpinLockGuard(SpinLock& lock) : lock_(lock), flags_(lock.lock_irqsave()) {}
    ~SpinLockGuard() { lock_.unlock_irqrestore(flags_); }
    SpinLockGuard(const SpinLockGuard&) = delete;
    SpinLockGuard& operator=(const SpinLockGuard&) = delete;

private:
    SpinLock& lock_;
    uint64_t flags_;
};
