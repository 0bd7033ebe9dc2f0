// The fixed-size table of a workload's live allocations (no heap in the guest). Removal
// swaps the last entry into the hole, so the order of entries depends only on the sequence
// of operations, which keeps runs deterministic.
#pragma once
#include <stdint.h>

namespace workload {

struct LiveBlock {
    uint64_t pa;
    uint64_t gfp;
    uint32_t order;
    uint32_t cpu;  // the CPU that allocated it
};

template <uint32_t kCapacity>
class LiveTable {
public:
    static constexpr uint32_t capacity() { return kCapacity; }
    uint32_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    bool full() const { return size_ == kCapacity; }
    uint64_t pages() const { return pages_; }
    const LiveBlock& operator[](uint32_t i) const { return blocks_[i]; }

    // Returns false when full.
    bool add(const LiveBlock& b) {
        if (full()) return false;
        blocks_[size_++] = b;
        pages_ += 1ull << b.order;
        return true;
    }

    // Forgets every entry (the blocks are not freed).
    void clear() {
        size_ = 0;
        pages_ = 0;
    }

    LiveBlock remove_at(uint32_t i) {
        LiveBlock b = blocks_[i];
        blocks_[i] = blocks_[--size_];
        pages_ -= 1ull << b.order;
        return b;
    }

private:
    LiveBlock blocks_[kCapacity];
    uint32_t size_ = 0;
    uint64_t pages_ = 0;
};

}  // namespace workload
