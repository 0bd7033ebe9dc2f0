// The instructions the load-time scan hooks (DESIGN 4.4-4.6), carried out or observed
// before Unicorn executes them.
#include <algorithm>
#include <cinttypes>
#include <cstring>

#include "emu/backend/linear_memory.h"
#include "emu/dirty_page_tracker.h"
#include "mmu/hex.h"
#include "emu/backend/vcpu.h"

namespace emu::backend {
namespace {

constexpr uint64_t kCr3NoFlush = 1ull << 63;  // SDM 4.10.4.1: never stored in CR3
constexpr uint64_t kCr4Pge = 1ull << 7, kCr4Pcide = 1ull << 17;
constexpr uint32_t kMsrTsc = 0x10, kMsrEfer = 0xc0000080, kMsrTscAux = 0xc0000103;
constexpr uint64_t kEferSce = 1ull << 0, kEferLme = 1ull << 8, kEferLma = 1ull << 10, kEferNxe = 1ull << 11;

}  // namespace

uint64_t Vcpu::tsc() const { return clock() + tsc_offset_; }

void Vcpu::skip(const PrivilegedInsn& insn) {
    const uint64_t next = insn.address + insn.size;
    uc_reg_write(uc_, UC_X86_REG_RIP, &next);
}

uint64_t Vcpu::read_operand(const PrivilegedInsn& insn) const {
    uint64_t v = reg(insn.reg);
    if (insn.reg_bytes == 4) v &= 0xffffffffull;
    return v;
}

uint64_t Vcpu::effective_address(const PrivilegedInsn& insn) const {
    const MemoryOperand& m = insn.mem;
    uint64_t ea = static_cast<uint64_t>(m.disp);
    if (m.base == UC_X86_REG_RIP) ea += insn.address + insn.size;
    else if (m.base) ea += reg(m.base);
    if (m.index) ea += reg(m.index) * static_cast<uint64_t>(m.scale);
    if (m.segment == UC_X86_REG_FS_BASE || m.segment == UC_X86_REG_GS_BASE) ea += reg(m.segment);
    return ea;
}

bool Vcpu::emulate(const PrivilegedInsn& insn) {
    switch (insn.kind) {
        case PrivilegedKind::MovToCr3: return emulate_mov_cr3(insn);
        case PrivilegedKind::Invpcid: return emulate_invpcid(insn);
        case PrivilegedKind::Rdmsr: return emulate_rdmsr(insn);
        case PrivilegedKind::Wrmsr: return emulate_wrmsr(insn);
        case PrivilegedKind::MovToCr0:
        case PrivilegedKind::MovToCr4: note_cr_write(insn); return false;
        case PrivilegedKind::Invlpg: note_invlpg(insn); return false;
        case PrivilegedKind::Hlt: return emulate_hlt(insn);
        case PrivilegedKind::Sti: return emulate_sti(insn);
        case PrivilegedKind::Pause: return emulate_pause(insn);
        case PrivilegedKind::PortOut: out_rip_ = insn.address; return false;
        case PrivilegedKind::RepStos: return emulate_rep_stos(insn);
        case PrivilegedKind::Rdtsc:
        case PrivilegedKind::Rdtscp: {
            if (cpl() != 0 && (reg(UC_X86_REG_CR4) & (1u << 2))) {  // CR4.TSD
                raise(general_protection_fault(insn.address));
                return true;
            }
            const uint64_t t = tsc(), lo = t & 0xffffffffull, hi = t >> 32;
            uc_reg_write(uc_, UC_X86_REG_RAX, &lo);
            uc_reg_write(uc_, UC_X86_REG_RDX, &hi);
            if (insn.kind == PrivilegedKind::Rdtscp) {
                uc_x86_msr aux{kMsrTscAux, 0};
                uc_reg_read(uc_, UC_X86_REG_MSR, &aux);
                uint64_t c = aux.value & 0xffffffffull;
                uc_reg_write(uc_, UC_X86_REG_RCX, &c);
            }
            skip(insn);
            return true;
        }
        case PrivilegedKind::Rdrand:
        case PrivilegedKind::Rdseed: emulate_random(insn); return true;
    }
    return false;
}

// MOV to CR3 (SDM vol. 3A 4.10.4.1; vol. 2B "MOV—Move to/from Control Registers").
// With CR4.PCIDE=1, bit 63 of the source selects no-flush and is not stored; with
// CR4.PCIDE=0 it is reserved. Bits above MAXPHYADDR are reserved (#GP(0)).
// Unicorn stores bit 63 and always flushes, so the load is carried out here: Unicorn's
// untagged TLB is flushed on every load (safe: stale-TLB semantics live in cpu_model) and
// the architectural no-flush decision goes into the event stream.
bool Vcpu::emulate_mov_cr3(const PrivilegedInsn& insn) {
    if (cpl() != 0) {
        raise(general_protection_fault(insn.address));
        return true;
    }
    const uint64_t value = read_operand(insn);
    const bool pcide = reg(UC_X86_REG_CR4) & kCr4Pcide;
    const uint64_t reserved = ~((1ull << shared_.maxphyaddr) - 1) & ~kCr3NoFlush;
    if ((value & reserved) || (!pcide && (value & kCr3NoFlush))) {
        raise(general_protection_fault(insn.address));
        return true;
    }
    const bool no_flush = pcide && (value & kCr3NoFlush);
    const uint64_t new_cr3 = value & ~kCr3NoFlush;
    const uint64_t old_cr3 = reg(UC_X86_REG_CR3);
    if (auto problem = validate_root(new_cr3)) {
        stop(StopKind::ForbiddenAccess, *problem + " (CR3 load at " + describe_rip(insn.address) + ")");
        return true;
    }
    uc_reg_write(uc_, UC_X86_REG_CR3, &new_cr3);
    flush_unicorn_tlb();
    // Demand aliases are per engine and untagged: keep only those the new root still maps
    // to the same frame (a no-flush switch may keep stale translations, but never those of
    // another PCID's address space).
    windows_->drop_aliases_not_matching([&](uint64_t va) -> std::optional<uint64_t> {
        mmu::WalkResult w = mmu::walk(shared_.ram, new_cr3, va, mmu::AccessType::Read, access_context(false));
        if (w.status != mmu::WalkStatus::Ok) return std::nullopt;
        return w.t.frame;
    });
    ++stats_.cr3_loads;
    if (no_flush) ++stats_.cr3_noflush_loads;
    if (!user_code_pages_.empty()) revalidate_user_code();  // MOV to CR3 serializes
    emit(EventKind::Cr3Load, insn.address, {new_cr3, old_cr3, no_flush ? 1u : 0u});
    skip(insn);
    return true;
}

// INVPCID (SDM vol. 2A "INVPCID"): #GP(0) at CPL > 0, for a type above 3, for a descriptor
// with bits 63:12 of its PCID quadword set, for type 0 with a non-canonical address, and for
// types 0/1 with a non-zero PCID while CR4.PCIDE=0. Unicorn 2.0.1 treats the instruction as
// invalid, so it is carried out here.
bool Vcpu::emulate_invpcid(const PrivilegedInsn& insn) {
    if (cpl() != 0) {
        raise(general_protection_fault(insn.address));
        return true;
    }
    const uint64_t type = read_operand(insn);
    uint64_t desc[2] = {};
    LinearMemory mem(shared_.ram, reg(UC_X86_REG_CR3), access_context(false));
    if (auto f = mem.read(effective_address(insn), desc, sizeof desc)) {
        GuestEvent ev;
        if (f->status == mmu::WalkStatus::PageFault) {
            ev.vector = vector::kPageFault;
            ev.error_code = f->error_code;
            ev.cr2 = f->address;
        } else {
            ev = general_protection_fault(insn.address);
        }
        ev.rip = insn.address;
        raise(ev);
        return true;
    }
    const uint64_t pcid = desc[0], address = desc[1];
    const bool pcide = reg(UC_X86_REG_CR4) & kCr4Pcide;
    if (type > 3 || (pcid >> 12) != 0 || (type == 0 && !mmu::is_canonical(address)) ||
        (type <= 1 && !pcide && pcid != 0)) {
        raise(general_protection_fault(insn.address));
        return true;
    }
    flush_unicorn_tlb();
    if (type == 0) windows_->drop_alias(address & ~0xfffull);
    else windows_->drop_all_aliases();
    ++stats_.invpcid;
    emit(EventKind::Invpcid, insn.address, {type, pcid, address});
    skip(insn);
    return true;
}

void Vcpu::note_cr_write(const PrivilegedInsn& insn) {
    if (cpl() != 0) return;  // Unicorn raises the #GP itself
    const uint64_t value = read_operand(insn);
    if (insn.kind == PrivilegedKind::MovToCr4) {
        const uint64_t old = reg(UC_X86_REG_CR4);
        // SDM 4.10.4.1: changing CR4.PGE, or clearing CR4.PCIDE, invalidates every entry.
        if (((old ^ value) & kCr4Pge) || ((old & kCr4Pcide) && !(value & kCr4Pcide)))
            windows_->drop_all_aliases();
        emit(EventKind::Cr4Write, insn.address, {value, old});
    } else {
        const uint64_t old = reg(UC_X86_REG_CR0);
        if ((old >> 31) && !(value >> 31)) windows_->drop_all_aliases();
        emit(EventKind::Cr0Write, insn.address, {value, old});
    }
}

void Vcpu::note_invlpg(const PrivilegedInsn& insn) {
    if (cpl() != 0) return;
    const uint64_t va = effective_address(insn);
    windows_->drop_alias(va & ~0xfffull);
    ++stats_.invlpg;
    emit(EventKind::Invlpg, insn.address, {va, reg(UC_X86_REG_CR3) & 0xfff});
}

// EFER keeps a shadow of SCE, which Unicorn 2.0.1 drops (DESIGN 4.4). NXE is refused with
// #GP(0) because CPUID does not advertise XD (SDM vol. 4, IA32_EFER). The TSC MSR follows
// the instruction-count clock. Everything else is Unicorn's.
bool Vcpu::emulate_rdmsr(const PrivilegedInsn& insn) {
    if (cpl() != 0) return false;
    const uint32_t msr = static_cast<uint32_t>(reg(UC_X86_REG_RCX));
    if (devices::LocalApic::is_apic_msr(msr)) return emulate_apic_rdmsr(insn, msr);
    uint64_t value;
    if (msr == kMsrEfer) {
        uc_x86_msr m{kMsrEfer, 0};
        uc_reg_read(uc_, UC_X86_REG_MSR, &m);
        value = (m.value & (kEferLme | kEferLma)) | shadow_efer_sce_;
    } else if (msr == kMsrTsc) {
        value = tsc();
    } else {
        return false;
    }
    uint64_t lo = value & 0xffffffffull, hi = value >> 32;
    uc_reg_write(uc_, UC_X86_REG_RAX, &lo);
    uc_reg_write(uc_, UC_X86_REG_RDX, &hi);
    skip(insn);
    return true;
}

bool Vcpu::emulate_wrmsr(const PrivilegedInsn& insn) {
    if (cpl() != 0) return false;
    const uint32_t msr = static_cast<uint32_t>(reg(UC_X86_REG_RCX));
    const uint64_t value = (reg(UC_X86_REG_RDX) << 32) | (reg(UC_X86_REG_RAX) & 0xffffffffull);
    emit(EventKind::MsrWrite, insn.address, {msr, value});
    if (devices::LocalApic::is_apic_msr(msr)) return emulate_apic_wrmsr(insn, msr, value);
    if (msr == kMsrTsc) {
        tsc_offset_ = value - clock();
        skip(insn);
        return true;
    }
    if (msr != kMsrEfer) return false;
    if (value & ~(kEferSce | kEferLme | kEferLma) || (value & kEferNxe)) {
        raise(general_protection_fault(insn.address));
        return true;
    }
    shadow_efer_sce_ = value & kEferSce;
    uc_x86_msr m{kMsrEfer, value & (kEferLme | kEferLma)};
    uc_reg_write(uc_, UC_X86_REG_MSR, &m);
    skip(insn);
    return true;
}

// RDRAND/RDSEED: values from the run's seed, CF=1 (success), OF/SF/ZF/AF/PF cleared.
void Vcpu::emulate_random(const PrivilegedInsn& insn) {
    uint64_t v = rng_();
    if (insn.reg_bytes == 4) v &= 0xffffffffull;
    if (insn.reg_bytes == 2) v &= 0xffffull;
    if (insn.reg_bytes == 8) uc_reg_write(uc_, insn.reg, &v);
    else if (insn.reg_bytes == 4) {
        // A 32-bit destination zero-extends into the 64-bit register (SDM 3.4.1.1).
        uc_reg_write(uc_, insn.reg, &v);
    } else {
        uc_reg_write(uc_, insn.reg, &v);
    }
    uint64_t flags = (reg(UC_X86_REG_RFLAGS) & ~0x8d5ull) | 1;
    uc_reg_write(uc_, UC_X86_REG_RFLAGS, &flags);
    skip(insn);
}

}  // namespace emu::backend

namespace emu::backend {

// REP STOS with DF=0 and 64-bit addressing, carried out on the host buffer page by page
// through our walker (DESIGN 4.11): guest stores take Unicorn 2.0.1's slow path, and with
// the page-table write hook on they each cost a callback. Architecturally identical (SDM
// vol. 2B "REP STOS"): elements are stored in order; a fault on element k leaves RCX and RDI
// at element k and RIP at the instruction, so the handler can resume it; A/D bits are set
// as the walk of each page does; stores into page-table frames still become PteWrite events.
bool Vcpu::emulate_rep_stos(const PrivilegedInsn& insn) {
    constexpr uint64_t kRflagsDf = 1u << 10;
    if (reg(UC_X86_REG_RFLAGS) & kRflagsDf) return false;  // descending: Unicorn's
    const uint64_t size = static_cast<uint64_t>(insn.reg_bytes);
    uint64_t count = reg(UC_X86_REG_RCX), dst = reg(UC_X86_REG_RDI);
    const uint64_t value = size == 8 ? reg(UC_X86_REG_RAX) : reg(UC_X86_REG_RAX) & ((1ull << (8 * size)) - 1);
    mmu::AccessContext ctx = access_context(cpl() == 3);
    ctx.set_accessed_dirty = true;
    const uint64_t cr3 = reg(UC_X86_REG_CR3);
    auto commit = [&]() {
        uc_reg_write(uc_, UC_X86_REG_RCX, &count);
        uc_reg_write(uc_, UC_X86_REG_RDI, &dst);
    };
    while (count > 0) {
        if (dst & (size - 1)) {  // an element could straddle a page: leave the rest to Unicorn
            commit();
            return false;
        }
        const uint64_t n = std::min(count, (4096 - (dst & 4095)) / size);
        if (!mmu::is_canonical(dst)) {
            commit();
            raise(general_protection_fault(insn.address));
            return true;
        }
        const mmu::WalkResult w = mmu::walk(shared_.ram, cr3, dst, mmu::AccessType::Write, ctx);
        if (w.status == mmu::WalkStatus::PageFault) {
            commit();
            GuestEvent ev;
            ev.vector = vector::kPageFault;
            ev.error_code = w.error_code;
            ev.cr2 = dst;
            ev.rip = insn.address;
            raise(ev);
            return true;
        }
        if (w.status != mmu::WalkStatus::Ok || !shared_.ram.contains(w.t.pa, n * size)) {
            commit();
            return false;  // outside RAM: let Unicorn report it
        }
        if (windows_->is_text_frame(w.t.frame)) {
            stop(StopKind::ForbiddenAccess, "rep stos into kernel text at VA " + mmu::hex(dst) +
                                                " (text must stay read-only in every mapping), at " +
                                                describe_rip(insn.address));
            return true;
        }
        uint8_t* p = shared_.ram.data + w.t.pa;
        if (shared_.ram_tracker) shared_.ram_tracker->will_write(w.t.pa, n * size);
        const bool table = shared_.table_filter && shared_.table_filter->is_table_frame(w.t.pa);
        for (uint64_t i = 0; i < n; ++i) {
            if (table) emit(EventKind::PteWrite, insn.address, {w.t.pa + i * size, size, value});
            std::memcpy(p + i * size, &value, size);
        }
        dst += n * size;
        count -= n;
    }
    commit();
    skip(insn);
    return true;
}

}  // namespace emu::backend
