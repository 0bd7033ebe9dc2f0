// A vCPU's share of a machine snapshot (fuzzing, DESIGN 7): Unicorn's CPU state (the whole
// CPUX86State through uc_context: registers, control registers, segment caches, MSRs) plus
// the host-side state asi-emu keeps beside it. Guest RAM is the machine's business.
#include <cstring>

#include "emu/backend/vcpu.h"
#include "mmu/state_digest.h"

namespace emu::backend {

struct Vcpu::Snapshot {
    std::unique_ptr<uc_context, uc_err (*)(uc_context*)> context{nullptr, uc_context_free};
    uint64_t icount, idle, slice_end, next_stop, threshold_rip, tsc_offset, shadow_efer_sce, out_rip;
    std::optional<StopKind> deferred_stop;
    bool halted;
    std::mt19937_64 rng;
    devices::LocalApic apic{0};
    std::optional<GuestEvent> pending;
    std::optional<StopInfo> stop;
    FuzzRequest fuzz_request;
    std::set<uint64_t> validated_roots;
    std::map<uint64_t, UserCodePage> user_code_pages;
    RunStats stats;
    MemoryWindows::AliasSet aliases;
};

std::shared_ptr<const Vcpu::Snapshot> Vcpu::save() const {
    auto s = std::make_shared<Snapshot>();
    uc_context* ctx = nullptr;
    if (uc_context_alloc(uc_, &ctx) != UC_ERR_OK) return nullptr;
    s->context.reset(ctx);
    uc_context_save(uc_, ctx);
    s->icount = icount_;
    s->idle = idle_;
    s->slice_end = slice_end_;
    s->next_stop = next_stop_;
    s->threshold_rip = threshold_rip_;
    s->tsc_offset = tsc_offset_;
    s->shadow_efer_sce = shadow_efer_sce_;
    s->out_rip = out_rip_;
    s->deferred_stop = deferred_stop_;
    s->halted = halted_;
    s->rng = rng_;
    s->apic = apic_;
    s->pending = pending_;
    s->stop = stop_;
    s->fuzz_request = fuzz_request_;
    s->validated_roots = validated_roots_;
    s->user_code_pages = user_code_pages_;
    s->stats = stats_;
    s->aliases = windows_->aliases();
    return s;
}

void Vcpu::restore(const Snapshot& s) {
    uc_context_restore(uc_, s.context.get());
    icount_ = s.icount;
    idle_ = s.idle;
    slice_end_ = s.slice_end;
    next_stop_ = s.next_stop;
    threshold_rip_ = s.threshold_rip;
    tsc_offset_ = s.tsc_offset;
    shadow_efer_sce_ = s.shadow_efer_sce;
    out_rip_ = s.out_rip;
    deferred_stop_ = s.deferred_stop;
    halted_ = s.halted;
    rng_ = s.rng;
    apic_ = s.apic;
    pending_ = s.pending;
    stop_ = s.stop;
    fuzz_request_ = s.fuzz_request;
    validated_roots_ = s.validated_roots;
    user_code_pages_ = s.user_code_pages;
    stats_ = s.stats;
    windows_->restore_aliases(s.aliases);
    // Unicorn's TLB (untagged, per engine) may hold translations of CR3 values or aliases
    // the input introduced; translated blocks stay valid (kernel text never changes).
    flush_unicorn_tlb();
}

uint64_t Vcpu::state_digest() const {
    mmu::Digest d;
    static const int regs[] = {UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RSI,
                               UC_X86_REG_RDI, UC_X86_REG_RBP, UC_X86_REG_RSP, UC_X86_REG_R8,  UC_X86_REG_R9,
                               UC_X86_REG_R10, UC_X86_REG_R11, UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14,
                               UC_X86_REG_R15, UC_X86_REG_RIP, UC_X86_REG_RFLAGS, UC_X86_REG_CR0,
                               UC_X86_REG_CR2, UC_X86_REG_CR3, UC_X86_REG_CR4, UC_X86_REG_CS, UC_X86_REG_SS,
                               UC_X86_REG_FS_BASE, UC_X86_REG_GS_BASE};
    for (int r : regs) d.add(reg(r));
    d.add(icount_).add(idle_).add(halted_).add(tsc_offset_).add(shadow_efer_sce_).add(pending_.has_value());
    d.add(deferred_stop_ ? static_cast<uint64_t>(*deferred_stop_) + 1 : 0).add(fuzz_request_.command);
    std::mt19937_64 rng = rng_;
    d.add(rng());
    for (uint32_t msr = 0x800; msr <= 0x83f; ++msr)
        if (auto v = apic_.read_msr(msr, clock())) d.add(msr).add(*v);
    for (const auto& [va, target] : windows_->aliases().pages) d.add(va).add(target.first).add(target.second);
    d.add(stats_.instructions).add(stats_.exceptions_delivered).add(stats_.interrupts).add(validated_roots_.size());
    return d.value();
}

}  // namespace emu::backend
