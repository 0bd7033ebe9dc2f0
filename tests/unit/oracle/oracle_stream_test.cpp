// Whole-stream properties of the leak oracle: flush classification (needed vs redundant), a
// long correct ASI-like stream with no violation, a careless variant of the same stream that
// must be caught, and determinism (the same stream twice gives identical verdicts).
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "tests/unit/oracle/oracle_fixture.h"

namespace oracle_testing {
namespace {

using cpu_model::Rule;

constexpr unsigned kInvpcidAddress = 0, kInvpcidSingle = 1, kInvpcidAll = 3;

// ============================== Flush classification ======================================

TEST(OracleMetrics, InvlpgAfterARealChangeIsNeededAndARepeatIsRedundant) {
    Scenario s;
    s.enter_restricted(1);
    const auto before = s.metrics().invlpg;
    s.invlpg(1, dm_va(block_pa(13)));  // nothing changed yet
    EXPECT_EQ(s.metrics().invlpg.needed, before.needed);
    EXPECT_EQ(s.metrics().invlpg.redundant, before.redundant + 1);

    s.unmap_restricted_block(13);
    s.invlpg(1, dm_va(block_pa(13)));
    EXPECT_EQ(s.metrics().invlpg.needed, before.needed + 1);
    EXPECT_EQ(s.metrics().invlpg.redundant, before.redundant + 1);

    s.invlpg(1, dm_va(block_pa(13)));
    EXPECT_EQ(s.metrics().invlpg.needed, before.needed + 1);
    EXPECT_EQ(s.metrics().invlpg.redundant, before.redundant + 2);
}

TEST(OracleMetrics, InvpcidClassification) {
    Scenario s;
    s.enter_restricted(1);
    const auto before = s.metrics().invpcid;
    s.invpcid(0, kInvpcidSingle, kRestrictedPcid);  // vCPU 0 never ran PCID 2
    EXPECT_EQ(s.metrics().invpcid.redundant, before.redundant + 1);

    s.unmap_restricted_block(14);
    s.invpcid(0, kInvpcidSingle, kRestrictedPcid);  // still nothing on vCPU 0
    s.invpcid(1, kInvpcidAddress, kUnrestrictedPcid, dm_va(block_pa(14)));  // wrong PCID
    EXPECT_EQ(s.metrics().invpcid.needed, before.needed);
    EXPECT_EQ(s.metrics().invpcid.redundant, before.redundant + 3);

    s.invpcid(1, kInvpcidAddress, kRestrictedPcid, dm_va(block_pa(14)));
    EXPECT_EQ(s.metrics().invpcid.needed, before.needed + 1);
    s.invpcid(1, kInvpcidSingle, kRestrictedPcid);
    EXPECT_EQ(s.metrics().invpcid.needed, before.needed + 1);
    EXPECT_EQ(s.metrics().invpcid.redundant, before.redundant + 4);
}

TEST(OracleMetrics, Cr3LoadClassificationAndAsiEntries) {
    Scenario s;
    const auto before = s.metrics();
    s.enter_unrestricted(0);  // flushing reload, nothing stale
    EXPECT_EQ(s.metrics().cr3_flush.redundant, before.cr3_flush.redundant + 1);
    EXPECT_EQ(s.metrics().cr3_flush.needed, before.cr3_flush.needed);

    s.enter_restricted(1);
    s.enter_unrestricted(1, /*no_flush=*/true);  // not a flush: not counted
    s.unmap_restricted_block(15);                // stale for PCID 2 on vCPU 1
    const uint64_t redundant = s.metrics().cr3_flush.redundant;
    s.enter_restricted(1);                       // flushing PCID 2: removes the stale entry
    EXPECT_EQ(s.metrics().cr3_flush.needed, before.cr3_flush.needed + 1);
    EXPECT_EQ(s.metrics().cr3_flush.redundant, redundant);
    EXPECT_EQ(s.metrics().asi_entries, before.asi_entries + 2);
    EXPECT_EQ(s.metrics().pte_writes, before.pte_writes + 1);
    EXPECT_EQ(s.oracle().violation_count(), 0u) << describe(s.violations());
}

// ============================== Long streams ==============================================

// An ASI-like kernel on two vCPUs, driven by a fixed pseudo-random sequence. Pageblocks 4-31
// are either sensitive (absent from the restricted direct map) or not. Correct discipline:
//   * a block turns sensitive only when nothing is allocated in it: restricted PDE cleared,
//     then the restricted PCID flushed for that block on *every* vCPU, then the allocation;
//   * secrets are written into sensitive frames; before a sensitive block is mapped back,
//     every frame that may hold residue is zeroed;
//   * vmalloc slots in the restricted tables map nonsensitive frames; unmapping flushes every
//     vCPU before the frame is freed;
//   * split blocks (a PT under the restricted PDE) are merged back to a 2 MiB PDE and the PT
//     is freed only after every vCPU flushed the restricted PCID;
//   * vCPUs enter and leave the restricted space at random, with flushing or no-flush loads.
// A careless kernel skips some flushes and some zeroing; the oracle must catch it.
class Workload {
public:
    Workload(Scenario& s, uint64_t seed, bool careless) : s_(s), rng_(seed), careless_(careless) {
        blocks_.resize(kBlockCount);
        frames_.assign(kRamSize / kFrameSize, Frame::Free);
        dirty_.assign(kRamSize / kFrameSize, false);
        vmalloc_.assign(16, 0);
        for (unsigned i = 0; i < 8; ++i) pt_pool_.push_back(s_.new_table());
    }

    void run(unsigned steps) {
        for (unsigned i = 0; i < steps; ++i) {
            switch (pick(20)) {
            case 0: case 1: case 2: case 3: case 4: alloc_sensitive(); break;
            case 5: case 6: case 7: free_sensitive(); break;
            case 8: case 9: flip_back(); break;
            case 10: case 11: alloc_plain(); break;
            case 12: free_plain(); break;
            case 13: case 14: case 15: switch_space(); break;
            case 16: vmalloc_op(); break;
            case 17: if (pick(4) == 0) split_op(); break;
            case 18: redundant_flush(); break;
            case 19: write_secret(); break;
            }
        }
    }

private:
    static constexpr unsigned kFirstBlock = 4;  // 0: tables, 1: kernel, 2-3: kept out
    enum class Frame : uint8_t { Free, Sensitive, Plain };
    struct Block {
        bool sensitive = false;
        unsigned allocated = 0;
        uint64_t pt = 0;  // split: the restricted PT
    };

    uint64_t next() {  // splitmix64: same sequence on every platform
        uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    unsigned pick(unsigned n) { return static_cast<unsigned>(next() % n); }
    bool sloppy() { return careless_ && pick(4) == 0; }
    unsigned cpu() { return pick(s_.vcpus()); }
    unsigned some_block() { return kFirstBlock + pick(kBlockCount - kFirstBlock); }

    // The restricted PCID's translations for the block, removed on every vCPU.
    void flush_everywhere(uint64_t va) {
        for (unsigned v = 0; v < s_.vcpus(); ++v) {
            if (sloppy()) continue;
            switch (pick(3)) {
            case 0:
                if (s_.in_restricted(v)) s_.invlpg(v, va);
                else s_.invpcid(v, kInvpcidAddress, kRestrictedPcid, va);
                break;
            case 1: s_.invpcid(v, kInvpcidAddress, kRestrictedPcid, va); break;
            default: s_.invpcid(v, kInvpcidSingle, kRestrictedPcid); break;
            }
        }
    }
    void flush_pcid_everywhere() {
        for (unsigned v = 0; v < s_.vcpus(); ++v)
            if (!sloppy()) s_.invpcid(v, pick(2) ? kInvpcidSingle : kInvpcidAll, kRestrictedPcid);
    }

    // A free frame of the block, or 0.
    uint64_t free_frame(unsigned b) {
        const unsigned start = pick(512);
        for (unsigned i = 0; i < 512; ++i) {
            const uint64_t f = block_pa(b) + ((start + i) % 512) * kFrameSize;
            if (frames_[f / kFrameSize] == Frame::Free) return f;
        }
        return 0;
    }

    void take(uint64_t f, Frame kind) {
        frames_[f / kFrameSize] = kind;
        ++blocks_[f / kBlockSize].allocated;
        (kind == Frame::Sensitive ? sensitive_ : plain_).push_back(f);
    }
    uint64_t release(std::vector<uint64_t>& list) {
        const size_t i = pick(static_cast<unsigned>(list.size()));
        const uint64_t f = list[i];
        list[i] = list.back();
        list.pop_back();
        frames_[f / kFrameSize] = Frame::Free;
        --blocks_[f / kBlockSize].allocated;
        return f;
    }

    void alloc_sensitive() {
        const unsigned b = some_block();
        Block& blk = blocks_[b];
        if (!blk.sensitive) {
            if (blk.allocated != 0 || blk.pt != 0) return;
            s_.unmap_restricted_block(b, cpu());
            flush_everywhere(dm_va(block_pa(b)));
            blk.sensitive = true;
        }
        const uint64_t f = free_frame(b);
        if (!f) return;
        s_.alloc_sensitive(f, 0, cpu());
        take(f, Frame::Sensitive);
        s_.fill_frame(f, static_cast<uint8_t>(0x40 | pick(64)));
        dirty_[f / kFrameSize] = true;
    }

    void free_sensitive() {
        if (sensitive_.empty()) return;
        const uint64_t f = release(sensitive_);
        if (pick(2)) {
            s_.zero_frame(f);
            dirty_[f / kFrameSize] = false;
        }
        s_.free(f, cpu());
    }

    void write_secret() {
        if (sensitive_.empty()) return;
        const uint64_t f = sensitive_[pick(static_cast<unsigned>(sensitive_.size()))];
        s_.fill_frame(f, static_cast<uint8_t>(1 + pick(255)));
        dirty_[f / kFrameSize] = true;
    }

    void flip_back() {
        const unsigned b = some_block();
        Block& blk = blocks_[b];
        if (!blk.sensitive || blk.allocated != 0) return;
        for (unsigned i = 0; i < 512; ++i) {
            const uint64_t f = block_pa(b) + i * kFrameSize;
            if (dirty_[f / kFrameSize] && !sloppy()) {
                s_.zero_frame(f);
                dirty_[f / kFrameSize] = false;
            }
        }
        s_.map_restricted_block(b, cpu());  // not present -> present: nothing to flush
        blk.sensitive = false;
    }

    void alloc_plain() {
        const unsigned b = some_block();
        if (blocks_[b].sensitive) return;
        const uint64_t f = free_frame(b);
        if (!f) return;
        s_.alloc_plain(f, cpu());
        take(f, Frame::Plain);
        s_.fill_frame(f, 0x11);  // kernel data, not a secret
    }

    void free_plain() {  // vmalloc-mapped and table frames are not on this list
        if (plain_.empty()) return;
        s_.free(release(plain_), cpu());
    }

    void vmalloc_op() {
        const unsigned slot = pick(static_cast<unsigned>(vmalloc_.size()));
        if (vmalloc_[slot] == 0) {
            const unsigned b = some_block();
            if (blocks_[b].sensitive) return;
            const uint64_t f = free_frame(b);
            if (!f) return;
            s_.alloc_plain(f, cpu());
            frames_[f / kFrameSize] = Frame::Plain;
            ++blocks_[b].allocated;
            s_.map_vmalloc(true, slot, f, kKernelDataFlags, cpu());
            vmalloc_[slot] = f;
        } else {
            const uint64_t f = vmalloc_[slot];
            s_.unmap_vmalloc(true, slot, cpu());
            flush_everywhere(vmalloc_va(slot));
            vmalloc_[slot] = 0;
            frames_[f / kFrameSize] = Frame::Free;
            --blocks_[f / kBlockSize].allocated;
            s_.free(f, cpu());
        }
    }

    void split_op() {
        const unsigned b = some_block();
        Block& blk = blocks_[b];
        if (blk.sensitive) return;
        if (blk.pt == 0) {
            if (pt_pool_.empty()) return;
            const uint64_t pt = pt_pool_.back();
            pt_pool_.pop_back();
            const unsigned v = cpu();
            s_.alloc_plain(pt, v);
            // The frame may still be tracked (an old PDE-cache record pins it): every store
            // goes through the PteWrite path.
            for (unsigned i = 0; i < 512; ++i)
                s_.write_entry(pt + i * 8ull,
                               mmu::Pte::page(block_pa(b) + i * kFrameSize, kKernelDataFlags).raw(), v);
            s_.write_entry(s_.restricted_pde(b), mmu::Pde::table(pt, mmu::pte_bits::kWritable).raw(), v);
            blk.pt = pt;
        } else {
            s_.map_restricted_block(b, cpu());  // back to one 2 MiB PDE
            flush_pcid_everywhere();            // every 4 KiB entry and the PDE-cache entry
            s_.free(blk.pt, cpu());
            pt_pool_.insert(pt_pool_.begin(), blk.pt);
            blk.pt = 0;
        }
    }

    void switch_space() {
        const unsigned v = cpu();
        const bool no_flush = pick(2);
        if (s_.in_restricted(v)) s_.enter_unrestricted(v, no_flush);
        else s_.enter_restricted(v, no_flush);
    }

    void redundant_flush() {
        const unsigned v = cpu();
        if (pick(2)) s_.invlpg(v, dm_va(block_pa(some_block())));
        else s_.invpcid(v, kInvpcidAll, 0);
    }

    Scenario& s_;
    uint64_t rng_;
    bool careless_;
    std::vector<Block> blocks_;
    std::vector<Frame> frames_;
    std::vector<bool> dirty_;
    std::vector<uint64_t> sensitive_, plain_, vmalloc_, pt_pool_;
};

size_t count_events(const Scenario& s, emu::EventKind kind, uint64_t a0 = ~0ull) {
    return static_cast<size_t>(std::count_if(s.stream().begin(), s.stream().end(), [&](const emu::Event& e) {
        return e.kind == kind && (a0 == ~0ull || e.a[0] == a0);
    }));
}

TEST(OracleStream, LongCorrectStreamHasNoViolation) {
    Scenario s;
    Workload(s, 7, /*careless=*/false).run(4000);
    EXPECT_EQ(s.oracle().violation_count(), 0u) << describe(s.violations());
    // The stream is not trivially clean: it exercises every kind of change many times.
    EXPECT_GT(count_events(s, emu::EventKind::Tracepoint, asi_abi::kTracePageAlloc), 800u);
    EXPECT_GT(count_events(s, emu::EventKind::Tracepoint, asi_abi::kTracePageFree), 500u);
    EXPECT_GT(count_events(s, emu::EventKind::Cr3Load), 300u);
    EXPECT_GT(count_events(s, emu::EventKind::Invpcid) + count_events(s, emu::EventKind::Invlpg), 200u);
    const auto& m = s.metrics();
    EXPECT_GT(m.invlpg.needed + m.invpcid.needed, 0u);
    EXPECT_GT(m.invlpg.redundant + m.invpcid.redundant, 0u);
    EXPECT_GT(m.asi_entries, 0u);
    EXPECT_GT(m.pte_writes, 0u);
    EXPECT_GT(s.content().checks, 0u);
    EXPECT_GT(s.stream().size(), 4000u);
}

TEST(OracleStream, LongCorrectStreamWithL1tfProfileHasNoViolation) {
    Scenario s({.profile = "l1tf"});
    Workload(s, 11, /*careless=*/false).run(3000);
    EXPECT_EQ(s.oracle().violation_count(), 0u) << describe(s.violations());
}

TEST(OracleStream, CarelessStreamIsCaught) {
    Scenario s;
    Workload(s, 7, /*careless=*/true).run(4000);
    EXPECT_GT(s.oracle().violation_count(), 0u);
    const auto& by_rule = s.metrics().violations_by_rule;
    EXPECT_EQ(by_rule[1], 0u) << "a careless flush or zeroing never maps a secret: " << describe(s.violations());
    EXPECT_GT(by_rule[2] + by_rule[4] + by_rule[5], 0u);
}

bool same_event(const emu::Event& a, const emu::Event& b) {
    return a.icount == b.icount && a.rip == b.rip && a.vcpu == b.vcpu && a.kind == b.kind &&
           std::equal(std::begin(a.a), std::end(a.a), std::begin(b.a));
}

TEST(OracleStream, SameStreamTwiceGivesIdenticalViolations) {
    Scenario a, b;
    Workload(a, 1234, /*careless=*/true).run(3000);
    Workload(b, 1234, /*careless=*/true).run(3000);
    ASSERT_EQ(a.stream().size(), b.stream().size());
    for (size_t i = 0; i < a.stream().size(); ++i) ASSERT_TRUE(same_event(a.stream()[i], b.stream()[i])) << i;

    ASSERT_GT(a.oracle().violation_count(), 0u);
    EXPECT_EQ(a.oracle().violation_count(), b.oracle().violation_count());
    ASSERT_EQ(a.violations().size(), b.violations().size());
    for (size_t i = 0; i < a.violations().size(); ++i) {
        const auto &x = a.violations()[i], &y = b.violations()[i];
        EXPECT_EQ(describe(x), describe(y));
        EXPECT_EQ(x.icount, y.icount);
        EXPECT_EQ(x.rip, y.rip);
        ASSERT_EQ(x.chain.size(), y.chain.size());
        for (size_t j = 0; j < x.chain.size(); ++j) {
            EXPECT_EQ(x.chain[j].index, y.chain[j].index);
            EXPECT_EQ(x.chain[j].note, y.chain[j].note);
            EXPECT_TRUE(same_event(x.chain[j].event, y.chain[j].event));
        }
    }
    EXPECT_EQ(a.metrics().violations_by_rule, b.metrics().violations_by_rule);
    EXPECT_EQ(a.metrics().invlpg.needed, b.metrics().invlpg.needed);
    EXPECT_EQ(a.metrics().invpcid.redundant, b.metrics().invpcid.redundant);
    EXPECT_EQ(a.metrics().cr3_flush.needed, b.metrics().cr3_flush.needed);
}

}  // namespace
}  // namespace oracle_testing
