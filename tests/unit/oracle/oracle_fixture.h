// Scenario fixture for the leak-oracle tests (DESIGN 5): a small machine described only by
// the event stream the oracle consumes, over a vector-backed fake RAM that holds the page
// tables (read through mmu::RamTableReader when a frame becomes a table) and the frames
// whose zero-ness the oracle checks (through RamContent).
//
// Layout (64 MiB RAM, 32 pageblocks of 2 MiB):
//   block 0      page tables (bump allocator from 0x1000), block 1 the kernel image;
//   kernel window  0xffffffff80000000 + [0, 4 MiB), 2 MiB pages, G=1, one PDPT shared by
//                  both roots (PML4[511]): the "shared kernel mappings";
//   direct map   0xffff888000000000 + PA for all of RAM with 2 MiB PDEs, one PD per root:
//                  the restricted root's PD is where pageblocks are made not present (ASI);
//   vmalloc      0xffffc90000000000, one 4 KiB PT per root (not shared).
// Two registered address spaces: unrestricted (PCID 1) and restricted (PCID 2), both owned
// by the kernel. Every vCPU starts (VcpuState) in the unrestricted space with CR0.PG=1,
// CR4.PCIDE=1 and, unless the options say otherwise, CR4.PGE=1.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "cpu_model/leak_oracle.h"
#include "emu/events.h"
#include "guest_kernel/abi/asi_emu_abi.h"
#include "mmu/address_space_index.h"
#include "tests/unit/mmu/page_table_builder.h"

namespace oracle_testing {

inline constexpr uint64_t kRamSize = 64ull << 20;
inline constexpr uint64_t kBlockSize = asi_abi::kPageblockSize;
inline constexpr unsigned kBlockCount = static_cast<unsigned>(kRamSize / kBlockSize);
inline constexpr uint64_t kFrameSize = asi_abi::kPageSize;
inline constexpr uint16_t kUnrestrictedPcid = 1;
inline constexpr uint16_t kRestrictedPcid = 2;

inline constexpr uint64_t kCr0Pe = 1ull << 0;
inline constexpr uint64_t kCr0Pg = 1ull << 31;
inline constexpr uint64_t kCr4Pae = 1ull << 5;
inline constexpr uint64_t kCr4Pge = 1ull << 7;
inline constexpr uint64_t kCr4Pcide = 1ull << 17;

inline constexpr uint64_t kVmallocBase = 0xffffc90000000000ull;
inline constexpr uint64_t kUserBase = 0x400000ull;

// Direct-map PDE flags (supervisor, writable, NX) and a 4 KiB kernel PTE's.
inline constexpr uint64_t kKernelDataFlags = mmu::pte_bits::kWritable | mmu::pte_bits::kNoExecute;

constexpr uint64_t block_pa(unsigned b) { return uint64_t{b} * kBlockSize; }
constexpr uint64_t dm_va(uint64_t pa) { return asi_abi::kDirectMapBase + pa; }
constexpr uint64_t vmalloc_va(unsigned slot) { return kVmallocBase + uint64_t{slot} * kFrameSize; }
constexpr uint64_t user_va(unsigned slot) { return kUserBase + uint64_t{slot} * kFrameSize; }

// Zero checks over the fake RAM: the bytes, never the guest's word (DESIGN 5).
class RamContent final : public cpu_model::FrameContentSource {
public:
    explicit RamContent(const mmu::PhysicalMemory& mem) : mem_(mem) {}
    bool frame_is_zero(uint64_t frame) override;
    uint64_t checks = 0;

private:
    const mmu::PhysicalMemory& mem_;
};

struct ScenarioOptions {
    std::string profile = "default";  // cpu_model::find_cpu_profile name
    unsigned vcpus = 2;
    bool pge = true;                  // CR4.PGE on every vCPU
    bool global_direct_map = false;   // the unrestricted root's direct-map PDEs carry G=1
};

// A restricted address space of a process: its own PML4 sharing the restricted kernel half,
// and one user PT at kUserBase.
struct ProcessSpace {
    uint64_t root = 0;
    uint16_t pcid = 0;
    uint64_t owner = 0;
    uint64_t user_pt = 0;
    uint64_t user_pte(unsigned slot) const { return user_pt + slot * 8ull; }
};

class Scenario {
public:
    explicit Scenario(const ScenarioOptions& options = {});
    Scenario(const Scenario&) = delete;
    Scenario& operator=(const Scenario&) = delete;

    // ---- What the test looks at -------------------------------------------------------
    cpu_model::LeakOracle& oracle() { return *oracle_; }
    const std::vector<cpu_model::Violation>& violations() const { return oracle_->violations(); }
    const cpu_model::OracleMetrics& metrics() const { return oracle_->metrics(); }
    const std::vector<emu::Event>& stream() const { return stream_; }
    uint64_t last_event_index() const { return stream_.size() - 1; }
    mmu::testing::FakeRam& ram() { return *ram_; }
    RamContent& content() { return content_; }
    unsigned vcpus() const { return static_cast<unsigned>(cr3_.size()); }
    uint64_t unrestricted_root() const { return unrestricted_root_; }
    uint64_t restricted_root() const { return restricted_root_; }
    bool in_restricted(unsigned v) const;

    // ---- Raw events --------------------------------------------------------------------
    void emit(emu::EventKind kind, unsigned vcpu, std::initializer_list<uint64_t> args);
    void tracepoint(unsigned vcpu, uint64_t kind, uint64_t a, uint64_t b = 0, uint64_t c = 0,
                    uint64_t d = 0);

    // ---- Frame ledger (tracepoints at the allocation API) ------------------------------
    void alloc_sensitive(uint64_t pa, uint64_t owner = 0, unsigned vcpu = 0, unsigned order = 0);
    void alloc_plain(uint64_t pa, unsigned vcpu = 0, unsigned order = 0);
    void free(uint64_t pa, unsigned vcpu = 0, unsigned order = 0);
    void register_space(uint64_t root, uint16_t pcid, bool restricted, uint64_t owner,
                        unsigned vcpu = 0);

    // ---- Page tables: RAM first, then the PteWrite the store hook would report ---------
    void write_entry(uint64_t entry_pa, uint64_t value, unsigned vcpu = 0);
    uint64_t read_entry(uint64_t entry_pa) const { return ram_->read(entry_pa); }
    uint64_t restricted_pde(unsigned block) const { return restricted_dm_pd_ + block * 8ull; }
    uint64_t unrestricted_pde(unsigned block) const { return unrestricted_dm_pd_ + block * 8ull; }
    static uint64_t block_pde_value(unsigned block, uint64_t extra = 0);
    void unmap_restricted_block(unsigned block, unsigned vcpu = 0);
    void map_restricted_block(unsigned block, unsigned vcpu = 0);
    uint64_t vmalloc_pte(bool restricted, unsigned slot) const {
        return (restricted ? restricted_vmalloc_pt_ : unrestricted_vmalloc_pt_) + slot * 8ull;
    }
    void map_vmalloc(bool restricted, unsigned slot, uint64_t frame,
                     uint64_t flags = kKernelDataFlags, unsigned vcpu = 0);
    void unmap_vmalloc(bool restricted, unsigned slot, unsigned vcpu = 0);
    // A fresh all-zero frame from the table area, not yet known to the oracle.
    uint64_t new_table() { return builder_.alloc_table(); }
    // ASI splitting a pageblock: a PT (allocated through the tracepoint) filled in RAM with
    // 512 PTEs mapping the block, then linked by one PteWrite to the restricted PDE.
    uint64_t split_restricted_block(unsigned block, unsigned vcpu = 0);
    // A restricted process space (registered) sharing the restricted kernel half.
    ProcessSpace make_process_space(uint64_t owner, uint16_t pcid);

    // ---- CPU ---------------------------------------------------------------------------
    void load_cr3(unsigned v, uint64_t root, uint16_t pcid, bool no_flush);
    void enter_restricted(unsigned v, bool no_flush = false) {
        load_cr3(v, restricted_root_, kRestrictedPcid, no_flush);
    }
    void enter_unrestricted(unsigned v, bool no_flush = false) {
        load_cr3(v, unrestricted_root_, kUnrestrictedPcid, no_flush);
    }
    void invlpg(unsigned v, uint64_t va);
    void invpcid(unsigned v, unsigned type, uint16_t pcid, uint64_t va = 0);
    void cr4_write(unsigned v, uint64_t cr4);
    void page_fault(unsigned v, uint64_t va);  // a #PF raised and delivered

    // ---- Frame contents ----------------------------------------------------------------
    void fill_frame(uint64_t pa, uint8_t byte);
    void zero_frame(uint64_t pa) { fill_frame(pa, 0); }

private:
    std::unique_ptr<mmu::testing::FakeRam> ram_;
    mmu::testing::PageTableBuilder builder_;
    mmu::RamTableReader reader_;
    RamContent content_;
    std::unique_ptr<cpu_model::LeakOracle> oracle_;
    std::vector<emu::Event> stream_;
    std::vector<uint64_t> cr3_, cr4_;
    uint64_t unrestricted_root_ = 0, restricted_root_ = 0;
    uint64_t unrestricted_dm_pd_ = 0, restricted_dm_pd_ = 0;
    uint64_t unrestricted_vmalloc_pt_ = 0, restricted_vmalloc_pt_ = 0;
};

// ---- Assertions -------------------------------------------------------------------------
std::string describe(const cpu_model::Violation& v);
std::string describe(const std::vector<cpu_model::Violation>& vs);
::testing::AssertionResult IsViolation(const cpu_model::Violation& v, cpu_model::Rule rule,
                                       unsigned vcpu, uint16_t pcid, uint64_t va, uint64_t frame);

}  // namespace oracle_testing
