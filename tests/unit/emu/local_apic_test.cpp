// The x2APIC model (emu/devices/local_apic.h) against Intel SDM vol. 3A chapter 10: the MSR
// interface and its #GP cases (10.12.1), ICR decoding (10.12.9), ESR (10.5.3), acceptance and
// priority (10.8.3.1, 10.8.5), the timer (10.5.4, figure 10-10). Each rule has a case that
// triggers it and a case that must not.
#include "emu/devices/local_apic.h"

#include <gtest/gtest.h>

#include "guest_kernel/abi/asi_emu_abi.h"

using emu::devices::LocalApic;
using namespace asi_abi;

namespace {

constexpr uint64_t kEsrSendIllegalVector = 1u << 5, kEsrReceiveIllegalVector = 1u << 6;

// Software-enables the APIC (SVR bit 8, spurious vector 0xff), as every guest must first.
LocalApic enabled_apic(uint32_t id = 0) {
    LocalApic a(id);
    EXPECT_TRUE(a.write_msr(kMsrX2apicSvr, 0x1ff, 0).ok);
    return a;
}

uint64_t read(const LocalApic& a, uint32_t msr, uint64_t now = 0) {
    const auto v = a.read_msr(msr, now);
    EXPECT_TRUE(v.has_value()) << "MSR " << std::hex << msr;
    return v.value_or(~0ull);
}

// Latches the errors seen since the last ESR write and reads them (SDM 10.5.3: write, read).
uint64_t latch_esr(LocalApic& a) {
    EXPECT_TRUE(a.write_msr(kMsrX2apicEsr, 0, 0).ok);
    return read(a, kMsrX2apicEsr);
}

// Programs the timer: divide configuration, LVT entry, then the initial count (which starts it).
void start_timer(LocalApic& a, uint64_t now, uint32_t initial, uint32_t divide_config, uint32_t lvt) {
    ASSERT_TRUE(a.write_msr(kMsrX2apicDivide, divide_config, now).ok);
    ASSERT_TRUE(a.write_msr(kMsrX2apicLvtTimer, lvt, now).ok);
    ASSERT_TRUE(a.write_msr(kMsrX2apicInitCount, initial, now).ok);
}

// ---- MSR reads --------------------------------------------------------------------------

TEST(LocalApic, IdVersionAndLogicalDestination) {
    LocalApic a(0), b(0x23);
    EXPECT_EQ(read(a, kMsrX2apicId), 0u);
    EXPECT_EQ(read(b, kMsrX2apicId), 0x23u);
    // Version: 0x14 (integrated APIC), max LVT entry 5 (six LVT registers) in bits 23:16.
    EXPECT_EQ(read(a, kMsrX2apicVersion), 0x50014u);
    // SDM 10.12.10.2: LDR = cluster (ID[19:4]) << 16 | 1 << ID[3:0].
    EXPECT_EQ(read(a, kMsrX2apicLdr), 0x1u);
    EXPECT_EQ(read(b, kMsrX2apicLdr), (2u << 16) | (1u << 3));
    EXPECT_EQ(read(LocalApic(15), kMsrX2apicLdr), 1u << 15);
    EXPECT_EQ(read(LocalApic(16), kMsrX2apicLdr), (1u << 16) | 1u);
}

TEST(LocalApic, ApicBaseHasTheBspBitOnlyOnCpu0) {
    const uint64_t base = kApicBaseDefault | kApicBaseEnable | kApicBaseExtd;
    EXPECT_EQ(read(LocalApic(0), kMsrApicBase), base | kApicBaseBsp);
    EXPECT_EQ(read(LocalApic(1), kMsrApicBase), base);
    EXPECT_EQ(read(LocalApic(63), kMsrApicBase), base);
}

TEST(LocalApic, PowerOnState) {
    LocalApic a(0);
    EXPECT_EQ(read(a, kMsrX2apicSvr), 0xffu);  // software-disabled, spurious vector 0xff
    EXPECT_FALSE(a.software_enabled());
    EXPECT_EQ(read(a, kMsrX2apicTpr), 0u);
    EXPECT_EQ(read(a, kMsrX2apicPpr), 0u);
    EXPECT_EQ(read(a, kMsrX2apicLvtTimer), kApicLvtMasked);
    for (uint32_t m = kMsrX2apicLvtThermal; m <= kMsrX2apicLvtError; ++m) EXPECT_EQ(read(a, m), kApicLvtMasked);
    for (uint32_t i = 0; i < 8; ++i) {
        EXPECT_EQ(read(a, kMsrX2apicIsr0 + i), 0u);
        EXPECT_EQ(read(a, kMsrX2apicTmr0 + i), 0u);
        EXPECT_EQ(read(a, kMsrX2apicIrr0 + i), 0u);
    }
    EXPECT_EQ(read(a, kMsrX2apicInitCount), 0u);
    EXPECT_EQ(read(a, kMsrX2apicCurCount), 0u);
    EXPECT_EQ(a.timer_deadline(), UINT64_MAX);
    EXPECT_TRUE(a.irr_empty());
    EXPECT_FALSE(a.deliverable());
}

TEST(LocalApic, WriteOnlyAndReservedRegistersReadAsGp) {
    LocalApic a(0);
    EXPECT_FALSE(a.read_msr(kMsrX2apicEoi, 0));     // write-only
    EXPECT_FALSE(a.read_msr(kMsrX2apicSelfIpi, 0));  // write-only
    for (uint32_t reserved : {0x800u, 0x801u, 0x804u, 0x809u, 0x80cu, 0x80eu, 0x829u, 0x82fu, 0x831u, 0x83au,
                              0x83du, 0x840u, 0x8ffu})
        EXPECT_FALSE(a.read_msr(reserved, 0)) << std::hex << reserved;
    // The readable neighbours still read.
    EXPECT_TRUE(a.read_msr(kMsrX2apicTpr, 0));
    EXPECT_TRUE(a.read_msr(kMsrX2apicEsr, 0));
}

TEST(LocalApic, IcrReadsBackTheLastValueWritten) {
    // SDM table 10-6: the x2APIC ICR (MSR 830H) is read/write.
    LocalApic a(0);
    EXPECT_EQ(read(a, kMsrX2apicIcr), 0u);
    const uint64_t icr = 0x41 | (3ull << 32);
    ASSERT_TRUE(a.write_msr(kMsrX2apicIcr, icr, 0).ok);
    EXPECT_EQ(read(a, kMsrX2apicIcr), icr);
}

TEST(LocalApic, IsApicMsr) {
    EXPECT_TRUE(LocalApic::is_apic_msr(0x1b));
    EXPECT_TRUE(LocalApic::is_apic_msr(0x800));
    EXPECT_TRUE(LocalApic::is_apic_msr(0x8ff));
    EXPECT_FALSE(LocalApic::is_apic_msr(0x7ff));
    EXPECT_FALSE(LocalApic::is_apic_msr(0x900));
    EXPECT_FALSE(LocalApic::is_apic_msr(0x10));  // TSC
}

// ---- MSR writes -------------------------------------------------------------------------

TEST(LocalApic, ReadOnlyRegistersWriteAsGp) {
    LocalApic a(0);
    for (uint32_t ro : {kMsrX2apicId, kMsrX2apicVersion, kMsrX2apicPpr, kMsrX2apicLdr, kMsrX2apicIsr0,
                        kMsrX2apicIsr0 + 7, kMsrX2apicTmr0, kMsrX2apicIrr0, kMsrX2apicIrr0 + 7, kMsrX2apicCurCount})
        EXPECT_FALSE(a.write_msr(ro, 0, 0).ok) << std::hex << ro;
    for (uint32_t reserved : {0x800u, 0x809u, 0x82fu, 0x83du, 0x8ffu})
        EXPECT_FALSE(a.write_msr(reserved, 0, 0).ok) << std::hex << reserved;
    EXPECT_EQ(read(a, kMsrX2apicId), 0u);  // unchanged by the refused write
    // The writable ones are accepted.
    EXPECT_TRUE(a.write_msr(kMsrX2apicTpr, 0x20, 0).ok);
    EXPECT_EQ(read(a, kMsrX2apicTpr), 0x20u);
    EXPECT_TRUE(a.write_msr(kMsrX2apicLvtLint0, 0x700, 0).ok);
    EXPECT_EQ(read(a, kMsrX2apicLvtLint0), 0x700u);
}

TEST(LocalApic, EoiMustBeZero) {
    LocalApic a = enabled_apic();
    a.accept(0x40);
    a.acknowledge(0x40);
    EXPECT_FALSE(a.write_msr(kMsrX2apicEoi, 1, 0).ok);  // SDM 10.12.1.2: #GP(0)
    EXPECT_FALSE(a.write_msr(kMsrX2apicEoi, 1ull << 32, 0).ok);
    EXPECT_EQ(read(a, kMsrX2apicIsr0 + 2), 1u) << "a refused EOI leaves the ISR alone";
    EXPECT_TRUE(a.write_msr(kMsrX2apicEoi, 0, 0).ok);
    EXPECT_EQ(read(a, kMsrX2apicIsr0 + 2), 0u);
}

TEST(LocalApic, EsrWriteMustBeZero) {
    // x2APIC spec 2.3.5: a write of a non-zero value to the ESR raises #GP.
    LocalApic a(0);
    EXPECT_FALSE(a.write_msr(kMsrX2apicEsr, 1, 0).ok);
    EXPECT_TRUE(a.write_msr(kMsrX2apicEsr, 0, 0).ok);
}

TEST(LocalApic, ApicBaseAcceptsOnlyTheX2apicModeAtTheDefaultBase) {
    const uint64_t x2apic = kApicBaseDefault | kApicBaseEnable | kApicBaseExtd;
    LocalApic a(0), b(1);
    EXPECT_TRUE(a.write_msr(kMsrApicBase, x2apic, 0).ok);
    EXPECT_TRUE(a.write_msr(kMsrApicBase, x2apic | kApicBaseBsp, 0).ok);  // rewriting what it reads
    EXPECT_TRUE(b.write_msr(kMsrApicBase, x2apic, 0).ok);
    EXPECT_FALSE(a.write_msr(kMsrApicBase, kApicBaseDefault | kApicBaseEnable, 0).ok);  // back to xAPIC
    EXPECT_FALSE(a.write_msr(kMsrApicBase, 0, 0).ok);                                   // disable
    EXPECT_FALSE(a.write_msr(kMsrApicBase, kApicBaseDefault | kApicBaseExtd, 0).ok);    // EXTD without EN
    EXPECT_FALSE(a.write_msr(kMsrApicBase, 0xfed00000ull | kApicBaseEnable | kApicBaseExtd, 0).ok);  // moved
    // Still in x2APIC mode after the refusals.
    EXPECT_EQ(read(a, kMsrApicBase), x2apic | kApicBaseBsp);
    EXPECT_TRUE(a.read_msr(kMsrX2apicId, 0));
}

TEST(LocalApic, SvrKeepsItsDefinedBits) {
    LocalApic a(0);
    ASSERT_TRUE(a.write_msr(kMsrX2apicSvr, 0xffffffff, 0).ok);
    EXPECT_EQ(read(a, kMsrX2apicSvr), 0x11ffu);  // vector, APIC enable, EOI-broadcast suppression
    EXPECT_TRUE(a.software_enabled());
    ASSERT_TRUE(a.write_msr(kMsrX2apicSvr, 0xff, 0).ok);
    EXPECT_FALSE(a.software_enabled());
}

// ---- ICR and SELF IPI ---------------------------------------------------------------------

TEST(LocalApic, IcrDecodesVectorShorthandDestinationAndMode) {
    LocalApic a(0);
    auto r = a.write_msr(kMsrX2apicIcr, 0x40 | (5ull << 32), 0);
    ASSERT_TRUE(r.ok);
    ASSERT_TRUE(r.ipi);
    EXPECT_EQ(r.ipi->vector, 0x40);
    EXPECT_EQ(r.ipi->shorthand, 0);
    EXPECT_EQ(r.ipi->destination, 5u);
    EXPECT_EQ(r.ipi->delivery_mode, 0);
    EXPECT_EQ(r.ipi->icr, 0x40 | (5ull << 32));

    r = a.write_msr(kMsrX2apicIcr, 0xfe | kIcrShorthandOthers | kIcrLevelAssert, 0);
    ASSERT_TRUE(r.ipi);
    EXPECT_EQ(r.ipi->vector, 0xfe);
    EXPECT_EQ(r.ipi->shorthand, 3);

    r = a.write_msr(kMsrX2apicIcr, 0x41 | kIcrShorthandSelf, 0);
    ASSERT_TRUE(r.ipi);
    EXPECT_EQ(r.ipi->shorthand, 1);
    r = a.write_msr(kMsrX2apicIcr, 0x42 | kIcrShorthandAll, 0);
    ASSERT_TRUE(r.ipi);
    EXPECT_EQ(r.ipi->shorthand, 2);

    r = a.write_msr(kMsrX2apicIcr, 0x43 | (0xffffffffull << 32), 0);
    ASSERT_TRUE(r.ipi);
    EXPECT_EQ(r.ipi->destination, 0xffffffffu);  // broadcast

    // INIT (delivery mode 5) carries vector 0 and is not an illegal-vector error.
    r = a.write_msr(kMsrX2apicIcr, (5u << 8) | kIcrLevelAssert | (1ull << 32), 0);
    ASSERT_TRUE(r.ipi);
    EXPECT_EQ(r.ipi->delivery_mode, 5);
    EXPECT_EQ(r.ipi->destination, 1u);
    r = a.write_msr(kMsrX2apicIcr, (4u << 8) | (2ull << 32), 0);  // NMI
    ASSERT_TRUE(r.ipi);
    EXPECT_EQ(r.ipi->delivery_mode, 4);
    EXPECT_EQ(latch_esr(a), 0u);
}

TEST(LocalApic, IllegalVectorSetsSendIllegalVectorAndSendsNothing) {
    LocalApic a(0);
    for (uint64_t v : {0ull, 1ull, 15ull}) {
        const auto r = a.write_msr(kMsrX2apicIcr, v | (1ull << 32), 0);
        EXPECT_TRUE(r.ok) << "an illegal vector is an APIC error, not a #GP";
        EXPECT_FALSE(r.ipi) << v;
    }
    // The ESR shows it only after the next ESR write (SDM 10.5.3), and the write after that clears it.
    EXPECT_EQ(read(a, kMsrX2apicEsr), 0u);
    EXPECT_EQ(latch_esr(a), kEsrSendIllegalVector);
    EXPECT_EQ(latch_esr(a), 0u);
    // Vector 16 is the first legal one.
    EXPECT_TRUE(a.write_msr(kMsrX2apicIcr, 16 | (1ull << 32), 0).ipi);
    EXPECT_EQ(latch_esr(a), 0u);
}

TEST(LocalApic, SelfIpiRegister) {
    LocalApic a(3);
    auto r = a.write_msr(kMsrX2apicSelfIpi, 0x50, 0);
    ASSERT_TRUE(r.ok);
    ASSERT_TRUE(r.ipi);
    EXPECT_EQ(r.ipi->vector, 0x50);
    EXPECT_EQ(r.ipi->shorthand, 1);
    EXPECT_EQ(r.ipi->delivery_mode, 0);
    r = a.write_msr(kMsrX2apicSelfIpi, 0x5, 0);
    EXPECT_TRUE(r.ok);
    EXPECT_FALSE(r.ipi);
    EXPECT_EQ(latch_esr(a), kEsrSendIllegalVector);
}

// ---- Acceptance and priority --------------------------------------------------------------

TEST(LocalApic, AcceptSetsIrrAndIllegalVectorsAreDropped) {
    LocalApic a = enabled_apic();
    a.accept(0x40);
    EXPECT_FALSE(a.irr_empty());
    EXPECT_EQ(read(a, kMsrX2apicIrr0 + 2), 1u);
    LocalApic b = enabled_apic();
    b.accept(0x0f);
    EXPECT_TRUE(b.irr_empty());
    EXPECT_FALSE(b.deliverable());
    EXPECT_EQ(latch_esr(b), kEsrReceiveIllegalVector);
}

TEST(LocalApic, HigherPriorityClassIsDeliveredFirst) {
    LocalApic a = enabled_apic();
    a.accept(0x41);
    a.accept(0x80);
    a.accept(0x4f);
    ASSERT_EQ(a.deliverable(), 0x80);
    a.acknowledge(0x80);
    EXPECT_EQ(read(a, kMsrX2apicIsr0 + 4), 1u);
    EXPECT_EQ(read(a, kMsrX2apicIrr0 + 4), 0u);
    EXPECT_EQ(read(a, kMsrX2apicPpr), 0x80u);
    EXPECT_FALSE(a.deliverable()) << "0x4f and 0x41 are below the in-service 0x80";
    ASSERT_TRUE(a.write_msr(kMsrX2apicEoi, 0, 0).ok);
    EXPECT_EQ(read(a, kMsrX2apicPpr), 0u);
    EXPECT_EQ(a.deliverable(), 0x4f) << "the highest vector of the remaining ones";
}

TEST(LocalApic, InServiceClassBlocksSameOrLowerClass) {
    LocalApic a = enabled_apic();
    a.accept(0x45);
    a.acknowledge(0x45);
    a.accept(0x4a);  // same class (4), higher vector: still blocked (SDM 10.8.3.1)
    EXPECT_FALSE(a.deliverable());
    a.accept(0x30);
    EXPECT_FALSE(a.deliverable());
    a.accept(0x50);  // higher class: nests
    EXPECT_EQ(a.deliverable(), 0x50);
}

TEST(LocalApic, TprBlocksSameOrLowerClass) {
    LocalApic a = enabled_apic();
    ASSERT_TRUE(a.write_msr(kMsrX2apicTpr, 0x5f, 0).ok);
    EXPECT_EQ(read(a, kMsrX2apicPpr), 0x5fu);  // PPR = TPR when TPR[7:4] >= ISRV[7:4]
    a.accept(0x5f);
    EXPECT_FALSE(a.deliverable());
    a.accept(0x60);
    EXPECT_EQ(a.deliverable(), 0x60);
    ASSERT_TRUE(a.write_msr(kMsrX2apicTpr, 0x60, 0).ok);
    EXPECT_FALSE(a.deliverable());
    ASSERT_TRUE(a.write_msr(kMsrX2apicTpr, 0, 0).ok);
    EXPECT_EQ(a.deliverable(), 0x60);
}

TEST(LocalApic, PprIsTheHigherOfTprAndInServiceClass) {
    LocalApic a = enabled_apic();
    ASSERT_TRUE(a.write_msr(kMsrX2apicTpr, 0x23, 0).ok);
    a.accept(0x71);
    a.acknowledge(0x71);
    EXPECT_EQ(read(a, kMsrX2apicPpr), 0x70u);  // ISRV class, low nibble 0
    ASSERT_TRUE(a.write_msr(kMsrX2apicTpr, 0x9a, 0).ok);
    EXPECT_EQ(read(a, kMsrX2apicPpr), 0x9au);
}

TEST(LocalApic, EoiClearsTheHighestInServiceVector) {
    LocalApic a = enabled_apic();
    a.accept(0x40);
    a.acknowledge(0x40);
    a.accept(0x90);
    a.acknowledge(0x90);  // nested above 0x40
    ASSERT_TRUE(a.write_msr(kMsrX2apicEoi, 0, 0).ok);
    EXPECT_EQ(read(a, kMsrX2apicIsr0 + 4), 0u);
    EXPECT_EQ(read(a, kMsrX2apicIsr0 + 2), 1u) << "the outer 0x40 is still in service";
    ASSERT_TRUE(a.write_msr(kMsrX2apicEoi, 0, 0).ok);
    EXPECT_EQ(read(a, kMsrX2apicIsr0 + 2), 0u);
    ASSERT_TRUE(a.write_msr(kMsrX2apicEoi, 0, 0).ok) << "an EOI with nothing in service is harmless";
}

// ---- Timer ---------------------------------------------------------------------------------

TEST(LocalApic, DivideConfigurationFollowsFigure10_10) {
    // Bits 0, 1, 3: 000b = 2, 001b = 4, 010b = 8, 011b = 16, 100b = 32, 101b = 64, 110b = 128, 111b = 1.
    const std::pair<uint32_t, uint64_t> table[] = {{0x0, 2},  {0x1, 4},  {0x2, 8},   {0x3, 16},
                                                   {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1}};
    for (const auto& [config, divide] : table) {
        LocalApic a = enabled_apic();
        start_timer(a, 1000, 10, config, 0x40);
        EXPECT_EQ(a.timer_deadline(), 1000 + 10 * divide) << "divide configuration " << config;
        EXPECT_EQ(read(a, kMsrX2apicDivide), config);
    }
    LocalApic a(0);
    ASSERT_TRUE(a.write_msr(kMsrX2apicDivide, 0xffffffff, 0).ok);
    EXPECT_EQ(read(a, kMsrX2apicDivide), 0xbu) << "bit 2 and bits 31:4 are reserved";
}

TEST(LocalApic, OneShotFiresOnceAtInitialTimesDivide) {
    LocalApic a = enabled_apic();
    start_timer(a, 100, 50, 0x1 /* 4 */, 0x41);
    EXPECT_EQ(a.timer_deadline(), 300u);
    EXPECT_FALSE(a.expire_timer(299)) << "not yet";
    EXPECT_TRUE(a.irr_empty());
    EXPECT_TRUE(a.expire_timer(300));
    EXPECT_EQ(a.deliverable(), 0x41);
    EXPECT_EQ(a.timer_expiries(), 1u);
    EXPECT_EQ(a.timer_deadline(), UINT64_MAX) << "one-shot: disarmed";
    EXPECT_EQ(read(a, kMsrX2apicCurCount, 400), 0u);
    EXPECT_FALSE(a.expire_timer(1000000));
    EXPECT_EQ(a.timer_expiries(), 1u);
}

TEST(LocalApic, PeriodicReloadsWithoutDrift) {
    LocalApic a = enabled_apic();
    start_timer(a, 0, 1000, 0xb, 0x41 | kApicLvtTimerPeriodic);
    EXPECT_EQ(a.timer_deadline(), 1000u);
    // Serviced late (at 1037): the next deadline stays on the 1000-tick grid.
    EXPECT_TRUE(a.expire_timer(1037));
    EXPECT_EQ(a.timer_deadline(), 2000u);
    EXPECT_TRUE(a.expire_timer(2000));
    EXPECT_EQ(a.timer_deadline(), 3000u);
    // Serviced several periods late: one expiry, the next deadline still on the grid.
    EXPECT_TRUE(a.expire_timer(5500));
    EXPECT_EQ(a.timer_deadline(), 6000u);
    EXPECT_EQ(a.timer_expiries(), 3u);
    EXPECT_EQ(read(a, kMsrX2apicCurCount, 5750), 250u);
}

TEST(LocalApic, MaskedTimerCountsExpiriesButAcceptsNothing) {
    LocalApic a = enabled_apic();
    start_timer(a, 0, 100, 0xb, 0x41 | kApicLvtMasked | kApicLvtTimerPeriodic);
    EXPECT_FALSE(a.expire_timer(100));
    EXPECT_EQ(a.timer_expiries(), 1u);
    EXPECT_TRUE(a.irr_empty());
    EXPECT_EQ(a.timer_deadline(), 200u) << "a masked periodic timer keeps counting";
    EXPECT_FALSE(a.can_wake_itself());
    // Unmasking lets the next expiry through.
    ASSERT_TRUE(a.write_msr(kMsrX2apicLvtTimer, 0x41 | kApicLvtTimerPeriodic, 150).ok);
    EXPECT_TRUE(a.can_wake_itself());
    EXPECT_TRUE(a.expire_timer(200));
    EXPECT_EQ(a.deliverable(), 0x41);
}

TEST(LocalApic, SoftwareDisabledApicAcceptsNoTimerInterrupt) {
    LocalApic a(0);  // SVR bit 8 clear
    start_timer(a, 0, 100, 0xb, 0x41);
    EXPECT_FALSE(a.can_wake_itself());
    EXPECT_FALSE(a.expire_timer(100));
    EXPECT_EQ(a.timer_expiries(), 1u);
    EXPECT_TRUE(a.irr_empty());
    LocalApic b = enabled_apic();
    start_timer(b, 0, 100, 0xb, 0x41);
    EXPECT_TRUE(b.expire_timer(100));
}

TEST(LocalApic, CurrentCountDecreasesFromTheInitialCount) {
    LocalApic a = enabled_apic();
    start_timer(a, 1000, 100, 0x0 /* 2 */, 0x41);
    EXPECT_EQ(read(a, kMsrX2apicInitCount, 1000), 100u);
    EXPECT_EQ(read(a, kMsrX2apicCurCount, 1000), 100u);
    EXPECT_EQ(read(a, kMsrX2apicCurCount, 1002), 99u);
    EXPECT_EQ(read(a, kMsrX2apicCurCount, 1100), 50u);
    EXPECT_EQ(read(a, kMsrX2apicCurCount, 1198), 1u);
    EXPECT_EQ(read(a, kMsrX2apicCurCount, 1200), 0u);
    uint64_t last = 101;
    for (uint64_t now = 1000; now <= 1200; now += 7) {
        const uint64_t c = read(a, kMsrX2apicCurCount, now);
        EXPECT_LE(c, last) << "at " << now;
        last = c;
    }
}

TEST(LocalApic, ChangingTheDivideKeepsTheCountLeft) {
    LocalApic a = enabled_apic();
    start_timer(a, 0, 100, 0xb /* 1 */, 0x41);
    ASSERT_TRUE(a.write_msr(kMsrX2apicDivide, 0x3 /* 16 */, 40).ok);
    EXPECT_EQ(read(a, kMsrX2apicCurCount, 40), 60u);
    EXPECT_EQ(a.timer_deadline(), 40u + 60 * 16);
}

TEST(LocalApic, InitialCountZeroStopsTheTimer) {
    LocalApic a = enabled_apic();
    start_timer(a, 0, 100, 0xb, 0x41 | kApicLvtTimerPeriodic);
    ASSERT_NE(a.timer_deadline(), UINT64_MAX);
    ASSERT_TRUE(a.write_msr(kMsrX2apicInitCount, 0, 50).ok);
    EXPECT_EQ(a.timer_deadline(), UINT64_MAX);
    EXPECT_EQ(read(a, kMsrX2apicCurCount, 60), 0u);
    EXPECT_FALSE(a.expire_timer(1000));
    EXPECT_EQ(a.timer_expiries(), 0u);
    EXPECT_FALSE(a.can_wake_itself());
    // Writing a count again restarts it from that moment.
    ASSERT_TRUE(a.write_msr(kMsrX2apicInitCount, 10, 2000).ok);
    EXPECT_EQ(a.timer_deadline(), 2010u);
}

TEST(LocalApic, TimerVectorComesFromTheLvt) {
    LocalApic a = enabled_apic();
    start_timer(a, 0, 1, 0xb, 0xec);
    EXPECT_EQ(a.timer_vector(), 0xec);
    EXPECT_TRUE(a.expire_timer(1));
    EXPECT_EQ(a.deliverable(), 0xec);
}

// ---- can_wake_itself -----------------------------------------------------------------------

TEST(LocalApic, CanWakeItselfWithAPendingInterruptOrAnArmedTimer) {
    LocalApic idle = enabled_apic();
    EXPECT_FALSE(idle.can_wake_itself()) << "nothing pending, no timer";

    LocalApic pending = enabled_apic();
    pending.accept(0x40);
    EXPECT_TRUE(pending.can_wake_itself());

    LocalApic timer = enabled_apic();
    start_timer(timer, 0, 100, 0xb, 0x41);
    EXPECT_TRUE(timer.can_wake_itself());
    EXPECT_TRUE(timer.expire_timer(100));  // one-shot: now pending, no longer armed
    EXPECT_TRUE(timer.can_wake_itself());
    timer.acknowledge(0x41);
    EXPECT_FALSE(timer.can_wake_itself());

    LocalApic masked = enabled_apic();
    start_timer(masked, 0, 100, 0xb, 0x41 | kApicLvtMasked);
    EXPECT_FALSE(masked.can_wake_itself());
}

TEST(LocalApic, CannotWakeItselfWithInterruptsItsPriorityBlocks) {
    // A parked CPU executes nothing, so neither its TPR nor its ISR can change: an interrupt
    // its PPR blocks now can never be taken, and is no reason to wait.
    LocalApic blocked = enabled_apic();
    blocked.accept(0x40);
    blocked.acknowledge(0x40);  // in service, never EOIed
    blocked.accept(0x41);       // same class: blocked
    EXPECT_FALSE(blocked.deliverable());
    EXPECT_FALSE(blocked.can_wake_itself());

    LocalApic tpr = enabled_apic();
    ASSERT_TRUE(tpr.write_msr(kMsrX2apicTpr, 0xf0, 0).ok);
    start_timer(tpr, 0, 100, 0xb, 0x41 | kApicLvtTimerPeriodic);
    EXPECT_FALSE(tpr.can_wake_itself()) << "TPR 0xf0 blocks the timer's vector 0x41 forever";
    ASSERT_TRUE(tpr.write_msr(kMsrX2apicTpr, 0x30, 0).ok);
    EXPECT_TRUE(tpr.can_wake_itself());

    LocalApic illegal = enabled_apic();
    start_timer(illegal, 0, 100, 0xb, 0x05 | kApicLvtTimerPeriodic);  // an illegal timer vector
    EXPECT_FALSE(illegal.can_wake_itself());
    EXPECT_FALSE(illegal.expire_timer(100));
    EXPECT_EQ(latch_esr(illegal), kEsrReceiveIllegalVector);
}

}  // namespace
