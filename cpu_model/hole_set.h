// Linear pages whose possibly-cached translations an invalidation has removed from one
// record of the TLB model, while the rest of the record stays (INVLPG, INVPCID type 0 and
// page faults remove the entries for one page: SDM vol. 3A 4.10.4.1).
//
// A hole is a 4 KiB linear page plus which kinds of translation it removed: non-global ones
// (INVPCID type 0, #PF) or global ones too (INVLPG). A translation of a larger page is removed
// when any hole of its kind falls inside it: invalidating any address of a 2 MiB or 1 GiB page
// removes every TLB entry for that page (INVLPG / INVPCID footnotes, SDM 4.10.2.3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

namespace cpu_model {

class HoleSet {
public:
    static constexpr uint8_t kNonGlobal = 1;
    static constexpr uint8_t kGlobal = 2;

    void add(uint64_t va, uint8_t kinds);
    // True when the translation [va_page, va_page + size) of the given kind is removed.
    bool covers(uint64_t va_page, uint64_t size, bool global) const;
    // The holes inside [base, base + size).
    HoleSet restricted(uint64_t base, uint64_t size) const;
    // Keeps only the holes present in both, with the kinds present in both: a translation is
    // then removed only if both records had removed it.
    void intersect(const HoleSet& other);
    // Drops the non-global kind everywhere (a record that now holds only global translations).
    void keep_global_only();
    void clear() { holes_.clear(); }
    bool empty() const { return holes_.empty(); }
    size_t size() const { return holes_.size(); }

private:
    std::map<uint64_t, uint8_t> holes_;  // 4 KiB page -> kinds
};

}  // namespace cpu_model
