// Deterministic pseudo-random numbers for workloads: the same seed gives the same
// sequence on every build (guest and host), so the same command line gives the same trace.
// splitmix64 (Steele, Lea, Flood 2014) expands the seed; xorshift64* (Vigna 2016) is the
// stream. Integer only (the guest has no FPU state).
#pragma once
#include <stdint.h>

namespace workload {

constexpr uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

class Prng {
public:
    explicit constexpr Prng(uint64_t seed) {
        uint64_t sm = seed;
        state_ = splitmix64(sm);
        if (state_ == 0) state_ = 0x9e3779b97f4a7c15ull;  // xorshift's one forbidden state
    }

    constexpr uint64_t next() {
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545f4914f6cdd1dull;
    }

    // Uniform in [0, n) for 0 < n <= 2^32 (Lemire's multiply-shift, without the rejection
    // step: the bias is below 2^-32 per draw, irrelevant here and deterministic anyway).
    constexpr uint32_t below(uint32_t n) {
        return static_cast<uint32_t>(((next() >> 32) * static_cast<uint64_t>(n)) >> 32);
    }

    // True with probability percent/100.
    constexpr bool chance(uint32_t percent) { return below(100) < percent; }

private:
    uint64_t state_ = 0;
};

}  // namespace workload
