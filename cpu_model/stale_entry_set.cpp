#include "cpu_model/stale_entry_set.h"

#include <algorithm>

namespace cpu_model {
namespace {
constexpr uint64_t kSizes[3] = {mmu::kPageSize4K, mmu::kPageSize2M, mmu::kPageSize1G};
}

unsigned StaleEntrySet::slot(uint64_t page_size) {
    return page_size == mmu::kPageSize1G ? 2 : page_size == mmu::kPageSize2M ? 1 : 0;
}

bool StaleEntrySet::add(const StaleEntry& e) {
    const unsigned s = slot(e.page_size);
    auto& at = by_va_[s][e.va_page];
    for (const StaleEntry& x : at)
        if (x.entry == e.entry && (!by_pcid_ || x.pcid == e.pcid)) return false;
    at.push_back(e);
    by_frame_[s][e.frame].push_back(e.va_page);
    ++size_;
    return true;
}

size_t StaleEntrySet::erase_page(uint64_t va) {
    size_t n = 0;
    for (unsigned s = 0; s < 3; ++s) {
        auto it = by_va_[s].find(va & ~(kSizes[s] - 1));
        if (it == by_va_[s].end()) continue;
        for (const StaleEntry& e : it->second) {
            auto f = by_frame_[s].find(e.frame);
            auto& pages = f->second;
            pages.erase(std::find(pages.begin(), pages.end(), e.va_page));
            if (pages.empty()) by_frame_[s].erase(f);
            ++n;
        }
        by_va_[s].erase(it);
    }
    size_ -= n;
    return n;
}

size_t StaleEntrySet::clear() {
    const size_t n = size_;
    for (auto& m : by_va_) m.clear();
    for (auto& m : by_frame_) m.clear();
    size_ = 0;
    return n;
}

void StaleEntrySet::for_each_at(uint64_t va,
                                const std::function<void(const StaleEntry&)>& f) const {
    for (unsigned s = 0; s < 3; ++s) {
        auto it = by_va_[s].find(va & ~(kSizes[s] - 1));
        if (it == by_va_[s].end()) continue;
        for (const StaleEntry& e : it->second) f(e);
    }
}

void StaleEntrySet::for_each_frame(uint64_t frame,
                                   const std::function<void(const StaleEntry&)>& f) const {
    for (unsigned s = 0; s < 3; ++s) {
        const uint64_t base = frame & ~(kSizes[s] - 1);
        auto it = by_frame_[s].find(base);
        if (it == by_frame_[s].end()) continue;
        std::vector<uint64_t> pages = it->second;
        std::sort(pages.begin(), pages.end());
        pages.erase(std::unique(pages.begin(), pages.end()), pages.end());
        for (uint64_t va : pages) {
            auto v = by_va_[s].find(va);
            if (v == by_va_[s].end()) continue;
            for (const StaleEntry& e : v->second)
                if (e.frame == base) f(e);
        }
    }
}

}  // namespace cpu_model
