#include "mmu/hex.h"
#include "emu/backend/vcpu.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "emu/backend/linear_memory.h"
#include "emu/backend/root_validation.h"
#include "emu/tlb_stats.h"
#include "guest_kernel/abi/asi_emu_abi.h"

namespace emu::backend {
namespace {

// Passed as `until` to uc_emu_start and ignored there: the engine runs with an empty exit
// list (see Vcpu::init).
constexpr uint64_t kNeverAddress = 0x0000800000000000ull;
// A page mapped and unmapped again to make Unicorn flush its own (untagged) TLB; see
// DESIGN 4.7: uc_ctl_flush_tlb crashes when called from a hook.
constexpr uint64_t kTlbFlushScratchVa = 0xfffffe7ffffff000ull;

constexpr uint64_t kCr0Pe = 1ull << 0, kCr0Mp = 1ull << 1, kCr0Et = 1ull << 4, kCr0Ne = 1ull << 5,
                   kCr0Wp = 1ull << 16, kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kEferLme = 1ull << 8, kEferLma = 1ull << 10;

using mmu::hex;

}  // namespace

Vcpu::Vcpu(uint32_t id, VcpuShared& shared)
    : id_(id), shared_(shared), rng_(shared.seed ^ (0x9e3779b97f4a7c15ull * (id + 1))),
      apic_(id), block_cache_(kBlockCacheSize) {
    insn_limit_ = shared.max_insns ? shared.max_insns : UINT64_MAX;
}

Vcpu::~Vcpu() {
    if (uc_) uc_close(uc_);
}

std::optional<std::string> Vcpu::init(const BootState& boot) {
    if (uc_open(UC_ARCH_X86, UC_MODE_64, &uc_) != UC_ERR_OK) return "uc_open failed";
    // Without an exit list, Unicorn 2.0.1 drops the translation at `until - 1` whenever
    // uc_emu_start returns (softmmu/cpus.c, resume_all_vcpus). That looks the address up
    // through the guest's page tables, and when it is not mapped QEMU's walker writes it to
    // CR2 and sets old_exception to #PF, as if the guest had faulted there: a #PF handler
    // whose slice ended before it read CR2 would read that address instead of its own. An
    // empty exit list makes the drop a no-op; slices end by uc_emu_stop only.
    if (uc_ctl_exits_enable(uc_) != UC_ERR_OK) return "enabling Unicorn's exit list failed";
    windows_.emplace(uc_, shared_.ram.data, shared_.ram.size, shared_.text);
    if (auto err = windows_->map_static_windows()) return err;

    auto add = [&](int type, void* cb, uint64_t begin, uint64_t end, int insn = -1) -> bool {
        uc_hook h;
        uc_err e = insn < 0 ? uc_hook_add(uc_, &h, type, cb, this, begin, end)
                            : uc_hook_add(uc_, &h, type, cb, this, begin, end, insn);
        if (e != UC_ERR_OK) return false;
        hooks_.push_back(h);
        return true;
    };
    bool ok = add(UC_HOOK_BLOCK, reinterpret_cast<void*>(on_block), 1, 0) &&
              add(UC_HOOK_INTR, reinterpret_cast<void*>(on_interrupt), 1, 0) &&
              add(UC_HOOK_INSN_INVALID, reinterpret_cast<void*>(on_invalid_insn), 1, 0) &&
              add(UC_HOOK_MEM_UNMAPPED, reinterpret_cast<void*>(on_unmapped), 1, 0) &&
              add(UC_HOOK_MEM_PROT, reinterpret_cast<void*>(on_protection), 1, 0) &&
              add(UC_HOOK_INSN, reinterpret_cast<void*>(on_syscall), 1, 0, UC_X86_INS_SYSCALL) &&
              add(UC_HOOK_INSN, reinterpret_cast<void*>(on_cpuid), 1, 0, UC_X86_INS_CPUID) &&
              add(UC_HOOK_INSN, reinterpret_cast<void*>(on_out), 1, 0, UC_X86_INS_OUT) &&
              add(UC_HOOK_INSN, reinterpret_cast<void*>(on_in), 1, 0, UC_X86_INS_IN);
    if (!ok) return "installing Unicorn hooks failed";
    // Page-table writes (DESIGN 5): a write hook over each static window, filtered by the
    // table-frame map, so that the cost follows page-table changes rather than RAM size.
    if (shared_.table_filter) {
        watched_windows_.reserve(windows_->windows().size());
        for (const StaticWindow& w : windows_->windows()) {
            watched_windows_.push_back({this, w.va_base});
            uc_hook h;
            if (uc_hook_add(uc_, &h, UC_HOOK_MEM_WRITE, reinterpret_cast<void*>(on_window_write),
                            &watched_windows_.back(), w.va_base, w.va_base + w.size - 1) != UC_ERR_OK)
                return "installing a page-table write hook failed";
            hooks_.push_back(h);
        }
    }
    if (shared_.tlb_stats) {
        uc_hook h;
        if (uc_hook_add(uc_, &h, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, reinterpret_cast<void*>(on_data_access), this, 1,
                        0) != UC_ERR_OK)
            return "installing the --tlb-stats access hook failed";
        hooks_.push_back(h);
    }
    // One code hook per scanned instruction: costs nothing elsewhere (DESIGN 4.6).
    for (const PrivilegedInsn& p : shared_.scan->instructions())
        if (!add(UC_HOOK_CODE, reinterpret_cast<void*>(on_privileged), p.address, p.address))
            return "installing a code hook at " + hex(p.address) + " failed";

    // The 64-bit boot state (ABI header): long mode, paging on, CPL 0, IF = 0.
    uint64_t cr0 = kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Wp | kCr0Pg, cr4 = kCr4Pae;
    uint64_t rflags = 0x2;
    uc_reg_write(uc_, UC_X86_REG_CR3, &boot.cr3);
    uc_reg_write(uc_, UC_X86_REG_CR4, &cr4);
    uc_reg_write(uc_, UC_X86_REG_CR0, &cr0);
    uc_x86_msr efer{0xc0000080, kEferLme | kEferLma};
    uc_reg_write(uc_, UC_X86_REG_MSR, &efer);
    uc_reg_write(uc_, UC_X86_REG_RSP, &boot.rsp);
    uc_reg_write(uc_, UC_X86_REG_RDI, &boot.rdi);
    uc_reg_write(uc_, UC_X86_REG_RIP, &boot.rip);
    uc_reg_write(uc_, UC_X86_REG_RFLAGS, &rflags);
    validated_roots_.insert(boot.cr3 & mmu::pte_bits::kAddressMask);
    emit(EventKind::VcpuState, boot.rip, {cr0, boot.cr3, cr4});
    return std::nullopt;
}

uint64_t Vcpu::reg(int r) const {
    uint64_t v = 0;
    uc_reg_read(uc_, r, &v);
    return v;
}

bool Vcpu::interrupts_enabled() const { return reg(UC_X86_REG_RFLAGS) & (1u << 9); }

uint32_t Vcpu::cpl() const { return reg(UC_X86_REG_CS) & 3; }

mmu::AccessContext Vcpu::access_context(bool user) const {
    mmu::AccessContext c;
    c.user = user;
    c.cr0_wp = reg(UC_X86_REG_CR0) & kCr0Wp;
    c.efer_nxe = false;
    c.maxphyaddr = shared_.maxphyaddr;
    return c;
}

void Vcpu::emit(EventKind kind, uint64_t rip, std::initializer_list<uint64_t> args) {
    if (!shared_.events) return;
    Event e;
    e.icount = icount_;
    e.rip = rip;
    e.vcpu = id_;
    e.kind = kind;
    size_t i = 0;
    for (uint64_t a : args) e.a[i++] = a;
    shared_.events->on_event(e);
}

void Vcpu::stop(StopKind kind, std::string detail) {
    if (!stop_) stop_ = StopInfo{kind, std::move(detail)};
    uc_emu_stop(uc_);
}

void Vcpu::flush_unicorn_tlb() {
    uc_mem_map(uc_, kTlbFlushScratchVa, 4096, UC_PROT_READ);
    uc_mem_unmap(uc_, kTlbFlushScratchVa, 4096);
}

void Vcpu::set_pending(GuestEvent ev) { pending_ = ev; }

void Vcpu::raise(GuestEvent ev) {
    DeliveryContext ctx{uc_, shared_.layout, &shared_.ram, false};
    const uint8_t raised = ev.vector;
    const uint32_t error = ev.error_code.value_or(0);
    const uint64_t cr2 = ev.cr2.value_or(0);
    DeliveryOutcome out = deliver_event(ctx, ev);
    stats_.nested_faults += out.nested_faults;
    if (out.triple_fault) {
        emit(EventKind::Exception, ev.rip, {raised, error, cr2, 0xff});
        stop(StopKind::TripleFault, out.detail + " at " + describe_rip(ev.rip));
        return;
    }
    ++stats_.exceptions_delivered;
    emit(EventKind::Exception, ev.rip, {raised, error, cr2, out.delivered_vector});
}

std::string Vcpu::describe_rip(uint64_t rip) const {
    uint8_t bytes[16] = {};
    if (uc_mem_read(uc_, rip, bytes, sizeof bytes) != UC_ERR_OK) return "RIP " + hex(rip);
    return "RIP " + hex(rip) + " (" + shared_.scan->disassemble(bytes, sizeof bytes, rip) + ")";
}

// ---- Hooks --------------------------------------------------------------------------------

void Vcpu::fill_block(BlockCacheEntry& e, uint64_t address, uint32_t size) {
    std::vector<uint8_t> code(size);
    uc_mem_read(uc_, address, code.data(), size);
    e.address = address;
    e.size = size;
    e.count = shared_.scan->count_instructions(code.data(), size, address);
    e.outside_text = true;
    for (const PhysRange& t : shared_.text)
        if (address >= asi_abi::kKernelWindowBase + t.begin && address < asi_abi::kKernelWindowBase + t.end)
            e.outside_text = false;
}

// Runs before every translated block: the hot path of register-only code, so it does a
// cache lookup and two compares (DESIGN 4.9).
void Vcpu::on_block(uc_engine*, uint64_t address, uint32_t size, void* p) {
    auto* self = static_cast<Vcpu*>(p);
    BlockCacheEntry& e = self->block_cache_[((address >> 2) ^ (address >> 15)) & (kBlockCacheSize - 1)];
    if (__builtin_expect(e.address != address || e.size != size, 0)) self->fill_block(e, address, size);
    // CPL 0 may run only code the load-time scan has seen (DESIGN 4.6).
    if (__builtin_expect(e.outside_text, 0) && self->cpl() == 0) {
        self->stop(StopKind::ForbiddenAccess,
                   "CPL 0 executes outside the scanned kernel text at " + self->describe_rip(address));
        return;
    }
    // A stop in the block hook keeps the block from executing, so it is not counted.
    if (__builtin_expect(self->icount_ >= self->next_stop_, 0)) {
        self->on_threshold(address);
        if (self->stop_) return;
    }
    self->icount_ += e.count;
    ++self->stats_.blocks;
    if (self->shared_.coverage) ++self->shared_.coverage[((address >> 4) ^ (address >> 13)) & self->shared_.coverage_mask];
    if (self->shared_.tlb_stats) self->count_translation(address, true, false);
}

// The block hook reached next_stop_: a deferred stop, the instruction limit, the end of the
// slice or a timer deadline. The last two go back to the run loop, which sorts them out.
void Vcpu::on_threshold(uint64_t address) {
    // Unicorn does not sync RIP into the register file when it enters a block through a
    // chained jump, so a stop here would leave RIP at an earlier block and a restart would
    // execute those instructions twice: the run loop restores RIP from the block address.
    threshold_rip_ = address;
    if (deferred_stop_) {
        const StopKind kind = *deferred_stop_;
        deferred_stop_.reset();
        stop(kind, "");
        return;
    }
    if (clock() >= insn_limit_) {
        stop(StopKind::InsnLimit,
             "instruction limit " + std::to_string(shared_.max_insns) + " reached at " + describe_rip(address));
        return;
    }
    stop(StopKind::Resume, "");
}

void Vcpu::defer_stop(StopKind kind) {
    deferred_stop_ = kind;
    next_stop_ = 0;
}

void Vcpu::arm_next_stop() {
    if (deferred_stop_) {
        next_stop_ = 0;
        return;
    }
    uint64_t until = std::min({insn_limit_, slice_end_, apic_.timer_deadline()});
    if (!apic_.irr_empty()) until = std::min(until, clock() + shared_.interrupt_poll);
    next_stop_ = until == UINT64_MAX ? UINT64_MAX : until > idle_ ? until - idle_ : 0;
}

void Vcpu::advance_idle_to(uint64_t c) {
    if (c <= clock()) return;
    stats_.idle += c - clock();
    idle_ = c - icount_;
}

void Vcpu::on_privileged(uc_engine*, uint64_t address, uint32_t, void* p) {
    auto* self = static_cast<Vcpu*>(p);
    if (self->stop_) return;
    const PrivilegedInsn* insn = self->shared_.scan->find(address);
    if (insn) self->emulate(*insn);
}

void Vcpu::on_interrupt(uc_engine*, uint32_t intno, void* p) {
    auto* self = static_cast<Vcpu*>(p);
    CpuStateBlob blob(self->uc_, *self->shared_.layout);
    blob.load();
    GuestEvent ev;
    ev.vector = static_cast<uint8_t>(intno);
    ev.software = blob.exception_is_int();
    // Unicorn has already moved RIP past INT n / INT3 (cpu-exec.c); faults report the
    // faulting instruction.
    ev.rip = self->reg(UC_X86_REG_RIP);
    if (vector_has_error_code(ev.vector) && !ev.software)
        ev.error_code = static_cast<uint32_t>(blob.error_code());
    if (ev.vector == vector::kPageFault) ev.cr2 = self->reg(UC_X86_REG_CR2);
    blob.clear_old_exception();
    blob.store();
    if (self->shared_.paranoid && ev.vector == vector::kPageFault) {
        self->paranoid_check_page_fault(ev);
        if (self->stop_) return;
    }
    self->raise(ev);
}

// User code is not in the load-time scan, so the instructions whose result would depend on
// the host (RDTSC, RDTSCP, RDRAND, RDSEED) are caught by a code hook over each user page
// that executes. It costs a callback per user instruction, and only there.
uint64_t Vcpu::frame_hash(const uint8_t* p) {
    uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over 64-bit words
    for (size_t i = 0; i < 4096; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
    }
    return h;
}

void Vcpu::revalidate_user_code() {
    for (auto& [va, page] : user_code_pages_) {
        if (!shared_.ram.contains(page.frame, 4096)) continue;
        const uint64_t h = frame_hash(shared_.ram.data + page.frame);
        if (h == page.hash) continue;
        // Only a page Unicorn maps now can hold translations it would reuse (an alias
        // mapped again later is a new RAM block); asking about an unmapped page would make
        // Unicorn fill its TLB through our unmapped-memory hook.
        if (windows_->alias_frame(va) != page.frame) {
            page.hash = h;
            continue;
        }
        // uc_ctl_remove_cache looks the page up through the guest's page tables, and a miss
        // there is a #PF that QEMU half raises (CR2, old_exception, exception_index) and then
        // swallows. So drop only what the current root maps; otherwise the hash stays stale
        // and the next serializing point, after the next CR3 load, retries.
        if (mmu::walk(shared_.ram, reg(UC_X86_REG_CR3), va, mmu::AccessType::Execute, access_context(cpl() == 3))
                .status != mmu::WalkStatus::Ok)
            continue;
        page.hash = h;
        uc_ctl_remove_cache(uc_, va, va + 4096);
        ++stats_.code_invalidations;
    }
}

void Vcpu::watch_user_code(uint64_t page, uint64_t frame) {
    if (shared_.ram.contains(frame, 4096)) {
        auto [it, added] = user_code_pages_.try_emplace(page, UserCodePage{frame, frame_hash(shared_.ram.data + frame)});
        if (!added) {
            it->second = {frame, frame_hash(shared_.ram.data + frame)};
            return;
        }
    } else if (!user_code_pages_.try_emplace(page, UserCodePage{frame, 0}).second) {
        return;
    }
    uc_hook h;
    if (uc_hook_add(uc_, &h, UC_HOOK_CODE, reinterpret_cast<void*>(on_user_code), this, page, page + 4095) ==
        UC_ERR_OK)
        hooks_.push_back(h);
}

void Vcpu::on_user_code(uc_engine*, uint64_t address, uint32_t size, void* p) {
    auto* self = static_cast<Vcpu*>(p);
    uint8_t bytes[16] = {};
    if (size > sizeof bytes || uc_mem_read(self->uc_, address, bytes, size) != UC_ERR_OK) return;
    if (!std::memchr(bytes, 0x0f, size)) return;  // all four are two-byte (0F xx) opcodes
    std::optional<PrivilegedInsn> insn = self->shared_.scan->decode_one(bytes, size, address);
    if (!insn) return;
    switch (insn->kind) {
        case PrivilegedKind::Rdtsc:
        case PrivilegedKind::Rdtscp:
        case PrivilegedKind::Rdrand:
        case PrivilegedKind::Rdseed:
            self->emulate(*insn);
            break;
        default:
            break;  // privileged at CPL 3: Unicorn raises #GP itself
    }
}

bool Vcpu::on_invalid_insn(uc_engine*, void* p) {
    auto* self = static_cast<Vcpu*>(p);
    GuestEvent ev;
    ev.vector = vector::kInvalidOpcode;  // ud2, vmcall and undefined opcodes (DESIGN 4.2)
    ev.rip = self->reg(UC_X86_REG_RIP);
    self->set_pending(ev);
    return true;
}

bool Vcpu::on_unmapped(uc_engine*, uc_mem_type type, uint64_t address, int, int64_t, void* p) {
    auto* self = static_cast<Vcpu*>(p);
    const uint64_t rip = self->reg(UC_X86_REG_RIP);
    const bool user = self->cpl() == 3;
    const bool fetch = type == UC_MEM_FETCH_UNMAPPED;
    const mmu::AccessType access = fetch ? mmu::AccessType::Execute
                                   : type == UC_MEM_WRITE_UNMAPPED ? mmu::AccessType::Write
                                                                   : mmu::AccessType::Read;
    if (!mmu::is_canonical(address)) {
        // SDM 6.15: a non-canonical reference is #SS(0) through the stack, else #GP(0).
        GuestEvent ev;
        uint8_t bytes[16] = {};
        uc_mem_read(self->uc_, rip, bytes, sizeof bytes);
        ev.vector = !fetch && self->shared_.scan->is_stack_access(bytes, sizeof bytes, rip)
                        ? vector::kStackFault : vector::kGeneralProtection;
        ev.error_code = 0;
        ev.rip = rip;
        self->set_pending(ev);
        return false;
    }
    mmu::WalkResult w = mmu::walk(self->shared_.ram, self->reg(UC_X86_REG_CR3), address, access,
                                  self->access_context(user));
    if (w.status == mmu::WalkStatus::PageFault) {
        GuestEvent ev;
        ev.vector = vector::kPageFault;
        ev.error_code = w.error_code;
        ev.cr2 = address;
        ev.rip = fetch ? address : rip;
        self->set_pending(ev);
        return false;
    }
    if (w.status != mmu::WalkStatus::Ok) {
        self->stop(StopKind::ForbiddenAccess, "a page-table entry for VA " + hex(address) +
                                                  " points outside RAM, at " + self->describe_rip(rip));
        return false;
    }
    if (fetch && !user) {
        self->stop(StopKind::ForbiddenAccess, "CPL 0 fetches from VA " + hex(address) +
                                                  ", outside the scanned kernel text");
        return false;
    }
    switch (self->windows_->map_demand_alias(address & ~0xfffull, w.t.frame, fetch)) {
        case AliasOutcome::Mapped:
            ++self->stats_.aliases_mapped;
            if (fetch) self->watch_user_code(address & ~0xfffull, w.t.frame);
            return true;
        case AliasOutcome::OutsideRam:
            self->stop(StopKind::ForbiddenAccess, "VA " + hex(address) + " maps PA " + hex(w.t.frame) +
                                                      ", outside RAM, where no device is, at " +
                                                      self->describe_rip(rip));
            return false;
        case AliasOutcome::MapFailed:
            break;
    }
    self->stop(StopKind::BackendError, "cannot alias VA " + hex(address));
    return false;
}

bool Vcpu::on_protection(uc_engine*, uc_mem_type type, uint64_t address, int, int64_t, void* p) {
    auto* self = static_cast<Vcpu*>(p);
    const uint64_t rip = self->reg(UC_X86_REG_RIP);
    if (type == UC_MEM_WRITE_PROT)
        self->stop(StopKind::ForbiddenAccess, "write to kernel text at VA " + hex(address) +
                                                  " (text must stay read-only in every mapping), at " +
                                                  self->describe_rip(rip));
    else if (type == UC_MEM_FETCH_PROT)
        self->stop(StopKind::ForbiddenAccess,
                   "execution outside the scanned kernel text at VA " + hex(address));
    else
        self->stop(StopKind::BackendError, "read protection fault at VA " + hex(address));
    return false;
}

void Vcpu::on_syscall(uc_engine*, void* p) {
    // SYSCALL (SDM vol. 2B; 5.8.8): RCX = next RIP, R11 = RFLAGS, RFLAGS &= ~IA32_FMASK,
    // CS = STAR[47:32], SS = STAR[47:32] + 8, CPL 0, RIP = IA32_LSTAR. Unicorn only calls
    // this hook and then adds the instruction length to RIP, so every RIP written here is
    // 2 short of where execution must continue.
    auto* self = static_cast<Vcpu*>(p);
    uc_engine* uc = self->uc_;
    const uint64_t rip = self->reg(UC_X86_REG_RIP);
    constexpr uint64_t kSyscallLength = 2;
    if (!self->shadow_efer_sce_) {
        GuestEvent ev;
        ev.vector = vector::kInvalidOpcode;
        ev.rip = rip;
        self->raise(ev);
        uint64_t adjusted = self->reg(UC_X86_REG_RIP) - kSyscallLength;
        uc_reg_write(uc, UC_X86_REG_RIP, &adjusted);
        return;
    }
    auto msr = [&](uint32_t id) {
        uc_x86_msr m{id, 0};
        uc_reg_read(uc, UC_X86_REG_MSR, &m);
        return m.value;
    };
    const uint64_t star = msr(0xc0000081), lstar = msr(0xc0000082), fmask = msr(0xc0000084);
    const uint64_t rflags = self->reg(UC_X86_REG_RFLAGS);
    const uint64_t next = rip + kSyscallLength;
    const uint16_t cs_sel = static_cast<uint16_t>((star >> 32) & 0xfffc);
    ++self->stats_.syscalls;
    self->emit(EventKind::Syscall, rip, {self->reg(UC_X86_REG_RAX)});

    CpuStateBlob blob(uc, *self->shared_.layout);
    blob.load();
    blob.set_segment(kSegCs, {cs_sel, 0, 0xffffffff,
                              kDescGranularity | kDescLong | kDescPresent | kDescS | kDescCode |
                                  kDescWritableOrReadable | kDescAccessed});
    blob.set_segment(kSegSs, {static_cast<uint32_t>(cs_sel + 8), 0, 0xffffffff,
                              kDescGranularity | kDescBig | kDescPresent | kDescS |
                                  kDescWritableOrReadable | kDescAccessed});
    blob.set_hflags((blob.hflags() & ~kHflagCplMask) | kHflagCs32 | kHflagSs32 | kHflagCs64 | kHflagLma);
    blob.store();
    uint64_t new_flags = (rflags & ~fmask & ~(1ull << 16)) | 2;
    uint64_t target = lstar - kSyscallLength;
    uc_reg_write(uc, UC_X86_REG_RCX, &next);
    uc_reg_write(uc, UC_X86_REG_R11, &rflags);
    uc_reg_write(uc, UC_X86_REG_RFLAGS, &new_flags);
    uc_reg_write(uc, UC_X86_REG_RIP, &target);
}

int Vcpu::on_cpuid(uc_engine*, void* p) {
    auto* self = static_cast<Vcpu*>(p);
    if (!self->user_code_pages_.empty()) self->revalidate_user_code();  // CPUID serializes
    const CpuidResult r = self->shared_.cpuid->lookup(static_cast<uint32_t>(self->reg(UC_X86_REG_RAX)),
                                                      static_cast<uint32_t>(self->reg(UC_X86_REG_RCX)),
                                                      self->id_);
    uint64_t a = r.eax, b = r.ebx, c = r.ecx, d = r.edx;
    uc_reg_write(self->uc_, UC_X86_REG_RAX, &a);
    uc_reg_write(self->uc_, UC_X86_REG_RBX, &b);
    uc_reg_write(self->uc_, UC_X86_REG_RCX, &c);
    uc_reg_write(self->uc_, UC_X86_REG_RDX, &d);
    return 1;  // skip Unicorn's own CPUID
}

void Vcpu::on_out(uc_engine*, uint32_t port, int size, uint32_t value, void* p) {
    auto* self = static_cast<Vcpu*>(p);
    ++self->stats_.port_writes;
    const uint64_t rip = self->out_rip_ ? self->out_rip_ : self->reg(UC_X86_REG_RIP);
    self->out_rip_ = 0;
    if (port == asi_abi::kTracePort) {
        ++self->stats_.tracepoints;
        self->emit(EventKind::Tracepoint, rip,
                   {value, self->reg(UC_X86_REG_RDI), self->reg(UC_X86_REG_RSI), self->reg(UC_X86_REG_R8),
                    self->reg(UC_X86_REG_R9), self->reg(UC_X86_REG_R10)});
        return;
    }
    if (port == asi_abi::kFuzzPort && (value == asi_abi::kFuzzReady || value == asi_abi::kFuzzDone)) {
        // The guest follows the OUT with a jump, so the block ends there and the deferred
        // stop lands exactly after it: the machine looks at the request between two blocks.
        self->fuzz_request_ = {value, self->reg(UC_X86_REG_RDI), self->reg(UC_X86_REG_RSI), self->reg(UC_X86_REG_R8)};
        self->defer_stop(value == asi_abi::kFuzzReady ? StopKind::FuzzReady : StopKind::FuzzDone);
        return;
    }
    if (self->shared_.ports->write(static_cast<uint16_t>(port), size, value) == devices::PortAction::Stop)
        self->stop(StopKind::GuestExit, "guest wrote " + std::to_string(value) + " to port " + hex(port));
}

// --tlb-stats: one use of the translation of va. The walk gives the page size and G bit the
// CPU would cache; it runs only in this statistics mode.
void Vcpu::count_translation(uint64_t va, bool fetch, bool write) {
    const uint64_t cr3 = reg(UC_X86_REG_CR3), cr4 = reg(UC_X86_REG_CR4);
    mmu::AccessContext ctx = access_context(cpl() == 3);
    ctx.cr4_pge = cr4 & (1u << 7);
    const mmu::WalkResult w = mmu::walk(shared_.ram, cr3, va, mmu::AccessType::Read, ctx);
    if (w.status != mmu::WalkStatus::Ok) return;
    shared_.tlb_stats->access(cr3, cr4, va, w.t.page_size, w.t.global,
                              fetch ? cpu_model::TlbCache::AccessKind::Fetch
                              : write ? cpu_model::TlbCache::AccessKind::Write
                                      : cpu_model::TlbCache::AccessKind::Read);
}

void Vcpu::on_data_access(uc_engine*, uc_mem_type type, uint64_t address, int, int64_t, void* p) {
    static_cast<Vcpu*>(p)->count_translation(address, false, type == UC_MEM_WRITE);
}

void Vcpu::on_window_write(uc_engine*, uc_mem_type, uint64_t address, int size, int64_t value, void* w) {
    const auto* window = static_cast<const WatchedWindow*>(w);
    Vcpu* self = window->vcpu;
    const uint64_t pa = address - window->va_base;
    if (!self->shared_.table_filter->is_table_frame(pa) &&
        !((pa & 0xfff) + size > 4096 && self->shared_.table_filter->is_table_frame(pa + size - 1)))
        return;
    self->emit(EventKind::PteWrite, self->reg(UC_X86_REG_RIP),
               {pa, static_cast<uint64_t>(size), static_cast<uint64_t>(value)});
}

uint32_t Vcpu::on_in(uc_engine*, uint32_t port, int size, void* p) {
    auto* self = static_cast<Vcpu*>(p);
    return self->shared_.ports->read(static_cast<uint16_t>(port), size);
}

// ---- Run loop ---------------------------------------------------------------------------

// --paranoid: Unicorn walked the guest tables and raised this #PF; our walker must agree that
// the access faults, with the same error code (SDM 4.7), or one of the two models is wrong.
void Vcpu::paranoid_check_page_fault(const GuestEvent& ev) {
    const uint32_t ec = ev.error_code.value_or(0);
    const uint64_t cr2 = ev.cr2.value_or(0);
    const mmu::AccessType type = (ec & mmu::pf_error::kWrite) ? mmu::AccessType::Write
                                 : (ec & mmu::pf_error::kInstructionFetch) || cr2 == ev.rip ? mmu::AccessType::Execute
                                                                                            : mmu::AccessType::Read;
    const mmu::WalkResult w = mmu::walk(shared_.ram, reg(UC_X86_REG_CR3), cr2, type,
                                        access_context(ec & mmu::pf_error::kUser));
    if (w.status == mmu::WalkStatus::PageFault && (w.error_code & ~mmu::pf_error::kInstructionFetch) ==
                                                      (ec & ~mmu::pf_error::kInstructionFetch))
        return;
    char msg[256];
    snprintf(msg, sizeof msg,
             "paranoid: Unicorn raised #PF at CR2 0x%" PRIx64 " with error code 0x%x, but our walker says %s "
             "(error code 0x%x)",
             cr2, ec, w.status == mmu::WalkStatus::Ok ? "the access is allowed" : "it faults", w.error_code);
    stop(StopKind::BackendError, msg);
}

std::optional<std::string> Vcpu::validate_root(uint64_t cr3) {
    const uint64_t root = cr3 & mmu::pte_bits::kAddressMask;
    // Without page-table-write tracking in the backend, --paranoid re-checks every load.
    if (validated_roots_.count(root) && !shared_.paranoid) return std::nullopt;
    std::optional<std::string> problem;
    const bool ok = for_each_leaf(shared_.ram, root, [&](uint64_t va, uint64_t pa, uint64_t size) {
        if (!problem) problem = windows_->check_leaf_mapping(va, pa, size);
    });
    if (!ok) return "page table under root " + hex(root) + " lies outside RAM";
    if (!problem) validated_roots_.insert(root);
    return problem;
}

StopInfo Vcpu::run(uint64_t slice_end) {
    stop_.reset();
    slice_end_ = slice_end;
    ++stats_.slices;
    for (;;) {
        if (pending_) {
            GuestEvent ev = *pending_;
            pending_.reset();
            raise(ev);
            if (stop_) break;
        }
        if (!user_code_pages_.empty()) revalidate_user_code();
        service_timer();
        deliver_interrupt(false);
        if (stop_) break;
        if (halted_) {
            stop_ = StopInfo{StopKind::Halted, "parked by hlt at " + hex(reg(UC_X86_REG_RIP) - 1)};
            break;
        }
        if (clock() >= insn_limit_) {
            stop_ = StopInfo{StopKind::InsnLimit, "instruction limit " + std::to_string(shared_.max_insns) +
                                                      " reached at " + describe_rip(reg(UC_X86_REG_RIP))};
            break;
        }
        if (clock() >= slice_end_) {
            stop_ = StopInfo{StopKind::SliceEnd, ""};
            break;
        }
        arm_next_stop();
        const uint64_t start = reg(UC_X86_REG_RIP);
        threshold_rip_ = 0;
        // QEMU's old_exception (the exception being delivered, for SDM table 6-5) must be -1
        // at an instruction boundary, or the next #PF becomes a #DF or a silent shutdown.
        // Unicorn 2.0.1 sets it from outside the guest whenever one of its own page lookups
        // misses (the exit-address drop that Vcpu::init turns off, uc_ctl_remove_cache);
        // this check counts any such case left (stale_exception_resets, expected 0).
        {
            CpuStateBlob blob(uc_, *shared_.layout);
            blob.load();
            if (blob.old_exception() != -1) {
                blob.clear_old_exception();
                blob.store();
                ++stats_.stale_exception_resets;
            }
        }
        const uc_err err = uc_emu_start(uc_, start, kNeverAddress, 0, 0);
        if (threshold_rip_ && stop_ && threshold_rip_ != reg(UC_X86_REG_RIP)) {
            uc_reg_write(uc_, UC_X86_REG_RIP, &threshold_rip_);
            ++stats_.rip_resyncs;
        }
        if (stop_ && stop_->kind == StopKind::Resume) {
            stop_.reset();
            continue;
        }
        if (stop_) break;
        if (pending_) continue;
        if (err == UC_ERR_OK) {
            stop_ = StopInfo{StopKind::BackendError, "emulation stopped for no reason at " +
                                                         describe_rip(reg(UC_X86_REG_RIP))};
            break;
        }
        stop_ = StopInfo{StopKind::BackendError,
                         std::string("Unicorn: ") + uc_strerror(err) + " at " + describe_rip(reg(UC_X86_REG_RIP))};
        break;
    }
    stats_.instructions = icount_;
    return *stop_;
}

std::string Vcpu::register_dump() const {
    static const std::pair<const char*, int> regs[] = {
        {"RAX", UC_X86_REG_RAX}, {"RBX", UC_X86_REG_RBX}, {"RCX", UC_X86_REG_RCX}, {"RDX", UC_X86_REG_RDX},
        {"RSI", UC_X86_REG_RSI}, {"RDI", UC_X86_REG_RDI}, {"RBP", UC_X86_REG_RBP}, {"RSP", UC_X86_REG_RSP},
        {"R8", UC_X86_REG_R8},   {"R9", UC_X86_REG_R9},   {"R10", UC_X86_REG_R10}, {"R11", UC_X86_REG_R11},
        {"R12", UC_X86_REG_R12}, {"R13", UC_X86_REG_R13}, {"R14", UC_X86_REG_R14}, {"R15", UC_X86_REG_R15},
        {"RIP", UC_X86_REG_RIP}, {"RFL", UC_X86_REG_RFLAGS}, {"CR0", UC_X86_REG_CR0}, {"CR2", UC_X86_REG_CR2},
        {"CR3", UC_X86_REG_CR3}, {"CR4", UC_X86_REG_CR4},
    };
    std::string out = "vCPU " + std::to_string(id_) + " after " + std::to_string(icount_) + " instructions:\n";
    int col = 0;
    for (const auto& [name, id] : regs) {
        char b[40];
        snprintf(b, sizeof b, "  %-3s %016" PRIx64, name, reg(id));
        out += b;
        if (++col % 4 == 0) out += "\n";
    }
    if (col % 4) out += "\n";
    char b[64];
    snprintf(b, sizeof b, "  CS %04" PRIx64 "  SS %04" PRIx64 "  CPL %u\n", reg(UC_X86_REG_CS),
             reg(UC_X86_REG_SS), cpl());
    out += b;
    out += "  at " + describe_rip(reg(UC_X86_REG_RIP)) + "\n";
    return out;
}

}  // namespace emu::backend
