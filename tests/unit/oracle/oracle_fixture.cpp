#include "tests/unit/oracle/oracle_fixture.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace oracle_testing {

using mmu::PteLevel;
using mmu::pte_bits::kGlobal;
using mmu::pte_bits::kNoExecute;
using mmu::pte_bits::kUser;
using mmu::pte_bits::kWritable;

namespace {

std::string hex(uint64_t v) {
    char b[24];
    snprintf(b, sizeof b, "0x%" PRIx64, v);
    return b;
}

cpu_model::CpuProfile profile_named(const std::string& name) {
    auto p = cpu_model::find_cpu_profile(name);
    if (!p) throw std::invalid_argument("no CPU profile " + name);
    return *p;
}

}  // namespace

bool RamContent::frame_is_zero(uint64_t frame) {
    ++checks;
    frame &= ~(kFrameSize - 1);
    if (!mem_.contains(frame, kFrameSize)) return true;
    const uint8_t* p = mem_.data + frame;
    for (uint64_t i = 0; i < kFrameSize; ++i)
        if (p[i] != 0) return false;
    return true;
}

Scenario::Scenario(const ScenarioOptions& options)
    : ram_(std::make_unique<mmu::testing::FakeRam>(kRamSize)),
      builder_(*ram_, 0x1000),
      reader_(ram_->mem()),
      content_(ram_->mem()),
      cr3_(options.vcpus, 0),
      cr4_(options.vcpus, 0) {
    // Everything below is built in RAM before the oracle exists: it reads the tables when the
    // roots become anchors (registration, VcpuState).
    unrestricted_root_ = builder_.new_root();
    restricted_root_ = builder_.new_root();

    // Kernel image window, global, through a PDPT both roots share.
    for (unsigned b = 0; b < 2; ++b)
        builder_.map(unrestricted_root_, asi_abi::kKernelWindowBase + block_pa(b), block_pa(b),
                     kWritable | kGlobal, mmu::kPageSize2M, kWritable);
    const unsigned k511 = mmu::index_of(PteLevel::Pml4e, asi_abi::kKernelWindowBase);
    ram_->write(restricted_root_ + k511 * 8ull, ram_->read(unrestricted_root_ + k511 * 8ull));

    // Direct map: all of RAM in both roots, one PD each.
    for (unsigned b = 0; b < kBlockCount; ++b) {
        builder_.map(unrestricted_root_, dm_va(block_pa(b)), block_pa(b),
                     kKernelDataFlags | (options.global_direct_map ? kGlobal : 0), mmu::kPageSize2M,
                     kWritable);
        builder_.map(restricted_root_, dm_va(block_pa(b)), block_pa(b), kKernelDataFlags,
                     mmu::kPageSize2M, kWritable);
    }
    unrestricted_dm_pd_ = builder_.entry_pa(unrestricted_root_, dm_va(0), PteLevel::Pde, kWritable);
    restricted_dm_pd_ = builder_.entry_pa(restricted_root_, dm_va(0), PteLevel::Pde, kWritable);

    // One vmalloc PT per root.
    unrestricted_vmalloc_pt_ = builder_.entry_pa(unrestricted_root_, kVmallocBase, PteLevel::Pte, kWritable);
    restricted_vmalloc_pt_ = builder_.entry_pa(restricted_root_, kVmallocBase, PteLevel::Pte, kWritable);

    oracle_ = std::make_unique<cpu_model::LeakOracle>(kRamSize, options.vcpus, profile_named(options.profile),
                                                      reader_, content_);
    register_space(unrestricted_root_, kUnrestrictedPcid, false, 0);
    register_space(restricted_root_, kRestrictedPcid, true, 0);
    for (unsigned v = 0; v < options.vcpus; ++v) {
        cr3_[v] = unrestricted_root_ | kUnrestrictedPcid;
        cr4_[v] = kCr4Pae | kCr4Pcide | (options.pge ? kCr4Pge : 0);
        emit(emu::EventKind::VcpuState, v, {kCr0Pg | kCr0Pe, cr3_[v], cr4_[v]});
    }
}

bool Scenario::in_restricted(unsigned v) const {
    return (cr3_.at(v) & mmu::pte_bits::kAddressMask) == restricted_root_;
}

void Scenario::emit(emu::EventKind kind, unsigned vcpu, std::initializer_list<uint64_t> args) {
    emu::Event e;
    e.icount = 1000 + stream_.size() * 10;
    e.rip = 0xffffffff81000000ull + stream_.size() * 4;
    e.vcpu = vcpu;
    e.kind = kind;
    unsigned i = 0;
    for (uint64_t a : args) e.a[i++] = a;
    stream_.push_back(e);
    oracle_->process(stream_.back());
}

void Scenario::tracepoint(unsigned vcpu, uint64_t kind, uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
    emit(emu::EventKind::Tracepoint, vcpu, {kind, a, b, c, d});
}

void Scenario::alloc_sensitive(uint64_t pa, uint64_t owner, unsigned vcpu, unsigned order) {
    tracepoint(vcpu, asi_abi::kTracePageAlloc, pa, order, asi_abi::kGfpSensitive, owner);
}

void Scenario::alloc_plain(uint64_t pa, unsigned vcpu, unsigned order) {
    tracepoint(vcpu, asi_abi::kTracePageAlloc, pa, order, 0, 0);
}

void Scenario::free(uint64_t pa, unsigned vcpu, unsigned order) {
    tracepoint(vcpu, asi_abi::kTracePageFree, pa, order, 0, 0);
}

void Scenario::register_space(uint64_t root, uint16_t pcid, bool restricted, uint64_t owner, unsigned vcpu) {
    tracepoint(vcpu, asi_abi::kTraceAddressSpaceRegister, root, pcid,
               restricted ? asi_abi::kSpaceRestricted : asi_abi::kSpaceUnrestricted, owner);
}

void Scenario::write_entry(uint64_t entry_pa, uint64_t value, unsigned vcpu) {
    if (!ram_->mem().write_u64(entry_pa, value)) throw std::out_of_range("write_entry");
    emit(emu::EventKind::PteWrite, vcpu, {entry_pa, 8, value});
}

uint64_t Scenario::block_pde_value(unsigned block, uint64_t extra) {
    return mmu::Pde::page(block_pa(block), kKernelDataFlags | extra).raw();
}

void Scenario::unmap_restricted_block(unsigned block, unsigned vcpu) {
    write_entry(restricted_pde(block), 0, vcpu);
}

void Scenario::map_restricted_block(unsigned block, unsigned vcpu) {
    write_entry(restricted_pde(block), block_pde_value(block), vcpu);
}

void Scenario::map_vmalloc(bool restricted, unsigned slot, uint64_t frame, uint64_t flags, unsigned vcpu) {
    write_entry(vmalloc_pte(restricted, slot), mmu::Pte::page(frame, flags).raw(), vcpu);
}

void Scenario::unmap_vmalloc(bool restricted, unsigned slot, unsigned vcpu) {
    write_entry(vmalloc_pte(restricted, slot), 0, vcpu);
}

uint64_t Scenario::split_restricted_block(unsigned block, unsigned vcpu) {
    const uint64_t pt = new_table();
    alloc_plain(pt, vcpu);
    for (unsigned i = 0; i < mmu::kEntriesPerTable; ++i)
        ram_->mem().write_u64(pt + i * 8ull, mmu::Pte::page(block_pa(block) + i * kFrameSize, kKernelDataFlags).raw());
    write_entry(restricted_pde(block), mmu::Pde::table(pt, kWritable).raw(), vcpu);
    return pt;
}

ProcessSpace Scenario::make_process_space(uint64_t owner, uint16_t pcid) {
    ProcessSpace p;
    p.owner = owner;
    p.pcid = pcid;
    p.root = new_table();
    for (unsigned i = 256; i < mmu::kEntriesPerTable; ++i)
        ram_->mem().write_u64(p.root + i * 8ull, ram_->read(restricted_root_ + i * 8ull));
    const uint64_t pte = builder_.entry_pa(p.root, kUserBase, PteLevel::Pte, kWritable | kUser);
    p.user_pt = pte & ~(kFrameSize - 1);
    register_space(p.root, pcid, true, owner);
    return p;
}

void Scenario::load_cr3(unsigned v, uint64_t root, uint16_t pcid, bool no_flush) {
    const uint64_t old = cr3_.at(v);
    cr3_[v] = root | pcid;
    emit(emu::EventKind::Cr3Load, v, {cr3_[v], old, no_flush ? 1u : 0u});
}

void Scenario::invlpg(unsigned v, uint64_t va) {
    emit(emu::EventKind::Invlpg, v, {va, cr3_.at(v) & 0xfff});
}

void Scenario::invpcid(unsigned v, unsigned type, uint16_t pcid, uint64_t va) {
    emit(emu::EventKind::Invpcid, v, {type, pcid, va});
}

void Scenario::cr4_write(unsigned v, uint64_t cr4) {
    const uint64_t old = cr4_.at(v);
    cr4_[v] = cr4;
    emit(emu::EventKind::Cr4Write, v, {cr4, old});
}

void Scenario::page_fault(unsigned v, uint64_t va) {
    emit(emu::EventKind::Exception, v, {14, 0, va, 14});
}

void Scenario::fill_frame(uint64_t pa, uint8_t byte) {
    pa &= ~(kFrameSize - 1);
    if (!ram_->mem().contains(pa, kFrameSize)) throw std::out_of_range("fill_frame");
    std::memset(ram_->mem().data + pa, byte, kFrameSize);
}

// ---- Assertions -------------------------------------------------------------------------

std::string describe(const cpu_model::Violation& v) {
    return std::string(cpu_model::rule_name(v.rule)) + " vcpu=" + std::to_string(v.vcpu) +
           " pcid=" + std::to_string(v.pcid) + " va=" + hex(v.va) + " frame=" + hex(v.frame) +
           " event=" + std::to_string(v.event_index) + " (" + v.how + ")";
}

std::string describe(const std::vector<cpu_model::Violation>& vs) {
    std::string s;
    for (const auto& v : vs) s += "\n  " + describe(v);
    return s.empty() ? std::string(" (none)") : s;
}

::testing::AssertionResult IsViolation(const cpu_model::Violation& v, cpu_model::Rule rule, unsigned vcpu,
                                       uint16_t pcid, uint64_t va, uint64_t frame) {
    if (v.rule == rule && v.vcpu == vcpu && v.pcid == pcid && v.va == va && v.frame == frame)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "expected " << cpu_model::rule_name(rule) << " vcpu=" << vcpu << " pcid=" << pcid << " va=" << hex(va)
           << " frame=" << hex(frame) << "\n     got " << describe(v);
}

}  // namespace oracle_testing
