// Test harness: one allocator over a FakeArch, plus a shadow model of who owns which
// frame. Every allocation through the harness is checked against the shadow (never handed
// out twice, inside the usable ranges, naturally aligned) and, for sensitive allocations,
// gets a secret written into it so that the fake's residue rule (R4) has teeth.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fake_arch.h"
#include "guest_kernel/mm/page_alloc/page_allocator.h"
#include "guest_kernel/mm/page_alloc/policies.h"

namespace page_alloc_test {

using namespace page_alloc;
using Alloc = PageAllocator<FakeArch>;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kPageblockBytes = 2 * kMiB;

struct HarnessConfig {
    std::string policy = "freetype";
    std::vector<PhysRange> ranges = {{16 * kMiB, 32 * kMiB}};
    uint32_t cpus = 4;
    uint32_t pcp_batch = 8;
    uint32_t pcp_high = 32;
    Sensitivity initial = Sensitivity::kSensitive;
    Sensitivity partial = Sensitivity::kNonsensitive;
    bool write_secrets = true;
};

struct LiveBlock {
    uint32_t order;
    gfp_t gfp;
};

class Harness {
public:
    explicit Harness(const HarnessConfig& c = {}) : cfg(c) {
        ZoneSpan span = zone_span_for(cfg.ranges.data(), static_cast<uint32_t>(cfg.ranges.size()));
        pages.resize(span.pages);
        arch = std::make_unique<FakeArch>(span.base_pfn + span.pages, cfg.cpus);
        arch->asi_on = cfg.policy != "off";
        AllocatorConfig<FakeArch> ac;
        ac.pages = pages.data();
        ac.span = span;
        ac.ranges = cfg.ranges.data();
        ac.range_count = static_cast<uint32_t>(cfg.ranges.size());
        ac.cpus = cfg.cpus;
        ac.pcp_batch = cfg.pcp_batch;
        ac.pcp_high = cfg.pcp_high;
        ac.policy = policies.by_name(cfg.policy.c_str());
        ac.initial = cfg.initial;
        ac.partial = cfg.partial;
        alloc.init(*arch, ac);
        arch->build_restricted_map(alloc);
        owned.assign(span.base_pfn + span.pages, 0);
        for (const PhysRange& r : cfg.ranges)
            for (uint64_t pa = (r.base + 4095) & ~4095ull; pa + 4096 <= r.base + r.length; pa += 4096)
                usable.insert(pa >> 12);
    }

    // Allocates and checks the result against the shadow model; kAllocFailed passes through.
    uint64_t get(uint32_t order, gfp_t gfp, uint32_t cpu = 0, uint64_t owner = 0) {
        uint64_t pa = alloc.alloc_pages(cpu, order, gfp, owner);
        if (pa == Alloc::kAllocFailed) return pa;
        const uint64_t pfn = pa >> 12;
        EXPECT_EQ(pfn % (1ull << order), 0u) << "misaligned block";
        for (uint64_t i = 0; i < (1ull << order); ++i) {
            EXPECT_TRUE(usable.count(pfn + i)) << "frame outside the usable ranges: " << pfn + i;
            EXPECT_EQ(owned.at(pfn + i), 0) << "frame handed out twice: " << pfn + i;
            owned[pfn + i] = 1;
        }
        live[pa] = {order, gfp};
        if ((gfp & kGfpSensitive) && cfg.write_secrets) arch->write_secret(pa, 1ull << order);
        return pa;
    }

    void put(uint64_t pa, uint32_t cpu = 0) {
        auto it = live.find(pa);
        ASSERT_NE(it, live.end());
        const uint32_t order = it->second.order;
        live.erase(it);
        for (uint64_t i = 0; i < (1ull << order); ++i) owned[(pa >> 12) + i] = 0;
        alloc.free_pages(cpu, pa, order);
    }

    void put_all() {
        while (!live.empty()) put(live.begin()->first);
    }

    // Frees everything, runs deferred work, drains the per-CPU lists and checks that every
    // usable frame is free again and every invariant holds.
    void expect_all_free() {
        put_all();
        alloc.run_deferred_work();
        alloc.drain_all_pcp();
        alloc.verify();
        EXPECT_EQ(alloc.nr_free_pages(), alloc.usable_pages());
        EXPECT_EQ(alloc.deferred_pages(), 0u);
    }

    void expect_clean() const {
        EXPECT_TRUE(arch->violations.empty()) << arch->violations.size() << " violations, first: "
                                              << (arch->violations.empty() ? "" : arch->violations[0]);
        EXPECT_EQ(alloc.metrics().bad_pages, 0u);
    }

    uint64_t usable_pages() const { return usable.size(); }

    HarnessConfig cfg;
    std::vector<Page> pages;
    std::unique_ptr<FakeArch> arch;
    PolicySet<FakeArch> policies;
    Alloc alloc;
    std::vector<uint8_t> owned;
    std::unordered_map<uint64_t, LiveBlock> live;
    std::unordered_set<uint64_t> usable;
};

}  // namespace page_alloc_test
