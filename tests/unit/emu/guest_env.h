// Test support for the Unicorn backend: a small 64-bit machine in a host buffer.
//
// GuestEnv owns page-aligned RAM mapped with uc_mem_map_ptr at guest-physical 0 on a
// UC_MODE_64 engine, identity page tables with 4 KiB pages (so single pages can be made
// not-present), a GDT, an IDT of 256 16-byte gates and a 64-bit TSS, loaded into
// GDTR/IDTR/TR, with CR0/CR4/EFER set for IA-32e paging. Nothing here runs guest code by
// itself; tests that need to, write their snippet into RAM and call uc_emu_start.
//
// Physical layout (all identity mapped, supervisor, writable):
//   0x01000 PML4, 0x02000 PDPT, 0x03000 PD, 0x04000.. one PT per 2 MiB
//   0x10000 GDT, 0x11000 IDT, 0x12000 TSS, 0x20000 code for tests that execute
//   stacks (tops): kernel 0x80000, RSP0 0x90000, IST1 0xa0000
#pragma once

#include <unicorn/unicorn.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "emu/backend/cpu_state_blob.h"
#include "mmu/physical_memory.h"

namespace emu::backend::testing {

// The layout found once per process (the probe opens and runs a scratch engine).
inline const CpuStateLayout& probed_layout() {
    static const LayoutProbe probe = probe_cpu_state_layout();
    if (!probe.layout) throw std::runtime_error("probe_cpu_state_layout failed: " + probe.failure);
    return *probe.layout;
}

inline void check_uc(uc_err e, const char* what) {
    if (e != UC_ERR_OK) throw std::runtime_error(std::string(what) + ": " + uc_strerror(e));
}

// Page-aligned, zeroed host memory.
class HostRam {
public:
    explicit HostRam(uint64_t size) : size_(size) {
        data_ = static_cast<uint8_t*>(std::aligned_alloc(4096, size));
        if (!data_) throw std::bad_alloc();
        std::memset(data_, 0, size);
    }
    ~HostRam() { std::free(data_); }
    HostRam(const HostRam&) = delete;
    HostRam& operator=(const HostRam&) = delete;
    uint8_t* data() const { return data_; }
    uint64_t size() const { return size_; }

private:
    uint8_t* data_;
    uint64_t size_;
};

class GuestEnv {
public:
    static constexpr uint64_t kRamSize = 4ull << 20;
    static constexpr uint64_t kPml4 = 0x1000, kPdpt = 0x2000, kPd = 0x3000, kPt0 = 0x4000;
    static constexpr uint64_t kGdt = 0x10000, kIdt = 0x11000, kTss = 0x12000, kCode = 0x20000;
    static constexpr uint64_t kKernelStackTop = 0x80000, kRsp0 = 0x90000, kIst1 = 0xa0000;

    static constexpr uint16_t kKernelCs = 0x08, kKernelDs = 0x10, kUserCs = 0x1b, kUserDs = 0x23,
                              kTssSel = 0x28, kNotPresentCs = 0x38;
    static constexpr uint32_t kGdtLimit = 0x40 - 1;
    static constexpr uint32_t kIdtLimit = 256 * 16 - 1;
    static constexpr uint32_t kTssLimit = 0x67;

    // Raw descriptors (SDM vol. 3A 3.4.5, 5.2.1).
    static constexpr uint64_t kDescKernelCode64 = 0x00af9a000000ffffull;  // P, DPL0, L=1, D=0
    static constexpr uint64_t kDescKernelData = 0x00cf92000000ffffull;
    static constexpr uint64_t kDescUserCode64 = 0x00affa000000ffffull;    // DPL3
    static constexpr uint64_t kDescUserData = 0x00cff2000000ffffull;      // DPL3
    static constexpr uint64_t kDescCodeNotPresent = 0x00af1a000000ffffull; // P=0

    GuestEnv() : ram_(kRamSize) {
        check_uc(uc_open(UC_ARCH_X86, UC_MODE_64, &uc_), "uc_open");
        check_uc(uc_mem_map_ptr(uc_, 0, kRamSize, UC_PROT_ALL, ram_.data()), "uc_mem_map_ptr");
        build_page_tables();
        build_gdt_and_tss();
        for (int v = 0; v < 256; ++v) set_gate(static_cast<uint8_t>(v));
        load_system_registers();
        set_cpl0();
        set_reg(UC_X86_REG_RSP, kKernelStackTop);
        set_reg(UC_X86_REG_RFLAGS, 0x202);
    }
    ~GuestEnv() {
        if (uc_) uc_close(uc_);
    }
    GuestEnv(const GuestEnv&) = delete;
    GuestEnv& operator=(const GuestEnv&) = delete;

    uc_engine* uc() const { return uc_; }
    uint8_t* ram() const { return ram_.data(); }
    mmu::PhysicalMemory& phys() { return phys_; }

    static uint64_t gate_target(uint8_t vector) { return 0xffffffff81000000ull + vector * 0x100ull; }

    // A 64-bit IDT gate (SDM vol. 3A figure 6-8). type 0xe: interrupt gate, 0xf: trap gate.
    // `extra_type_bits` lets a test set the S bit (bit 12 of the high dword's type byte).
    void set_gate(uint8_t vector, uint8_t type = 0xe, uint8_t dpl = 0, uint8_t ist = 0,
                  bool present = true, uint16_t selector = kKernelCs, uint64_t target = 0,
                  uint8_t extra_type_bits = 0) {
        if (target == 0) target = gate_target(vector);
        const uint64_t type_byte = (present ? 0x80u : 0u) | (uint64_t{dpl} << 5) | type | extra_type_bits;
        const uint64_t lo = (target & 0xffff) | (uint64_t{selector} << 16) | (uint64_t{ist} << 32) |
                            (type_byte << 40) | ((target & 0xffff0000ull) << 32);
        const uint64_t hi = target >> 32;
        put64(kIdt + vector * 16ull, lo);
        put64(kIdt + vector * 16ull + 8, hi);
    }

    // Makes the 4 KiB page at va (< kRamSize) not present in the identity tables.
    void unmap_page(uint64_t va) { put64(pte_pa(va), 0); }
    void remap_page(uint64_t va) { put64(pte_pa(va), (va & ~0xfffull) | 0x3); }

    void set_idt_limit(uint32_t limit) {
        uc_x86_mmr idtr{0, kIdt, limit, 0};
        check_uc(uc_reg_write(uc_, UC_X86_REG_IDTR, &idtr), "IDTR");
    }
    void set_tr_limit(uint32_t limit) {
        uc_x86_mmr tr{kTssSel, kTss, limit, 0x8b00};
        check_uc(uc_reg_write(uc_, UC_X86_REG_TR, &tr), "TR");
    }

    void set_reg(int reg, uint64_t v) { check_uc(uc_reg_write(uc_, reg, &v), "uc_reg_write"); }
    uint64_t reg(int r) const {
        uint64_t v = 0;
        check_uc(uc_reg_read(uc_, r, &v), "uc_reg_read");
        return v;
    }
    uint64_t read64(uint64_t pa) const {
        uint64_t v;
        std::memcpy(&v, ram_.data() + pa, 8);
        return v;
    }
    void put64(uint64_t pa, uint64_t v) { std::memcpy(ram_.data() + pa, &v, 8); }

    // Privilege changes the way the backend makes them: CS/SS caches and hflags.CPL.
    void set_cpl0() { set_privilege(kKernelCs, kKernelDs, kDescKernelCode64, kDescKernelData, 0); }
    void set_cpl3() { set_privilege(kUserCs, kUserDs, kDescUserCode64, kDescUserData, 3); }

    uint32_t hflags() const {
        CpuStateBlob blob(uc_, probed_layout());
        blob.load();
        return blob.hflags();
    }
    SegmentCache segment(int index) const {
        CpuStateBlob blob(uc_, probed_layout());
        blob.load();
        return blob.segment(index);
    }

private:
    void set_privilege(uint16_t cs, uint16_t ss, uint64_t cs_desc, uint64_t ss_desc, uint32_t cpl) {
        CpuStateBlob blob(uc_, probed_layout());
        blob.load();
        const auto flags = [](uint64_t d) { return static_cast<uint32_t>(d >> 32) & 0x00f0ff00u; };
        blob.set_segment(kSegCs, SegmentCache{cs, 0, 0xffffffff, flags(cs_desc)});
        blob.set_segment(kSegSs, SegmentCache{ss, 0, 0xffffffff, flags(ss_desc)});
        blob.set_hflags((blob.hflags() & ~kHflagCplMask) | cpl | kHflagCs32 | kHflagSs32 |
                        kHflagCs64 | kHflagLma);
        blob.store();
    }

    uint64_t pte_pa(uint64_t va) const {
        if (va >= kRamSize) throw std::out_of_range("GuestEnv: va outside RAM");
        return kPt0 + (va >> 12) * 8;  // the PTs are contiguous, one per 2 MiB
    }

    void build_page_tables() {
        put64(kPml4, kPdpt | 0x3);
        put64(kPdpt, kPd | 0x3);
        for (uint64_t i = 0; i < kRamSize / (2ull << 20); ++i) put64(kPd + i * 8, (kPt0 + i * 0x1000) | 0x3);
        for (uint64_t pa = 0; pa < kRamSize; pa += 0x1000) put64(pte_pa(pa), pa | 0x3);
    }

    void build_gdt_and_tss() {
        put64(kGdt + 0x00, 0);
        put64(kGdt + 0x08, kDescKernelCode64);
        put64(kGdt + 0x10, kDescKernelData);
        put64(kGdt + 0x18, kDescUserCode64);
        put64(kGdt + 0x20, kDescUserData);
        // 64-bit available TSS descriptor (16 bytes, SDM vol. 3A figure 8-4).
        const uint64_t base = kTss, limit = kTssLimit;
        const uint64_t tss_lo = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
                                (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
        put64(kGdt + 0x28, tss_lo);
        put64(kGdt + 0x30, base >> 32);
        put64(kGdt + 0x38, kDescCodeNotPresent);
        // TSS64: RSP0 at +4, IST1 at +0x24 (SDM vol. 3A figure 8-11).
        put64(kTss + 4, kRsp0);
        put64(kTss + 0x24, kIst1);
    }

    void load_system_registers() {
        uc_x86_mmr gdtr{0, kGdt, kGdtLimit, 0};
        check_uc(uc_reg_write(uc_, UC_X86_REG_GDTR, &gdtr), "GDTR");
        set_idt_limit(kIdtLimit);
        set_tr_limit(kTssLimit);
        set_reg(UC_X86_REG_CR4, 0x20);
        uc_x86_msr efer{0xC0000080, 0x500};
        check_uc(uc_reg_write(uc_, UC_X86_REG_MSR, &efer), "EFER");
        set_reg(UC_X86_REG_CR3, kPml4);
        set_reg(UC_X86_REG_CR0, 0x80010033);
    }

    HostRam ram_;
    mmu::PhysicalMemory phys_{ram_.data(), kRamSize};
    uc_engine* uc_ = nullptr;
};

}  // namespace emu::backend::testing
