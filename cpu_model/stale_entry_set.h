// Explicit possibly-cached TLB entries whose leaf paging-structure entry has since changed:
// the processor may keep them until an invalidation covers them (SDM vol. 3A 4.10.4).
// Indexed by linear page (for INVLPG / INVPCID) and by frame (for "who can reach frame f").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "cpu_model/tlb_types.h"

namespace cpu_model {

struct StaleEntry {
    uint64_t va_page = 0;    // canonical, aligned to page_size
    uint64_t page_size = 0;  // 4 KiB, 2 MiB or 1 GiB
    uint64_t frame = 0;      // physical base of the page
    uint64_t entry = 0;      // the leaf entry as it was
    Pcid pcid = 0;           // PCID it is associated with
    friend bool operator==(const StaleEntry&, const StaleEntry&) = default;
};

class StaleEntrySet {
public:
    // by_pcid=false for global entries: they match every PCID, so the same entry cached under
    // two PCIDs is one entry (the first PCID is kept).
    explicit StaleEntrySet(bool by_pcid = true) : by_pcid_(by_pcid) {}

    // False when the same entry for the same page is already there.
    bool add(const StaleEntry& e);
    // Removes every entry whose page contains va; returns how many.
    size_t erase_page(uint64_t va);
    size_t clear();
    size_t size() const { return size_; }
    void for_each_at(uint64_t va, const std::function<void(const StaleEntry&)>& f) const;
    // Entries whose page contains the 4 KiB frame.
    void for_each_frame(uint64_t frame, const std::function<void(const StaleEntry&)>& f) const;

private:
    static unsigned slot(uint64_t page_size);
    // Per page size (4K, 2M, 1G): by linear page, and frame base -> linear pages.
    std::array<std::unordered_map<uint64_t, std::vector<StaleEntry>>, 3> by_va_;
    std::array<std::unordered_map<uint64_t, std::vector<uint64_t>>, 3> by_frame_;
    size_t size_ = 0;
    bool by_pcid_ = true;
};

}  // namespace cpu_model
