#include "cpu_model/hole_set.h"

#include <algorithm>
#include <iterator>

namespace cpu_model {
namespace {
constexpr uint64_t kPage = 4096;
}

void HoleSet::add(uint64_t va, bool non_global, bool global, uint64_t at) {
    if (!non_global && !global) return;
    Times& t = holes_[va & ~(kPage - 1)];
    if (non_global) t.non_global = std::max(t.non_global, at);
    if (global) t.global = std::max(t.global, at);
}

bool HoleSet::covers(uint64_t va_page, uint64_t size, bool global,
                     uint64_t cache_until) const {
    const uint64_t last = va_page + (size - 1);  // inclusive: the top page of the space fits
    for (auto it = holes_.lower_bound(va_page); it != holes_.end() && it->first <= last; ++it) {
        const uint64_t at = global ? it->second.global : it->second.non_global;
        if (at != 0 && at >= cache_until) return true;
    }
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
        if (o == other.holes_.end()) {
            it = holes_.erase(it);
            continue;
        }
        Times& t = it->second;
        t.non_global = std::min(t.non_global, o->second.non_global);
        t.global = std::min(t.global, o->second.global);
        it = (t.non_global == 0 && t.global == 0) ? holes_.erase(it) : std::next(it);
    }
}

void HoleSet::keep_global_only() {
    for (auto it = holes_.begin(); it != holes_.end();) {
        it->second.non_global = 0;
        it = it->second.global == 0 ? holes_.erase(it) : std::next(it);
    }
}

}  // namespace cpu_model
