// Host-side delivery through the guest IDT (DESIGN 4.2; SDM vol. 3A 6.12-6.15), called
// directly on an engine whose GDT/IDT/TSS/page tables live in a host buffer.
#include <gtest/gtest.h>

#include "emu/backend/exception_delivery.h"
#include "tests/unit/emu/guest_env.h"

namespace emu::backend {
namespace {

using testing::GuestEnv;
using testing::probed_layout;

constexpr uint64_t kIf = 1u << 9, kTf = 1u << 8;
constexpr uint64_t kFaultRip = 0xffffffff80123456ull;

class Delivery : public ::testing::Test {
protected:
    DeliveryOutcome deliver(GuestEvent ev) {
        DeliveryContext ctx{env.uc(), &probed_layout(), &env.phys(), false};
        return deliver_event(ctx, ev);
    }
    static GuestEvent fault(uint8_t vector, std::optional<uint32_t> error_code = std::nullopt) {
        GuestEvent ev;
        ev.vector = vector;
        ev.error_code = error_code;
        ev.rip = kFaultRip;
        return ev;
    }
    static GuestEvent soft_int(uint8_t vector) {
        GuestEvent ev;
        ev.vector = vector;
        ev.software = true;
        ev.rip = kFaultRip + 2;
        return ev;
    }
    uint64_t rsp() const { return env.reg(UC_X86_REG_RSP); }
    uint64_t rip() const { return env.reg(UC_X86_REG_RIP); }
    uint64_t rflags() const { return env.reg(UC_X86_REG_RFLAGS); }
    uint32_t cpl() const { return env.hflags() & kHflagCplMask; }
    uint64_t at(uint64_t va) const { return env.read64(va); }  // identity mapped

    // Expects the 64-bit frame (SDM vol. 3A figure 6-9) at `frame_top` (the 16-byte aligned
    // stack top the delivery switched to, or aligned the old RSP to).
    void expect_frame(uint64_t frame_top, std::optional<uint64_t> error_code, uint64_t rip, uint64_t cs,
                      uint64_t flags, uint64_t old_rsp, uint64_t ss) {
        const uint64_t expected_rsp = frame_top - (error_code ? 48 : 40);
        ASSERT_EQ(rsp(), expected_rsp);
        uint64_t p = expected_rsp;
        if (error_code) {
            EXPECT_EQ(at(p), *error_code) << "error code";
            p += 8;
        }
        EXPECT_EQ(at(p), rip) << "RIP";
        EXPECT_EQ(at(p + 8), cs) << "CS";
        EXPECT_EQ(at(p + 16), flags) << "RFLAGS";
        EXPECT_EQ(at(p + 24), old_rsp) << "RSP";
        EXPECT_EQ(at(p + 32), ss) << "SS";
    }

    GuestEnv env;
};

TEST(VectorHasErrorCode, MatchesTheSdm) {
    for (int v : {8, 10, 11, 12, 13, 14, 17, 21, 29, 30}) EXPECT_TRUE(vector_has_error_code(v)) << v;
    for (int v : {0, 1, 2, 3, 4, 5, 6, 7, 9, 15, 16, 18, 19, 20, 32, 0x80, 255})
        EXPECT_FALSE(vector_has_error_code(v)) << v;
}

// ---- The frame ---------------------------------------------------------------------------

TEST_F(Delivery, FaultWithErrorCodePushesTheFullFrameOnAnAlignedStack) {
    env.set_reg(UC_X86_REG_RSP, 0x7fff8);  // not 16-byte aligned: the frame starts at 0x7fff0
    env.set_reg(UC_X86_REG_RFLAGS, 0x202 | 0x4 /*PF*/);
    DeliveryOutcome out = deliver(fault(vector::kGeneralProtection, 0x1234));
    EXPECT_FALSE(out.triple_fault);
    EXPECT_EQ(out.delivered_vector, vector::kGeneralProtection);
    EXPECT_EQ(out.nested_faults, 0);
    expect_frame(0x7fff0, 0x1234, kFaultRip, GuestEnv::kKernelCs, 0x206, 0x7fff8, GuestEnv::kKernelDs);
    EXPECT_EQ(rip(), GuestEnv::gate_target(vector::kGeneralProtection));
    EXPECT_EQ(cpl(), 0u);
}

TEST_F(Delivery, FaultWithoutErrorCodePushesNone) {
    env.set_reg(UC_X86_REG_RSP, 0x7fff0);
    DeliveryOutcome out = deliver(fault(vector::kInvalidOpcode));
    EXPECT_EQ(out.delivered_vector, vector::kInvalidOpcode);
    EXPECT_EQ(out.nested_faults, 0);
    expect_frame(0x7fff0, std::nullopt, kFaultRip, GuestEnv::kKernelCs, 0x202, 0x7fff0, GuestEnv::kKernelDs);
    EXPECT_EQ(rip(), GuestEnv::gate_target(vector::kInvalidOpcode));
}

TEST_F(Delivery, GateTargetUsesAllSixtyFourBits) {
    const uint64_t target = 0xfedcba9876543210ull & 0x00007fffffffffffull;  // canonical
    env.set_gate(0x40, 0xe, 0, 0, true, GuestEnv::kKernelCs, target | 0xffff800000000000ull);
    deliver(fault(0x40));
    EXPECT_EQ(rip(), target | 0xffff800000000000ull);
}

TEST_F(Delivery, InterruptGateClearsIf) {
    env.set_reg(UC_X86_REG_RFLAGS, 0x202 | kTf);
    deliver(fault(0x30));
    EXPECT_EQ(rflags() & kIf, 0u);
    EXPECT_EQ(rflags() & kTf, 0u);
    EXPECT_EQ(at(rsp() + 16), 0x202 | kTf) << "the pushed RFLAGS keeps IF and TF";
}

TEST_F(Delivery, TrapGateKeepsIf) {
    env.set_gate(0x30, 0xf);
    env.set_reg(UC_X86_REG_RFLAGS, 0x202 | kTf);
    deliver(fault(0x30));
    EXPECT_EQ(rflags() & kIf, kIf);
    EXPECT_EQ(rflags() & kTf, 0u) << "TF is cleared by every gate";
}

// ---- Stack selection ---------------------------------------------------------------------

TEST_F(Delivery, IstStackUsedWhenTheGateNamesOne) {
    env.set_gate(vector::kNmi, 0xe, 0, /*ist=*/1);
    env.set_reg(UC_X86_REG_RSP, 0x7fff8);
    DeliveryOutcome out = deliver(fault(vector::kNmi));
    EXPECT_EQ(out.delivered_vector, vector::kNmi);
    expect_frame(GuestEnv::kIst1, std::nullopt, kFaultRip, GuestEnv::kKernelCs, 0x202, 0x7fff8,
                 GuestEnv::kKernelDs);
    EXPECT_EQ(env.segment(kSegSs).selector, GuestEnv::kKernelDs) << "no privilege change: SS kept";
}

TEST_F(Delivery, NoIstSameCplStaysOnTheCurrentStack) {
    env.set_reg(UC_X86_REG_RSP, 0x6f008);
    deliver(fault(vector::kNmi));
    EXPECT_EQ(rsp(), 0x6f000u - 40);
}

TEST_F(Delivery, UserToKernelUsesRsp0AndEntersCpl0) {
    env.set_cpl3();
    ASSERT_EQ(cpl(), 3u);
    env.set_reg(UC_X86_REG_RSP, 0x50008);
    env.set_reg(UC_X86_REG_RFLAGS, 0x202);
    DeliveryOutcome out = deliver(fault(vector::kPageFault, 0x6));
    EXPECT_EQ(out.delivered_vector, vector::kPageFault);
    EXPECT_EQ(out.nested_faults, 0);
    expect_frame(GuestEnv::kRsp0, 0x6, kFaultRip, GuestEnv::kUserCs, 0x202, 0x50008, GuestEnv::kUserDs);
    EXPECT_EQ(cpl(), 0u) << "hflags CPL";
    EXPECT_EQ(env.reg(UC_X86_REG_CS) & 3, 0u);
    EXPECT_EQ(env.reg(UC_X86_REG_CS) & 0xfffc, GuestEnv::kKernelCs);
    EXPECT_EQ(env.segment(kSegSs).selector & 0xfffc, 0u) << "SS is NULL after a 64-bit privilege change";
    EXPECT_EQ(rip(), GuestEnv::gate_target(vector::kPageFault));
}

TEST_F(Delivery, UserToKernelThroughIstUsesIstNotRsp0) {
    env.set_gate(vector::kNmi, 0xe, 0, 1);
    env.set_cpl3();
    env.set_reg(UC_X86_REG_RSP, 0x50000);
    deliver(fault(vector::kNmi));
    expect_frame(GuestEnv::kIst1, std::nullopt, kFaultRip, GuestEnv::kUserCs, 0x202, 0x50000, GuestEnv::kUserDs);
    EXPECT_EQ(cpl(), 0u);
}

// ---- IDT checks --------------------------------------------------------------------------

TEST_F(Delivery, VectorBeyondTheIdtLimitIsGpWithIdtAndExtBits) {
    env.set_idt_limit(32 * 16 - 1);  // vectors 0..31
    DeliveryOutcome out = deliver(fault(40));
    EXPECT_FALSE(out.triple_fault);
    EXPECT_EQ(out.delivered_vector, vector::kGeneralProtection);
    EXPECT_EQ(out.nested_faults, 1);
    EXPECT_EQ(at(rsp()), 40u * 8 + 2 + 1);
    EXPECT_EQ(at(rsp() + 8), kFaultRip);
    EXPECT_EQ(rip(), GuestEnv::gate_target(vector::kGeneralProtection));
}

TEST_F(Delivery, LastVectorInsideTheIdtLimitIsDelivered) {
    env.set_idt_limit(32 * 16 - 1);
    DeliveryOutcome out = deliver(fault(31));
    EXPECT_EQ(out.delivered_vector, 31);
    EXPECT_EQ(out.nested_faults, 0);
    EXPECT_EQ(rip(), GuestEnv::gate_target(31));
}

TEST_F(Delivery, SoftwareIntBeyondTheLimitHasNoExtBit) {
    env.set_idt_limit(32 * 16 - 1);
    DeliveryOutcome out = deliver(soft_int(0x80));
    EXPECT_EQ(out.delivered_vector, vector::kGeneralProtection);
    EXPECT_EQ(at(rsp()), 0x80u * 8 + 2);
}

TEST_F(Delivery, NotPresentGateIsNp) {
    env.set_gate(0x30, 0xe, 0, 0, /*present=*/false);
    DeliveryOutcome out = deliver(fault(0x30));
    EXPECT_FALSE(out.triple_fault);
    EXPECT_EQ(out.delivered_vector, vector::kSegmentNotPresent);
    EXPECT_EQ(out.nested_faults, 1);
    EXPECT_EQ(at(rsp()), 0x30u * 8 + 2 + 1);
    EXPECT_EQ(rip(), GuestEnv::gate_target(vector::kSegmentNotPresent));
}

TEST_F(Delivery, GateThatIsNotAnInterruptOrTrapGateIsGp) {
    env.set_gate(0x30, /*type=*/0xc);  // 64-bit call gate
    DeliveryOutcome out = deliver(fault(0x30));
    EXPECT_EQ(out.delivered_vector, vector::kGeneralProtection);
    EXPECT_EQ(at(rsp()), 0x30u * 8 + 2 + 1);
}

TEST_F(Delivery, CodeSegmentDescriptorInTheIdtIsGp) {
    // Type byte 0x9e: P=1, S=1, type 1110 = a conforming code segment, not a system gate.
    // SDM vol. 3A 6.14.1 / INT n pseudo-code: "IF descriptor type is not 64-bit interrupt
    // gate or 64-bit trap gate THEN #GP(vector * 8 + 2 + EXT)".
    env.set_gate(0x30, 0xe, 0, 0, true, GuestEnv::kKernelCs, 0, /*S bit*/ 0x10);
    DeliveryOutcome out = deliver(fault(0x30));
    EXPECT_EQ(out.delivered_vector, vector::kGeneralProtection);
    EXPECT_EQ(at(rsp()), 0x30u * 8 + 2 + 1);
}

TEST_F(Delivery, SoftwareIntThroughAGateBelowCplIsGpWithoutExt) {
    env.set_cpl3();
    env.set_gate(0x80, 0xe, /*dpl=*/0);
    DeliveryOutcome out = deliver(soft_int(0x80));
    EXPECT_FALSE(out.triple_fault);
    EXPECT_EQ(out.delivered_vector, vector::kGeneralProtection);
    EXPECT_EQ(out.nested_faults, 1);
    EXPECT_EQ(rsp(), GuestEnv::kRsp0 - 48);
    EXPECT_EQ(at(rsp()), 0x80u * 8 + 2) << "software interrupt: EXT = 0";
    EXPECT_EQ(at(rsp() + 8), kFaultRip + 2);
    EXPECT_EQ(at(rsp() + 16), GuestEnv::kUserCs);
    EXPECT_EQ(cpl(), 0u);
}

TEST_F(Delivery, SoftwareIntThroughADpl3GateIsDelivered) {
    env.set_cpl3();
    env.set_gate(0x80, 0xf, /*dpl=*/3);
    DeliveryOutcome out = deliver(soft_int(0x80));
    EXPECT_EQ(out.delivered_vector, 0x80);
    EXPECT_EQ(out.nested_faults, 0);
    expect_frame(GuestEnv::kRsp0, std::nullopt, kFaultRip + 2, GuestEnv::kUserCs, 0x202, GuestEnv::kKernelStackTop,
                 GuestEnv::kUserDs);
    EXPECT_EQ(cpl(), 0u);
}

TEST_F(Delivery, HardwareEventIgnoresGateDpl) {
    env.set_cpl3();
    env.set_gate(0x80, 0xe, /*dpl=*/0);
    DeliveryOutcome out = deliver(fault(0x80));  // e.g. an APIC interrupt on vector 0x80
    EXPECT_EQ(out.delivered_vector, 0x80);
    EXPECT_EQ(out.nested_faults, 0);
}

TEST_F(Delivery, GateSelectorToADataSegmentIsGpWithTheSelector) {
    env.set_gate(0x30, 0xe, 0, 0, true, GuestEnv::kKernelDs);
    DeliveryOutcome out = deliver(fault(0x30));
    EXPECT_EQ(out.delivered_vector, vector::kGeneralProtection);
    EXPECT_EQ(at(rsp()), GuestEnv::kKernelDs + 1u);
}

TEST_F(Delivery, NotPresentCodeSegmentIsNp) {
    env.set_gate(0x30, 0xe, 0, 0, true, GuestEnv::kNotPresentCs);
    DeliveryOutcome out = deliver(fault(0x30));
    EXPECT_EQ(out.delivered_vector, vector::kSegmentNotPresent);
    EXPECT_EQ(at(rsp()), GuestEnv::kNotPresentCs + 1u);
}

TEST_F(Delivery, TssTooSmallForTheIstIsTs) {
    env.set_gate(vector::kNmi, 0xe, 0, 1);
    env.set_tr_limit(0x23);  // ends before IST1 (0x24..0x2b)
    DeliveryOutcome out = deliver(fault(vector::kNmi));
    EXPECT_EQ(out.delivered_vector, vector::kInvalidTss);
    EXPECT_EQ(at(rsp()), GuestEnv::kTssSel + 1u);
}

// ---- Faults during delivery (SDM vol. 3A 6.15, tables 6-4 and 6-5) -----------------------

TEST_F(Delivery, PageFaultWhilePushingAPageFaultFrameIsDoubleFaultOnItsIst) {
    env.set_gate(vector::kDoubleFault, 0xe, 0, 1);
    env.set_reg(UC_X86_REG_RSP, 0x80000);
    env.unmap_page(0x7f000);
    GuestEvent ev = fault(vector::kPageFault, 0x2);
    ev.cr2 = 0x123000;
    DeliveryOutcome out = deliver(ev);
    EXPECT_FALSE(out.triple_fault);
    EXPECT_EQ(out.delivered_vector, vector::kDoubleFault);
    EXPECT_EQ(out.nested_faults, 1);
    expect_frame(GuestEnv::kIst1, 0u, kFaultRip, GuestEnv::kKernelCs, 0x202, 0x80000, GuestEnv::kKernelDs);
    EXPECT_EQ(rip(), GuestEnv::gate_target(vector::kDoubleFault));
    // The nested #PF loaded CR2 with the address of the first push (SS, at the top).
    EXPECT_EQ(env.reg(UC_X86_REG_CR2), 0x7fff8u);
}

TEST_F(Delivery, PageFaultWithAMappedStackIsNotPromoted) {
    env.set_gate(vector::kDoubleFault, 0xe, 0, 1);
    env.set_reg(UC_X86_REG_RSP, 0x80000);
    DeliveryOutcome out = deliver(fault(vector::kPageFault, 0x2));
    EXPECT_EQ(out.delivered_vector, vector::kPageFault);
    EXPECT_EQ(out.nested_faults, 0);
}

TEST_F(Delivery, FaultWhileDeliveringDoubleFaultOnItsIstIsTripleFault) {
    env.set_gate(vector::kDoubleFault, 0xe, 0, 1);
    env.set_reg(UC_X86_REG_RSP, 0x80000);
    env.unmap_page(0x7f000);
    env.unmap_page(GuestEnv::kIst1 - 0x1000);
    DeliveryOutcome out = deliver(fault(vector::kPageFault, 0x2));
    EXPECT_TRUE(out.triple_fault);
    EXPECT_EQ(out.nested_faults, 2);
    EXPECT_FALSE(out.detail.empty());
}

TEST_F(Delivery, DoubleFaultGateNotPresentIsTripleFault) {
    env.set_gate(vector::kGeneralProtection, 0xe, 0, 0, true, GuestEnv::kKernelDs);  // #GP -> #GP
    env.set_gate(vector::kDoubleFault, 0xe, 0, 1, /*present=*/false);
    DeliveryOutcome out = deliver(fault(vector::kGeneralProtection, 0));
    EXPECT_TRUE(out.triple_fault);
    EXPECT_EQ(out.nested_faults, 2);
}

TEST_F(Delivery, DoubleFaultDeliveredDirectlyWhenItsGateIsFine) {
    env.set_gate(vector::kDoubleFault, 0xe, 0, 1);
    DeliveryOutcome out = deliver(fault(vector::kDoubleFault, 0));
    EXPECT_FALSE(out.triple_fault);
    EXPECT_EQ(out.delivered_vector, vector::kDoubleFault);
    EXPECT_EQ(out.nested_faults, 0);
}

TEST_F(Delivery, ContributoryDuringBenignIsDeliveredSerially) {
    env.set_gate(vector::kInvalidOpcode, 0xe, 0, 0, /*present=*/false);
    DeliveryOutcome out = deliver(fault(vector::kInvalidOpcode));
    EXPECT_FALSE(out.triple_fault);
    EXPECT_EQ(out.delivered_vector, vector::kSegmentNotPresent) << "benign + contributory: serial, not #DF";
    EXPECT_EQ(out.nested_faults, 1);
    EXPECT_EQ(at(rsp()), uint64_t{vector::kInvalidOpcode} * 8 + 2 + 1);
    EXPECT_EQ(at(rsp() + 8), kFaultRip);
}

TEST_F(Delivery, PageFaultDuringBenignIsDeliveredSerially) {
    env.set_gate(vector::kPageFault, 0xe, 0, 1);  // the #PF itself runs on IST1
    env.set_reg(UC_X86_REG_RSP, 0x80000);
    env.unmap_page(0x7f000);
    DeliveryOutcome out = deliver(fault(vector::kInvalidOpcode));
    EXPECT_FALSE(out.triple_fault);
    EXPECT_EQ(out.delivered_vector, vector::kPageFault);
    EXPECT_EQ(out.nested_faults, 1);
    expect_frame(GuestEnv::kIst1, 0x2u /*W, not present*/, kFaultRip, GuestEnv::kKernelCs, 0x202, 0x80000,
                 GuestEnv::kKernelDs);
    EXPECT_EQ(env.reg(UC_X86_REG_CR2), 0x7fff8u);
}

TEST_F(Delivery, PageFaultDuringContributoryIsDeliveredSerially) {
    env.set_gate(vector::kPageFault, 0xe, 0, 1);
    env.set_gate(vector::kDoubleFault, 0xe, 0, 1);
    env.set_reg(UC_X86_REG_RSP, 0x80000);
    env.unmap_page(0x7f000);
    DeliveryOutcome out = deliver(fault(vector::kGeneralProtection, 0));
    EXPECT_EQ(out.delivered_vector, vector::kPageFault) << "contributory + #PF: serial (table 6-5)";
    EXPECT_EQ(out.nested_faults, 1);
}

TEST_F(Delivery, GpDuringGpDeliveryIsDoubleFault) {
    env.set_gate(vector::kGeneralProtection, 0xe, 0, 0, true, GuestEnv::kKernelDs);
    env.set_gate(vector::kDoubleFault, 0xe, 0, 1);
    DeliveryOutcome out = deliver(fault(vector::kGeneralProtection, 0x10));
    EXPECT_FALSE(out.triple_fault);
    EXPECT_EQ(out.delivered_vector, vector::kDoubleFault);
    EXPECT_EQ(out.nested_faults, 1);
    EXPECT_EQ(rsp(), GuestEnv::kIst1 - 48);
    EXPECT_EQ(at(rsp()), 0u) << "#DF pushes error code 0";
    EXPECT_EQ(at(rsp() + 8), kFaultRip);
}

TEST_F(Delivery, GpWithAGoodGateIsNotPromoted) {
    env.set_gate(vector::kDoubleFault, 0xe, 0, 1);
    DeliveryOutcome out = deliver(fault(vector::kGeneralProtection, 0x10));
    EXPECT_EQ(out.delivered_vector, vector::kGeneralProtection);
    EXPECT_EQ(out.nested_faults, 0);
    EXPECT_EQ(at(rsp()), 0x10u);
}

TEST_F(Delivery, ContributoryDuringPageFaultIsDoubleFault) {
    env.set_gate(vector::kPageFault, 0xe, 0, 0, /*present=*/false);
    env.set_gate(vector::kDoubleFault, 0xe, 0, 1);
    DeliveryOutcome out = deliver(fault(vector::kPageFault, 0x2));
    EXPECT_EQ(out.delivered_vector, vector::kDoubleFault);
    EXPECT_EQ(out.nested_faults, 1);
}

// ---- CR2 ---------------------------------------------------------------------------------

TEST_F(Delivery, PageFaultEventLoadsCr2) {
    env.set_reg(UC_X86_REG_CR2, 0x5555);
    GuestEvent ev = fault(vector::kPageFault, 0x0);
    ev.cr2 = 0xffffc90000abc123ull;
    DeliveryOutcome out = deliver(ev);
    ASSERT_EQ(out.delivered_vector, vector::kPageFault);
    ASSERT_EQ(out.nested_faults, 0);
    EXPECT_EQ(env.reg(UC_X86_REG_CR2), 0xffffc90000abc123ull);
}

TEST_F(Delivery, OtherEventsLeaveCr2Alone) {
    env.set_reg(UC_X86_REG_CR2, 0x5555);
    deliver(fault(vector::kGeneralProtection, 0));
    deliver(fault(0x30));
    EXPECT_EQ(env.reg(UC_X86_REG_CR2), 0x5555u);
}

TEST_F(Delivery, Cr2IsLoadedEvenWhenThePageFaultBecomesADoubleFault) {
    // SDM vol. 3A 6.15 (interrupt 14): the processor loads CR2 when it detects the #PF,
    // before delivery; a contributory fault during the delivery (here #NP) makes it a #DF
    // but does not undo CR2.
    env.set_reg(UC_X86_REG_CR2, 0x5555);
    env.set_gate(vector::kPageFault, 0xe, 0, 0, /*present=*/false);
    env.set_gate(vector::kDoubleFault, 0xe, 0, 1);
    GuestEvent ev = fault(vector::kPageFault, 0x2);
    ev.cr2 = 0xffffc90000abc000ull;
    DeliveryOutcome out = deliver(ev);
    ASSERT_EQ(out.delivered_vector, vector::kDoubleFault);
    EXPECT_EQ(env.reg(UC_X86_REG_CR2), 0xffffc90000abc000ull);
}

// ---- State after delivery ----------------------------------------------------------------

void stop_on_fault(uc_engine* uc, uint32_t, void*) { uc_emu_stop(uc); }

TEST_F(Delivery, ClearsOldExceptionLeftByARealFault) {
    // A real #PF raised by Unicorn leaves old_exception = 14 (DESIGN 4.2); a delivery must
    // reset it, or Unicorn promotes the guest's next fault to #DF.
    const uint8_t code[] = {0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00};  // mov [0x300000], rax
    std::memcpy(env.ram() + GuestEnv::kCode, code, sizeof code);
    env.unmap_page(0x300000);
    uc_hook h;
    ASSERT_EQ(uc_hook_add(env.uc(), &h, UC_HOOK_INTR, reinterpret_cast<void*>(stop_on_fault), nullptr, 1, 0),
              UC_ERR_OK);
    uc_emu_start(env.uc(), GuestEnv::kCode, GuestEnv::kCode + sizeof code, 0, 10);
    CpuStateBlob blob(env.uc(), probed_layout());
    blob.load();
    ASSERT_EQ(blob.old_exception(), 14);
    GuestEvent ev = fault(vector::kPageFault, blob.error_code());
    ev.cr2 = 0x300000;
    DeliveryOutcome out = deliver(ev);
    EXPECT_EQ(out.delivered_vector, vector::kPageFault);
    blob.load();
    EXPECT_EQ(blob.old_exception(), -1);
}

}  // namespace
}  // namespace emu::backend
