#include "mmu/hex.h"
#include "emu/backend/exception_delivery.h"

#include <cstdio>

#include "emu/backend/linear_memory.h"

namespace emu::backend {
namespace {

enum class ExceptionClass { Benign, Contributory, PageFault, DoubleFault };

// SDM vol. 3A 6.15, table 6-4.
ExceptionClass classify(uint8_t v) {
    switch (v) {
        case vector::kDivideError:
        case vector::kInvalidTss:
        case vector::kSegmentNotPresent:
        case vector::kStackFault:
        case vector::kGeneralProtection:
            return ExceptionClass::Contributory;
        case vector::kPageFault:
            return ExceptionClass::PageFault;
        case vector::kDoubleFault:
            return ExceptionClass::DoubleFault;
        default:
            return ExceptionClass::Benign;
    }
}

constexpr uint64_t kRflagsTf = 1u << 8, kRflagsIf = 1u << 9, kRflagsNt = 1u << 14,
                   kRflagsRf = 1u << 16, kRflagsVm = 1u << 17;

// A fault raised while delivering: which exception, with which error code and CR2.
struct DeliveryFault {
    uint8_t vector;
    uint32_t error_code;
    std::optional<uint64_t> cr2;
    std::string what;
};

uint64_t read_reg(uc_engine* uc, int reg) {
    uint64_t v = 0;
    uc_reg_read(uc, reg, &v);
    return v;
}

using mmu::hex;

DeliveryFault fault_from_linear(const LinearFault& f, bool write, uint32_t ext, const char* what) {
    if (f.status == mmu::WalkStatus::PageFault)
        return {vector::kPageFault, f.error_code, f.address,
                std::string("#PF at ") + hex(f.address) + " while " + what};
    if (f.status == mmu::WalkStatus::NonCanonical && write)
        return {vector::kStackFault, ext, std::nullopt, std::string("non-canonical stack while ") + what};
    return {vector::kGeneralProtection, ext, std::nullopt,
            std::string(f.status == mmu::WalkStatus::NonCanonical ? "non-canonical address"
                                                                  : "table outside RAM") +
                " while " + what};
}

class Delivery {
public:
    Delivery(const DeliveryContext& ctx) : ctx_(ctx), blob_(ctx.uc, *ctx.layout) {}

    // Attempts one delivery. nullopt on success, else the fault it raised.
    std::optional<DeliveryFault> attempt(const GuestEvent& ev);

private:
    const DeliveryContext& ctx_;
    CpuStateBlob blob_;
};

std::optional<DeliveryFault> Delivery::attempt(const GuestEvent& ev) {
    uc_engine* uc = ctx_.uc;
    blob_.load();
    const uint32_t cpl = blob_.hflags() & kHflagCplMask;
    const uint32_t ext = ev.software ? 0 : 1;
    const uint32_t idt_error = static_cast<uint32_t>(ev.vector) * 8 + 2 + ext;  // IDT bit set
    mmu::AccessContext access;
    access.cr0_wp = (read_reg(uc, UC_X86_REG_CR0) >> 16) & 1;
    access.efer_nxe = ctx_.efer_nxe;
    access.set_accessed_dirty = true;
    LinearMemory mem(*ctx_.ram, read_reg(uc, UC_X86_REG_CR3), access);

    // Gate (SDM 6.14.1, figure 6-8).
    uc_x86_mmr idtr{};
    uc_reg_read(uc, UC_X86_REG_IDTR, &idtr);
    if (static_cast<uint64_t>(ev.vector) * 16 + 15 > idtr.limit)
        return DeliveryFault{vector::kGeneralProtection, idt_error, std::nullopt,
                             "vector " + std::to_string(ev.vector) + " beyond the IDT limit " +
                                 std::to_string(idtr.limit)};
    uint64_t gate[2];
    if (auto f = mem.read(idtr.base + ev.vector * 16ull, gate, sizeof gate))
        return fault_from_linear(*f, false, idt_error, "reading the IDT");
    const uint32_t gate_type = (gate[0] >> 40) & 0xf;
    const bool gate_is_system = !((gate[0] >> 44) & 1);  // S=0: a system descriptor
    const uint32_t gate_dpl = (gate[0] >> 45) & 3;
    const bool gate_present = (gate[0] >> 47) & 1;
    const uint16_t selector = (gate[0] >> 16) & 0xffff;
    const uint32_t ist = (gate[0] >> 32) & 7;
    const uint64_t target = (gate[0] & 0xffff) | ((gate[0] >> 32) & 0xffff0000ull) | (gate[1] << 32);
    if (!gate_is_system || (gate_type != 0xe && gate_type != 0xf))
        return DeliveryFault{vector::kGeneralProtection, idt_error, std::nullopt,
                             "IDT entry " + std::to_string(ev.vector) + " is not a 64-bit gate"};
    if (ev.software && gate_dpl < cpl)
        return DeliveryFault{vector::kGeneralProtection, idt_error, std::nullopt,
                             "gate DPL below CPL for a software interrupt"};
    if (!gate_present)
        return DeliveryFault{vector::kSegmentNotPresent, idt_error, std::nullopt,
                             "IDT entry " + std::to_string(ev.vector) + " not present"};

    // Target code segment (SDM 6.14.1; 64-bit code segment, L=1, D=0).
    const uint32_t sel_error = (selector & 0xfffc) + ext;
    if ((selector & 0xfffc) == 0)
        return DeliveryFault{vector::kGeneralProtection, ext, std::nullopt, "null code selector in gate"};
    uc_x86_mmr gdtr{};
    uc_reg_read(uc, UC_X86_REG_GDTR, &gdtr);
    if ((selector & 4) || (selector & ~7u) + 7u > gdtr.limit)
        return DeliveryFault{vector::kGeneralProtection, sel_error, std::nullopt,
                             "gate selector " + hex(selector) + " outside the GDT"};
    uint64_t desc = 0;
    if (auto f = mem.read(gdtr.base + (selector & ~7u), &desc, sizeof desc))
        return fault_from_linear(*f, false, sel_error, "reading the GDT");
    const uint32_t desc_hi = static_cast<uint32_t>(desc >> 32);
    const bool is_code = (desc_hi & kDescS) && (desc_hi & kDescCode);
    const bool conforming = desc_hi & (1u << 10);
    const uint32_t desc_dpl = (desc_hi >> kDescDplShift) & 3;
    if (!is_code || !(desc_hi & kDescLong) || (desc_hi & kDescBig) || desc_dpl > cpl)
        return DeliveryFault{vector::kGeneralProtection, sel_error, std::nullopt,
                             "gate selector " + hex(selector) + " is not a usable 64-bit code segment"};
    if (!(desc_hi & kDescPresent))
        return DeliveryFault{vector::kSegmentNotPresent, sel_error, std::nullopt, "code segment not present"};
    const uint32_t new_cpl = conforming ? cpl : desc_dpl;

    // Stack (SDM 6.14.4 and 6.14.5): IST if named, else RSPn on a privilege change.
    const uint64_t old_rsp = read_reg(uc, UC_X86_REG_RSP);
    uint64_t rsp = old_rsp;
    if (ist != 0 || new_cpl < cpl) {
        uc_x86_mmr tr{};
        uc_reg_read(uc, UC_X86_REG_TR, &tr);
        const uint32_t offset = ist != 0 ? 0x24 + (ist - 1) * 8 : 4 + new_cpl * 8;
        if (offset + 7 > tr.limit)
            return DeliveryFault{vector::kInvalidTss, (tr.selector & 0xfffc) + ext, std::nullopt,
                                 "TSS too small for the stack pointer it must supply"};
        if (auto f = mem.read(tr.base + offset, &rsp, sizeof rsp))
            return fault_from_linear(*f, false, ext, "reading the TSS");
    }
    rsp &= ~0xfull;
    const SegmentCache old_cs = blob_.segment(kSegCs), old_ss = blob_.segment(kSegSs);
    const uint64_t rflags = read_reg(uc, UC_X86_REG_RFLAGS);
    uint64_t frame[6];
    size_t n = 0;
    if (ev.error_code) frame[n++] = *ev.error_code;
    frame[n++] = ev.rip;
    frame[n++] = old_cs.selector;
    frame[n++] = rflags;
    frame[n++] = old_rsp;
    frame[n++] = old_ss.selector;
    rsp -= n * 8;
    if (!mmu::is_canonical(rsp))
        return DeliveryFault{vector::kStackFault, ext, std::nullopt, "non-canonical stack " + hex(rsp)};
    // Pushes go from the highest address down, as the CPU does, so a fault hits the same
    // page the hardware would fault on first.
    for (size_t i = n; i-- > 0;)
        if (auto f = mem.write(rsp + i * 8, &frame[i], 8))
            return fault_from_linear(*f, true, ext, "pushing the exception frame");

    // Commit: CS:RIP from the gate, SS:RSP, RFLAGS (SDM 6.14.2, 6.12.1.3).
    SegmentCache cs{static_cast<uint32_t>((selector & 0xfffc) | new_cpl), 0, 0xffffffff,
                    desc_hi & 0x00f0ff00};
    blob_.set_segment(kSegCs, cs);
    if (new_cpl != cpl) blob_.set_segment(kSegSs, SegmentCache{new_cpl, 0, 0, new_cpl << kDescDplShift});
    blob_.set_hflags((blob_.hflags() & ~(kHflagCplMask | (1u << 3))) | new_cpl | kHflagCs32 |
                     kHflagSs32 | kHflagCs64 | kHflagLma);
    blob_.clear_old_exception();
    blob_.store();
    uint64_t new_flags = rflags & ~(kRflagsTf | kRflagsNt | kRflagsRf | kRflagsVm);
    if (gate_type == 0xe) new_flags &= ~kRflagsIf;
    uc_reg_write(uc, UC_X86_REG_RSP, &rsp);
    uc_reg_write(uc, UC_X86_REG_RFLAGS, &new_flags);
    uc_reg_write(uc, UC_X86_REG_RIP, &target);
    return std::nullopt;
}

}  // namespace

bool vector_has_error_code(uint8_t v) {
    return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

DeliveryOutcome deliver_event(const DeliveryContext& ctx, GuestEvent event) {
    DeliveryOutcome out;
    Delivery delivery(ctx);
    std::string chain = "vector " + std::to_string(event.vector);
    for (;;) {
        // CR2 is loaded when the #PF is detected, before its delivery begins, so it holds the
        // address even when that delivery fails and becomes a #DF (SDM 6.15, interrupt 14).
        if (event.cr2) uc_reg_write(ctx.uc, UC_X86_REG_CR2, &*event.cr2);
        std::optional<DeliveryFault> fault = delivery.attempt(event);
        if (!fault) {
            out.delivered_vector = event.vector;
            return out;
        }
        ++out.nested_faults;
        chain += " -> " + fault->what + " (vector " + std::to_string(fault->vector) + ")";
        const ExceptionClass first = classify(event.vector), second = classify(fault->vector);
        if (first == ExceptionClass::DoubleFault) {
            out.triple_fault = true;
            out.detail = chain + " -> triple fault";
            // Whatever Unicorn recorded as in flight is moot now; leave a clean slate.
            CpuStateBlob blob(ctx.uc, *ctx.layout);
            blob.load();
            blob.clear_old_exception();
            blob.store();
            return out;
        }
        const bool promote =
            (first == ExceptionClass::Contributory && second == ExceptionClass::Contributory) ||
            (first == ExceptionClass::PageFault &&
             (second == ExceptionClass::Contributory || second == ExceptionClass::PageFault));
        GuestEvent next;
        next.rip = event.rip;
        if (promote) {
            next.vector = vector::kDoubleFault;
            next.error_code = 0;
        } else {
            next.vector = fault->vector;
            if (vector_has_error_code(fault->vector)) next.error_code = fault->error_code;
            next.cr2 = fault->cr2;
        }
        if (fault->cr2) uc_reg_write(ctx.uc, UC_X86_REG_CR2, &*fault->cr2);
        event = next;
    }
}

}  // namespace emu::backend
