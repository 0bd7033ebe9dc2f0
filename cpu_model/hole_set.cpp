#include "cpu_model/hole_set.h"

#include <iterator>

namespace cpu_model {
namespace {
constexpr uint64_t kPage = 4096;
}

void HoleSet::add(uint64_t va, uint8_t kinds) {
    if (kinds != 0) holes_[va & ~(kPage - 1)] |= kinds;
}

bool HoleSet::covers(uint64_t va_page, uint64_t size, bool global) const {
    const uint8_t want = global ? kGlobal : kNonGlobal;
    const uint64_t last = va_page + (size - 1);  // inclusive: the top page of the space fits
    for (auto it = holes_.lower_bound(va_page); it != holes_.end() && it->first <= last; ++it)
        if (it->second & want) return true;
    return false;
}

HoleSet HoleSet::restricted(uint64_t base, uint64_t size) const {
    HoleSet out;
    const uint64_t last = base + (size - 1);
    for (auto it = holes_.lower_bound(base); it != holes_.end() && it->first <= last; ++it)
        out.holes_.emplace_hint(out.holes_.end(), *it);
    return out;
}

void HoleSet::intersect(const HoleSet& other) {
    for (auto it = holes_.begin(); it != holes_.end();) {
        auto o = other.holes_.find(it->first);
        const uint8_t k = o == other.holes_.end() ? 0 : uint8_t(it->second & o->second);
        if (k == 0) {
            it = holes_.erase(it);
        } else {
            it->second = k;
            ++it;
        }
    }
}

void HoleSet::keep_global_only() {
    for (auto it = holes_.begin(); it != holes_.end();) {
        it->second &= kGlobal;
        it = it->second ? std::next(it) : holes_.erase(it);
    }
}

}  // namespace cpu_model
