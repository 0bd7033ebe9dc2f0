// Linear pages whose possibly-cached translations an invalidation has removed from one
// record of the TLB model, while the rest of the record stays (INVLPG, INVPCID type 0 and
// page faults remove the entries for one page: SDM vol. 3A 4.10.4.1).
//
// A hole is a 4 KiB linear page, per kind of translation (non-global, global), with the time
// it was made. A translation the record could cache again after the hole is not removed: a
// hole counts only while hole time >= the last moment the record could gain translations
// (TlbModel::cache_until). A *sticky* hole (time kSticky) always counts: INVPCID type 0 and
// #PF also remove the paging-structure-cache entries used for that address, so the record
// can never bring it back.
//
// A translation of a larger page is removed when any hole of its kind falls inside it:
// invalidating any address of a 2 MiB or 1 GiB page removes every TLB entry for that page
// (INVLPG and INVPCID footnotes, SDM 4.10.2.3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

namespace cpu_model {

class HoleSet {
public:
    static constexpr uint64_t kSticky = ~0ull;

    // kinds: which translations the invalidation removed at time `at`.
    void add(uint64_t va, bool non_global, bool global, uint64_t at);
    // True when the translation [va_page, va_page + size) of the given kind is removed for a
    // record that could gain translations until `cache_until`.
    bool covers(uint64_t va_page, uint64_t size, bool global, uint64_t cache_until) const;
    // The holes inside [base, base + size).
    HoleSet restricted(uint64_t base, uint64_t size) const;
    // Keeps only what both remove (the earlier time, sticky only if both are): the merged
    // record then holds everything either held.
    void intersect(const HoleSet& other);
    // Drops the non-global kind everywhere (a record that now holds only global translations).
    void keep_global_only();
    void clear() { holes_.clear(); }
    bool empty() const { return holes_.empty(); }
    size_t size() const { return holes_.size(); }

private:
    struct Times {
        uint64_t non_global = 0;  // 0: no hole of this kind
        uint64_t global = 0;
    };
    std::map<uint64_t, Times> holes_;  // 4 KiB page -> hole times
};

}  // namespace cpu_model
