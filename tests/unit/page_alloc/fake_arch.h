// A fake Arch for the page allocator core (Hedron style): records every machine effect and
// tracepoint, and models what the oracle cares about, so tests can assert the consequence
// of each operation rather than the code path taken:
//   * the restricted direct map, per 4 KiB frame (a pageblock call sets 512 frames);
//   * per frame, the set of CPUs that may cache a restricted translation of it: every CPU
//     from the moment it is mapped (speculative walks count, DESIGN 5) until a flush that
//     covers it;
//   * per frame, whether its content holds a secret the test wrote (until zeroed), and
//     whether it is live-sensitive (between its alloc and free tracepoints).
// From these, a small oracle records a violation when a live-sensitive frame is mapped or
// possibly cached in the restricted space when handed out (R1/R2), when a frame with secret
// content is mapped (R4), when a nonsensitive allocation is handed out unmapped, and when
// an effect runs under the zone lock or locks are taken out of order.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "guest_kernel/abi/asi_emu_abi.h"
#include "guest_kernel/mm/page_alloc/gfp.h"

namespace page_alloc_test {

struct FakePanic : std::runtime_error {
    using std::runtime_error::runtime_error;
};

enum class Op : uint8_t {
    kZero,         // a = pa, b = pages
    kMapBlock,     // a = pa
    kUnmapBlock,   // a = pa
    kMapPages,     // a = pa, b = pages
    kUnmapPages,   // a = pa, b = pages
    kFlush,        // a = pa, b = pages, c = CPUs that still might have cached a frame of it
    kBadPage,      // a = pa
    kTrace,        // a = kind, b..e = arguments
};

struct Call {
    Op op;
    uint64_t a = 0, b = 0, c = 0, d = 0, e = 0;
    bool operator==(const Call&) const = default;
};

class FakeArch {
public:
    FakeArch(uint64_t phys_pages, uint32_t cpus)
        : mapped(phys_pages), may_cache(phys_pages), secret(phys_pages),
          live_sensitive(phys_pages), pcp_locked_(cpus), cpus_(cpus) {}

    // ---- The Arch policy ------------------------------------------------------------------
    [[noreturn]] void panic(const char* file, int line, const char* what) {
        throw FakePanic(std::string(file) + ":" + std::to_string(line) + ": " + what);
    }
    uint64_t now() { return clock += 7; }
    void zone_lock() {
        if (zone_locked_) violation("zone lock taken twice");
        zone_locked_ = true;
    }
    void zone_unlock() {
        if (!zone_locked_) violation("zone unlock without lock");
        zone_locked_ = false;
    }
    void pcp_lock(uint32_t cpu) {
        if (zone_locked_) violation("pcp lock taken under the zone lock");
        if (pcp_locked_.at(cpu)) violation("pcp lock taken twice");
        pcp_locked_[cpu] = true;
    }
    void pcp_unlock(uint32_t cpu) {
        if (!pcp_locked_.at(cpu)) violation("pcp unlock without lock");
        pcp_locked_[cpu] = false;
    }
    void zero_pages(uint64_t pa, uint64_t n) {
        effect("zero_pages");
        calls.push_back({Op::kZero, pa, n});
        for (uint64_t i = 0; i < n; ++i) secret.at(pfn(pa) + i) = 0;
    }
    void map_restricted_pageblock(uint64_t pa) {
        effect("map_restricted_pageblock");
        if (pa % (512 * 4096) != 0) violation("unaligned pageblock map");
        calls.push_back({Op::kMapBlock, pa});
        map(pa, 512);
    }
    void unmap_restricted_pageblock(uint64_t pa) {
        effect("unmap_restricted_pageblock");
        if (pa % (512 * 4096) != 0) violation("unaligned pageblock unmap");
        calls.push_back({Op::kUnmapBlock, pa});
        unmap(pa, 512);
    }
    void map_restricted_pages(uint64_t pa, uint64_t n) {
        effect("map_restricted_pages");
        calls.push_back({Op::kMapPages, pa, n});
        map(pa, n);
    }
    void unmap_restricted_pages(uint64_t pa, uint64_t n) {
        effect("unmap_restricted_pages");
        calls.push_back({Op::kUnmapPages, pa, n});
        unmap(pa, n);
    }
    void flush_restricted_tlb_all_cpus(uint64_t pa, uint64_t n) {
        effect("flush_restricted_tlb_all_cpus");
        uint64_t cached = 0;
        for (uint64_t i = 0; i < n; ++i) {
            cached |= may_cache.at(pfn(pa) + i);
            may_cache[pfn(pa) + i] = 0;
        }
        calls.push_back({Op::kFlush, pa, n, cached});
    }
    bool is_mapped_restricted(uint64_t pa) { return mapped.at(pfn(pa)) != 0; }
    bool restricted_mapping_all(uint64_t pa, uint64_t n, bool want) {
        for (uint64_t i = 0; i < n; ++i)
            if (is_mapped_restricted(pa + i * 4096) != want) return false;
        return true;
    }
    void bad_page(uint64_t pa, const char* reason) {
        calls.push_back({Op::kBadPage, pa});
        bad_page_reasons.push_back(reason);
    }
    void trace(uint32_t kind, uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
        calls.push_back({Op::kTrace, kind, a, b, c, d});
        if (kind == asi_abi::kTracePageAlloc) on_alloc(a, b, c);
        if (kind == asi_abi::kTracePageFree) {
            for (uint64_t i = 0; i < (1ull << b); ++i) live_sensitive.at(pfn(a) + i) = 0;
        }
    }
    uint64_t restricted_pcid() { return 1; }

    // ---- Test helpers ---------------------------------------------------------------------
    static uint64_t pfn(uint64_t pa) { return pa >> 12; }
    uint64_t all_cpus() const { return cpus_ >= 64 ? ~0ull : (1ull << cpus_) - 1; }

    // Sets the restricted map as the guest would build it after init.
    template <class Alloc>
    void build_restricted_map(const Alloc& alloc) {
        for (uint64_t p = 0; p < mapped.size(); ++p) {
            bool m = alloc.contains(p << 12) && alloc.restricted_mapped_at_init(p << 12);
            mapped[p] = m;
            may_cache[p] = m ? all_cpus() : 0;
        }
    }

    void write_secret(uint64_t pa, uint64_t n) {
        for (uint64_t i = 0; i < n; ++i) secret.at(pfn(pa) + i) = 1;
    }

    size_t count(Op op, uint64_t trace_kind = 0) const {
        size_t n = 0;
        for (const Call& c : calls) n += c.op == op && (op != Op::kTrace || c.a == trace_kind);
        return n;
    }

    std::vector<Call> since(size_t mark, bool with_traces = true) const {
        std::vector<Call> out;
        for (size_t i = mark; i < calls.size(); ++i)
            if (with_traces || calls[i].op != Op::kTrace) out.push_back(calls[i]);
        return out;
    }

    std::vector<uint8_t> mapped;
    std::vector<uint64_t> may_cache;
    std::vector<uint8_t> secret;
    std::vector<uint8_t> live_sensitive;
    std::vector<Call> calls;
    std::vector<std::string> violations;
    std::vector<std::string> bad_page_reasons;
    bool asi_on = true;  // false for asi=off: the restricted-space rules do not apply
    uint64_t clock = 0;

private:
    void violation(const std::string& what) { violations.push_back(what); }
    void effect(const char* what) {
        if (zone_locked_) violation(std::string(what) + " under the zone lock");
        if (!asi_on && std::string(what) != "zero_pages") violation(std::string(what) + " with asi=off");
    }
    void map(uint64_t pa, uint64_t n) {
        for (uint64_t i = 0; i < n; ++i) {
            uint64_t p = pfn(pa) + i;
            if (p >= mapped.size()) continue;
            if (secret[p]) violation("R4: frame with secret content mapped " + std::to_string(p));
            if (live_sensitive[p]) violation("R1: live sensitive frame mapped " + std::to_string(p));
            mapped[p] = 1;
            may_cache[p] = all_cpus();
        }
    }
    void unmap(uint64_t pa, uint64_t n) {
        for (uint64_t i = 0; i < n; ++i)
            if (pfn(pa) + i < mapped.size()) mapped[pfn(pa) + i] = 0;
    }
    void on_alloc(uint64_t pa, uint64_t order, uint64_t gfp) {
        const bool sens = (gfp & page_alloc::kGfpSensitive) != 0;
        for (uint64_t i = 0; i < (1ull << order); ++i) {
            uint64_t p = pfn(pa) + i;
            if (!asi_on) continue;
            if (sens) {
                live_sensitive[p] = 1;
                if (mapped[p]) violation("R1: sensitive frame handed out mapped " + std::to_string(p));
                if (may_cache[p]) violation("R2: sensitive frame handed out possibly cached " + std::to_string(p));
            } else if (!mapped[p]) {
                violation("nonsensitive frame handed out unmapped " + std::to_string(p));
            }
        }
    }

    bool zone_locked_ = false;
    std::vector<bool> pcp_locked_;
    uint32_t cpus_;
};

}  // namespace page_alloc_test
