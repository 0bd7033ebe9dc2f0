// A fixed-size latency histogram (no heap, no floating point) for allocation and free cost
// in Arch::now() units, from which median and p99 are read.
//
// Buckets are log-linear, HdrHistogram style with 2 sub-bucket bits: values 0..3 have a
// bucket each; above that, each power of two [2^m, 2^(m+1)) is cut into 4 equal buckets.
// So a bucket's width is at most a quarter of its lower bound: a reported percentile (the
// upper bound of its bucket) overstates the true value by less than 25%.
#pragma once
#include <stdint.h>

namespace page_alloc {

class Histogram {
public:
    static constexpr uint32_t kSubBits = 2;
    static constexpr uint32_t kSub = 1u << kSubBits;
    static constexpr uint32_t kBuckets = (64 - kSubBits + 1) * kSub;  // 252

    static constexpr uint32_t bucket_of(uint64_t v) {
        if (v < kSub) return static_cast<uint32_t>(v);
        uint32_t msb = 63u - static_cast<uint32_t>(__builtin_clzll(v));
        uint32_t sub = static_cast<uint32_t>(v >> (msb - kSubBits)) & (kSub - 1);
        return (msb - kSubBits + 1) * kSub + sub;
    }
    static constexpr uint64_t bucket_low(uint32_t b) {
        if (b < kSub) return b;
        uint32_t msb = b / kSub + kSubBits - 1;
        uint64_t sub = b % kSub;
        return (kSub + sub) << (msb - kSubBits);
    }
    static constexpr uint64_t bucket_high(uint32_t b) {
        return b + 1 < kBuckets ? bucket_low(b + 1) - 1 : ~0ull;
    }

    // Safe against concurrent recorders (relaxed atomics): readers see a consistent enough
    // picture for statistics, never a torn counter.
    void record(uint64_t v) {
        __atomic_fetch_add(&counts_[bucket_of(v)], 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&count_, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&sum_, v, __ATOMIC_RELAXED);
        uint64_t old = __atomic_load_n(&max_, __ATOMIC_RELAXED);
        while (v > old &&
               !__atomic_compare_exchange_n(&max_, &old, v, true, __ATOMIC_RELAXED,
                                            __ATOMIC_RELAXED)) {
        }
    }

    uint64_t count() const { return count_; }
    uint64_t sum() const { return sum_; }
    uint64_t max() const { return max_; }
    uint64_t bucket_count(uint32_t b) const { return counts_[b]; }

    // The upper bound of the bucket holding the value of rank ceil(count * permille / 1000)
    // (1-based). percentile(500) is the median, percentile(990) the p99. 0 when empty.
    uint64_t percentile(uint32_t permille) const {
        if (count_ == 0) return 0;
        uint64_t rank = (count_ * permille + 999) / 1000;
        if (rank == 0) rank = 1;
        uint64_t seen = 0;
        for (uint32_t b = 0; b < kBuckets; ++b) {
            seen += counts_[b];
            if (seen >= rank) {
                uint64_t high = bucket_high(b);
                return high < max_ ? high : max_;
            }
        }
        return max_;
    }
    uint64_t median() const { return percentile(500); }
    uint64_t p99() const { return percentile(990); }

    void reset() {
        for (uint32_t b = 0; b < kBuckets; ++b) counts_[b] = 0;
        count_ = sum_ = max_ = 0;
    }

private:
    uint64_t counts_[kBuckets] = {};
    uint64_t count_ = 0;
    uint64_t sum_ = 0;
    uint64_t max_ = 0;
};

static_assert(Histogram::bucket_of(3) == 3 && Histogram::bucket_of(4) == 4);
static_assert(Histogram::bucket_of(7) == 7 && Histogram::bucket_of(8) == 8);
static_assert(Histogram::bucket_low(Histogram::bucket_of(1000)) <= 1000);
static_assert(Histogram::bucket_high(Histogram::bucket_of(1000)) >= 1000);
static_assert(Histogram::bucket_of(~0ull) == Histogram::kBuckets - 1);

}  // namespace page_alloc
