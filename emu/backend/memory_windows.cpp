#include "mmu/hex.h"
#include "emu/backend/memory_windows.h"

#include <algorithm>

#include "guest_kernel/abi/asi_emu_abi.h"

namespace emu::backend {
namespace {

constexpr uint64_t kKernelWindowMax = 1ull << 30;

using mmu::hex;

}  // namespace

MemoryWindows::MemoryWindows(uc_engine* uc, uint8_t* ram, uint64_t ram_size,
                             std::vector<PhysRange> text)
    : uc_(uc), ram_(ram), ram_size_(ram_size), text_(std::move(text)) {
    std::sort(text_.begin(), text_.end(),
              [](const PhysRange& a, const PhysRange& b) { return a.begin < b.begin; });
    windows_ = {
        {"identity", 0, ram_size_, false},
        {"kernel image", asi_abi::kKernelWindowBase, std::min(ram_size_, kKernelWindowMax), true},
        {"direct map", asi_abi::kDirectMapBase, ram_size_, false},
    };
}

std::optional<std::string> MemoryWindows::map_window(const StaticWindow& w) {
    // Split the window at the text frames: text is never writable, and executable only in
    // the kernel image window; everything else is read/write and never executable.
    uint64_t pa = 0;
    auto map = [&](uint64_t begin, uint64_t end, uint32_t perms) -> std::optional<std::string> {
        if (begin >= end) return std::nullopt;
        uc_err e = uc_mem_map_ptr(uc_, w.va_base + begin, end - begin, perms, ram_ + begin);
        if (e != UC_ERR_OK)
            return std::string("cannot map the ") + w.name + " window at " + hex(w.va_base + begin) +
                   ": " + uc_strerror(e);
        return std::nullopt;
    };
    for (const PhysRange& t : text_) {
        const uint64_t tb = std::min(t.begin, w.size), te = std::min(t.end, w.size);
        if (auto err = map(pa, tb, UC_PROT_READ | UC_PROT_WRITE)) return err;
        if (auto err = map(tb, te, UC_PROT_READ | (w.executable_text ? UC_PROT_EXEC : 0))) return err;
        pa = std::max(pa, te);
    }
    return map(pa, w.size, UC_PROT_READ | UC_PROT_WRITE);
}

std::optional<std::string> MemoryWindows::map_static_windows() {
    for (const StaticWindow& w : windows_)
        if (auto err = map_window(w)) return err;
    return std::nullopt;
}

bool MemoryWindows::in_static_window(uint64_t va) const {
    for (const StaticWindow& w : windows_)
        if (va >= w.va_base && va - w.va_base < w.size) return true;
    return false;
}

bool MemoryWindows::is_text_frame(uint64_t pa) const {
    for (const PhysRange& t : text_)
        if (pa >= t.begin && pa < t.end) return true;
    return false;
}

AliasOutcome MemoryWindows::map_demand_alias(uint64_t va_page, uint64_t pa_page, bool executable) {
    if (pa_page >= ram_size_) return AliasOutcome::OutsideRam;
    drop_alias(va_page);
    uint32_t perms = UC_PROT_READ;
    if (!is_text_frame(pa_page)) perms |= UC_PROT_WRITE;
    if (executable) perms |= UC_PROT_EXEC;
    if (uc_mem_map_ptr(uc_, va_page, 4096, perms, ram_ + pa_page) != UC_ERR_OK)
        return AliasOutcome::MapFailed;
    // Code translated earlier for this VA belonged to whatever frame it aliased before.
    if (executable) uc_ctl_remove_cache(uc_, va_page, va_page + 4096);
    aliases_[va_page] = {pa_page, executable};
    ++aliases_mapped_total_;
    return AliasOutcome::Mapped;
}

void MemoryWindows::drop_alias(uint64_t va_page) {
    auto it = aliases_.find(va_page);
    if (it == aliases_.end()) return;
    uc_mem_unmap(uc_, va_page, 4096);
    aliases_.erase(it);
}

MemoryWindows::AliasSet MemoryWindows::aliases() const {
    AliasSet set;
    for (const auto& [va, a] : aliases_) set.pages.emplace(va, std::make_pair(a.pa_page, a.executable));
    return set;
}

void MemoryWindows::restore_aliases(const AliasSet& saved) {
    for (auto it = aliases_.begin(); it != aliases_.end();) {
        auto s = saved.pages.find(it->first);
        if (s != saved.pages.end() && s->second == std::make_pair(it->second.pa_page, it->second.executable)) {
            ++it;
            continue;
        }
        uc_mem_unmap(uc_, it->first, 4096);
        it = aliases_.erase(it);
    }
    for (const auto& [va, target] : saved.pages)
        if (!aliases_.count(va)) map_demand_alias(va, target.first, target.second);
}

void MemoryWindows::drop_all_aliases() {
    for (const auto& [va, alias] : aliases_) uc_mem_unmap(uc_, va, 4096);
    aliases_.clear();
}

std::optional<uint64_t> MemoryWindows::alias_frame(uint64_t va_page) const {
    auto it = aliases_.find(va_page);
    if (it == aliases_.end()) return std::nullopt;
    return it->second.pa_page;
}

std::optional<std::string> MemoryWindows::check_leaf_mapping(uint64_t va, uint64_t pa,
                                                             uint64_t size) const {
    for (const StaticWindow& w : windows_) {
        const uint64_t w_end = w.va_base + w.size;
        if (va >= w_end || va + size <= w.va_base) continue;
        if (va >= w.va_base && va - w.va_base == pa) continue;
        return std::string("unrepresentable mapping: VA ") + hex(va) + " -> PA " + hex(pa) + " (" +
               hex(size) + " bytes) lies in the " + w.name + " window, which only holds VA = " +
               hex(w.va_base) + " + PA; map it at a virtual address outside [" + hex(w.va_base) +
               ", " + hex(w_end) + ")";
    }
    return std::nullopt;
}

}  // namespace emu::backend
