// The guest's data path on Unicorn 2.0.1, which checks guest paging but then uses the
// virtual address as the physical one (DESIGN 4.1). Guest RAM is one host buffer mapped
// (uc_mem_map_ptr) at every virtual window through which the guest reaches it:
//   identity     [0, RAM)                       read by the page walker (tables at their PAs)
//   kernel image kKernelWindowBase + [0, min(RAM, 1 GiB))
//   direct map   kDirectMapBase + [0, RAM)
//   demand       any other page, aliased 4 KiB at a time on first touch, found by our walker
// Kernel text frames are read-only in every window and executable only in the kernel window,
// so the load-time scan of privileged instructions stays sound (DESIGN 4.6). The static
// windows only hold translations of the form VA = window base + PA; anything else the guest
// maps there cannot be represented and is reported (check_leaf_mapping).
#pragma once
#include <unicorn/unicorn.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace emu::backend {

struct PhysRange {
    uint64_t begin;
    uint64_t end;
};

struct StaticWindow {
    const char* name;
    uint64_t va_base;
    uint64_t size;
    bool executable_text;  // text frames executable here
};

enum class AliasOutcome { Mapped, OutsideRam, MapFailed };

class MemoryWindows {
public:
    MemoryWindows(uc_engine* uc, uint8_t* ram, uint64_t ram_size, std::vector<PhysRange> text);

    // Maps the three static windows. Returns an error text on failure.
    std::optional<std::string> map_static_windows();

    bool in_static_window(uint64_t va) const;
    bool is_text_frame(uint64_t pa) const;

    // Maps the 4 KiB page at va_page to the frame at pa_page.
    AliasOutcome map_demand_alias(uint64_t va_page, uint64_t pa_page, bool executable);
    void drop_alias(uint64_t va_page);
    void drop_all_aliases();
    // Drops every alias whose current frame differs from what `translate` says now.
    template <typename Translate>
    void drop_aliases_not_matching(Translate translate) {
        for (auto it = aliases_.begin(); it != aliases_.end();) {
            std::optional<uint64_t> now = translate(it->first);
            if (now && *now == it->second.pa_page) {
                ++it;
                continue;
            }
            uc_mem_unmap(uc_, it->first, 4096);
            it = aliases_.erase(it);
        }
    }
    std::optional<uint64_t> alias_frame(uint64_t va_page) const;

    // A leaf translation [va, va + size) -> [pa, pa + size) found in a guest page table:
    // nullopt when the backend can represent it, else the reason.
    std::optional<std::string> check_leaf_mapping(uint64_t va, uint64_t pa, uint64_t size) const;

    size_t alias_count() const { return aliases_.size(); }
    // The demand aliases as a value, and making them so again (machine snapshots).
    struct AliasSet {
        std::map<uint64_t, std::pair<uint64_t, bool>> pages;  // VA page -> (PA page, executable)
    };
    AliasSet aliases() const;
    void restore_aliases(const AliasSet& saved);
    uint64_t aliases_mapped_total() const { return aliases_mapped_total_; }
    const std::vector<StaticWindow>& windows() const { return windows_; }

private:
    struct Alias {
        uint64_t pa_page;
        bool executable;
    };
    std::optional<std::string> map_window(const StaticWindow& w);

    uc_engine* uc_;
    uint8_t* ram_;
    uint64_t ram_size_;
    std::vector<PhysRange> text_;
    std::vector<StaticWindow> windows_;
    std::map<uint64_t, Alias> aliases_;
    uint64_t aliases_mapped_total_ = 0;
};

}  // namespace emu::backend
