// Digests of host-side model state, for snapshot tests: two states with equal digests judge
// the same future the same way (up to hash collisions). Order-independent where the state
// lives in unordered containers: each item is mixed on its own and the results are added.
#pragma once
#include <cstdint>

namespace mmu {

// splitmix64's finaliser: a bijective scramble of one word.
constexpr uint64_t scramble(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// An ordered fold of words.
class Digest {
public:
    Digest& add(uint64_t v) {
        h_ = scramble(h_ ^ v);
        return *this;
    }
    uint64_t value() const { return h_; }

private:
    uint64_t h_ = 0x6a09e667f3bcc908ull;
};

}  // namespace mmu
