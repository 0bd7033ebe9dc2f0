// --smp: IPIs through the x2APIC ICR, the APIC timer on a parked vCPU (time jumps), hang
// detection, PAUSE ending the slice, deterministic traces, option checks. The images are in
// images/smp_*.S; each check has a run that triggers it and one that must not.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "emu/exit_codes.h"
#include "tests/integration/process_runner.h"

using testutil::json_field;
using testutil::run_asi_emu;
using testutil::test_image;
using testutil::vcpu_counter;
using testutil::json_number;
using testutil::per_vcpu_json;

namespace {

// Runs that could spin forever if hang detection broke are given this long, then killed.
constexpr int kTimeout = 60;


// The "detail" string (json_field stops at the first comma, and details have commas).
std::string detail(const testutil::ProcessResult& r) {
    const std::string key = "\"detail\": \"";
    const auto p = r.out.find(key);
    if (p == std::string::npos) return "";
    std::string d;
    for (size_t i = p + key.size(); i < r.out.size() && r.out[i] != '"'; ++i) {
        if (r.out[i] == '\\' && i + 1 < r.out.size()) ++i;
        d += r.out[i];
    }
    return d;
}

void expect_outcome(const testutil::ProcessResult& r, int code, const std::string& outcome) {
    EXPECT_EQ(r.signal, 0) << "asi-emu was killed (hang?) " << r.err;
    EXPECT_EQ(r.exit_code, code) << r.out << r.err;
    EXPECT_EQ(json_field(r.out, "outcome"), "\"" + outcome + "\"") << r.out;
}


class SmpIpi : public ::testing::TestWithParam<unsigned> {};

}  // namespace

// ---- IPIs -----------------------------------------------------------------------------------

TEST_P(SmpIpi, EveryApplicationProcessorTakesItsIpi) {
    const unsigned n = GetParam();
    auto r = run_asi_emu({"run", test_image("smp_ipi"), "--smp", std::to_string(n), "--json"}, kTimeout);
    expect_outcome(r, emu::kExitOk, "guest-exit");
    EXPECT_EQ(json_field(r.out, "guest_exit_value"), "0");
    EXPECT_EQ(json_number(r.out, "vcpus"), n);
    EXPECT_EQ(json_number(r.out, "ipis_sent"), n - 1);
    EXPECT_EQ(json_number(r.out, "ipis_received"), n - 1);
    EXPECT_EQ(vcpu_counter(r.out, 0, "ipis_sent"), n - 1);
    EXPECT_EQ(vcpu_counter(r.out, 0, "interrupts"), 0u) << "the BSP sends, it receives nothing";
    for (unsigned k = 1; k < n; ++k) {
        SCOPED_TRACE("vCPU " + std::to_string(k));
        EXPECT_GE(vcpu_counter(r.out, k, "interrupts"), 1u);
        EXPECT_EQ(vcpu_counter(r.out, k, "ipis_received"), 1u);
        EXPECT_EQ(vcpu_counter(r.out, k, "ipis_sent"), 0u);
        EXPECT_GE(vcpu_counter(r.out, k, "halts"), 1u);
        EXPECT_GT(vcpu_counter(r.out, k, "idle_ticks"), 0u) << "parked by HLT while it waited";
    }
    EXPECT_EQ(per_vcpu_json(r.out, n), "") << "no vCPU beyond --smp";
}

INSTANTIATE_TEST_SUITE_P(Smp, SmpIpi, ::testing::Values(2u, 4u));

TEST(Smp, SingleVcpuSendsNoIpi) {
    auto r = run_asi_emu({"run", test_image("smp_ipi"), "--json"}, kTimeout);
    expect_outcome(r, emu::kExitOk, "guest-exit");
    EXPECT_EQ(json_number(r.out, "vcpus"), 1u);
    EXPECT_EQ(json_number(r.out, "ipis_sent"), 0u);
    EXPECT_EQ(json_number(r.out, "interrupts"), 0u);
    EXPECT_EQ(per_vcpu_json(r.out, 1), "");
}

TEST(Smp, BroadcastToSixtyFourVcpus) {
    // The largest machine: --smp 64 is accepted and every AP takes its IPI.
    auto r = run_asi_emu({"run", test_image("smp_ipi"), "--smp", "64", "--json"}, kTimeout);
    expect_outcome(r, emu::kExitOk, "guest-exit");
    EXPECT_EQ(json_number(r.out, "ipis_sent"), 63u);
    EXPECT_EQ(json_number(r.out, "interrupts"), 63u);
    EXPECT_EQ(vcpu_counter(r.out, 63, "interrupts"), 1u);
}

TEST(Smp, ApsWithInterruptsOffNeverTakeTheIpiAndTheSpinningBspHitsTheLimit) {
    // The APs wait with `cli; hlt`: the IPI stays in their IRR. The BSP spins (PAUSE) forever
    // waiting for them, so only --max-insns ends the run.
    auto r = run_asi_emu({"run", test_image("smp_ipi_cli"), "--smp", "2", "--max-insns", "1000000", "--json"},
                         kTimeout);
    expect_outcome(r, emu::kExitLimitReached, "insn-limit");
    EXPECT_NE(detail(r).find("instruction limit 1000000"), std::string::npos) << r.out;
    EXPECT_EQ(json_number(r.out, "ipis_sent"), 1u);
    EXPECT_EQ(vcpu_counter(r.out, 1, "ipis_received"), 1u) << "accepted into the IRR";
    EXPECT_EQ(vcpu_counter(r.out, 1, "interrupts"), 0u) << "but never taken with IF=0";
    EXPECT_GE(vcpu_counter(r.out, 1, "halts"), 1u);
    EXPECT_GT(vcpu_counter(r.out, 0, "pause_exits"), 0u);
}

TEST(Smp, EveryVcpuParkedWithNothingToWakeItIsAHang) {
    // As above, but the BSP waits with `sti; hlt`: every vCPU parks, none can ever wake.
    auto r = run_asi_emu({"run", test_image("smp_ipi_park"), "--smp", "2", "--json"}, kTimeout);
    expect_outcome(r, emu::kExitGuestCrash, "guest-halted");
    const std::string d = detail(r);
    EXPECT_NE(d.find("every vCPU is parked"), std::string::npos) << d;
    EXPECT_NE(d.find("nothing can wake"), std::string::npos) << d;
    EXPECT_NE(d.find("vCPU 0 (IF=1"), std::string::npos) << d;
    EXPECT_NE(d.find("vCPU 1 (IF=0)"), std::string::npos) << d;
    EXPECT_EQ(vcpu_counter(r.out, 1, "ipis_received"), 1u);
    EXPECT_EQ(json_number(r.out, "interrupts"), 0u);
}

// ---- Timer ----------------------------------------------------------------------------------

TEST(Smp, PeriodicTimerWakesTheParkedBspByTimeJumps) {
    // CPU 1 parks for good (IF=0); CPU 0 waits for 5 ticks with `sti; hlt`. While both are
    // parked, time jumps to CPU 0's timer deadline.
    auto r = run_asi_emu({"run", test_image("smp_timer"), "--smp", "2", "--json"}, kTimeout);
    expect_outcome(r, emu::kExitOk, "guest-exit");
    EXPECT_GE(json_number(r.out, "timer_interrupts"), 5u);
    EXPECT_GE(vcpu_counter(r.out, 0, "timer_interrupts"), 5u);
    EXPECT_GE(vcpu_counter(r.out, 0, "interrupts"), 5u);
    EXPECT_EQ(vcpu_counter(r.out, 1, "timer_interrupts"), 0u) << "CPU 1 never programmed its timer";
    EXPECT_EQ(vcpu_counter(r.out, 1, "interrupts"), 0u);
    EXPECT_GE(json_number(r.out, "time_jumps"), 1u);
    // 5 periods of 50000 ticks at divide 1 passed on CPU 0's clock, nearly all of it idle.
    EXPECT_GE(vcpu_counter(r.out, 0, "instructions") + vcpu_counter(r.out, 0, "idle_ticks"), 250000u);
    EXPECT_LT(vcpu_counter(r.out, 0, "instructions"), 1000u);
}

TEST(Smp, PeriodicTimerOnASingleVcpuNeedsNoTimeJump) {
    auto r = run_asi_emu({"run", test_image("smp_timer"), "--json"}, kTimeout);
    expect_outcome(r, emu::kExitOk, "guest-exit");
    EXPECT_GE(json_number(r.out, "timer_interrupts"), 5u);
    EXPECT_EQ(json_number(r.out, "time_jumps"), 0u) << "one vCPU sleeps to its deadline inside its turn";
    EXPECT_GE(json_number(r.out, "idle_ticks"), 200000u);
}

TEST(Smp, MaskedTimerNeverWakesTheBsp) {
    for (const char* n : {"1", "2"}) {
        SCOPED_TRACE(std::string("--smp ") + n);
        auto r = run_asi_emu({"run", test_image("smp_timer_masked"), "--smp", n, "--json"}, kTimeout);
        expect_outcome(r, emu::kExitGuestCrash, "guest-halted");
        EXPECT_EQ(json_number(r.out, "timer_interrupts"), 0u);
        EXPECT_EQ(json_number(r.out, "time_jumps"), 0u) << "a masked timer is no reason to jump";
        EXPECT_NE(detail(r).find("wake"), std::string::npos) << detail(r);
    }
}

TEST(Smp, TimerBlockedByAMissingEoiIsAHangNotAHostSpin) {
    // The handler never writes the EOI: from the second tick on, the timer vector is blocked
    // behind its own ISR bit. Nothing can wake CPU 0; asi-emu must say so, not jump from
    // deadline to deadline forever (it did, --max-insns or not: a parked vCPU never reached it).
    for (const char* n : {"1", "2"}) {
        SCOPED_TRACE(std::string("--smp ") + n);
        auto r = run_asi_emu({"run", test_image("smp_timer_no_eoi"), "--smp", n, "--max-insns", "10000000", "--json"},
                             kTimeout);
        expect_outcome(r, emu::kExitGuestCrash, "guest-halted");
        EXPECT_EQ(vcpu_counter(r.out, 0, "interrupts"), 1u) << "the first tick only";
        EXPECT_NE(detail(r).find("wake"), std::string::npos) << detail(r);
    }
}

// ---- Hang detection -----------------------------------------------------------------------

TEST(Smp, HaltImageOnTwoVcpusIsAHang) {
    auto r = run_asi_emu({"run", test_image("halt"), "--smp", "2", "--json"}, kTimeout);
    expect_outcome(r, emu::kExitGuestCrash, "guest-halted");
    const std::string d = detail(r);
    EXPECT_NE(d.find("every vCPU is parked"), std::string::npos) << d;
    EXPECT_NE(d.find("vCPU 0 (IF=0)"), std::string::npos) << d;
    EXPECT_NE(d.find("vCPU 1 (IF=0)"), std::string::npos) << d;
    EXPECT_EQ(json_number(r.out, "vcpus"), 2u);
    EXPECT_EQ(vcpu_counter(r.out, 1, "halts"), 1u);
}

TEST(Smp, IdleVcpusWithNoInterruptSourceAreAHang) {
    // `sti; hlt` everywhere, no timer, no IPI.
    auto r = run_asi_emu({"run", test_image("smp_idle"), "--smp", "2", "--json"}, kTimeout);
    expect_outcome(r, emu::kExitGuestCrash, "guest-halted");
    const std::string d = detail(r);
    EXPECT_NE(d.find("nothing can wake"), std::string::npos) << d;
    EXPECT_NE(d.find("vCPU 1 (IF=1"), std::string::npos) << d;
    // One vCPU: the same hang, named after the HLT that parked it.
    auto one = run_asi_emu({"run", test_image("smp_idle"), "--json"}, kTimeout);
    expect_outcome(one, emu::kExitGuestCrash, "guest-halted");
    EXPECT_NE(detail(one).find("nothing left that could wake it (parked by hlt at 0x"), std::string::npos)
        << detail(one);
}

TEST(Smp, SingleVcpuHangNamesTheHlt) {
    auto r = run_asi_emu({"run", test_image("halt"), "--json"}, kTimeout);
    expect_outcome(r, emu::kExitGuestCrash, "guest-halted");
    EXPECT_NE(detail(r).find("interrupts disabled (parked by hlt at 0xffffffff80200001)"), std::string::npos)
        << detail(r);
}

// ---- PAUSE ----------------------------------------------------------------------------------

TEST(Smp, PauseEndsTheSliceOfTheSpinningBsp) {
    auto r = run_asi_emu({"run", test_image("smp_ipi"), "--smp", "2", "--json"}, kTimeout);
    expect_outcome(r, emu::kExitOk, "guest-exit");
    EXPECT_GT(vcpu_counter(r.out, 0, "pause_exits"), 0u);
    EXPECT_EQ(vcpu_counter(r.out, 1, "pause_exits"), 0u) << "the AP never executes PAUSE";
}

TEST(Smp, PauseEndsTheSliceOnlyWhenAnotherVcpuExists) {
    auto two = run_asi_emu({"run", test_image("smp_pause"), "--smp", "2", "--json"}, kTimeout);
    expect_outcome(two, emu::kExitOk, "guest-exit");
    EXPECT_EQ(vcpu_counter(two.out, 0, "pause_exits"), 1000u);
    EXPECT_GE(vcpu_counter(two.out, 0, "slices"), 1000u);
    auto one = run_asi_emu({"run", test_image("smp_pause"), "--json"}, kTimeout);
    expect_outcome(one, emu::kExitOk, "guest-exit");
    EXPECT_EQ(json_number(one.out, "pause_exits"), 0u) << "alone, PAUSE is a NOP";
    EXPECT_EQ(json_number(one.out, "idle_ticks"), 0u);
}

// Unicorn 2.0.1 drops the translation at the `until` address whenever uc_emu_start returns,
// and that lookup, when it misses, writes CR2. A #PF handler that loses its slice before it
// reads CR2 must still read its own fault address.
TEST(Smp, Cr2SurvivesTheEndOfASlice) {
    auto r = run_asi_emu({"run", test_image("smp_cr2_across_slices"), "--smp", "2", "--json"}, kTimeout);
    EXPECT_EQ(r.signal, 0) << r.err;
    EXPECT_EQ(r.exit_code, emu::kExitOk) << "the handler read a CR2 other than its fault address\n" << r.out;
    EXPECT_GE(vcpu_counter(r.out, 0, "pause_exits"), 2u) << "the handler's PAUSEs must end its slice";
    EXPECT_EQ(json_number(r.out, "stale_exception_resets"), 0u);
}

// ---- Determinism and the trace ------------------------------------------------------------

TEST(Smp, RunsAreByteIdenticalAndTheTraceShowsTheSchedule) {
    const std::string a = testutil::temp_path("a.trace"), b = testutil::temp_path("b.trace"), c = testutil::temp_path("c.trace");
    const std::vector<std::string> run{"run", test_image("smp_ipi"), "--smp", "4", "--json", "--trace"};
    auto with = [](std::vector<std::string> v, const std::vector<std::string>& more) {
        v.insert(v.end(), more.begin(), more.end());
        return v;
    };
    auto ra = run_asi_emu(with(run, {a}), kTimeout);
    auto rb = run_asi_emu(with(run, {b}), kTimeout);
    auto rc = run_asi_emu(with(run, {c, "--quantum", "100"}), kTimeout);
    expect_outcome(ra, emu::kExitOk, "guest-exit");
    expect_outcome(rb, emu::kExitOk, "guest-exit");
    expect_outcome(rc, emu::kExitOk, "guest-exit");
    const std::string ta = testutil::read_file(a), tb = testutil::read_file(b), tc = testutil::read_file(c);
    ASSERT_FALSE(ta.empty());
    EXPECT_TRUE(ta == tb) << "two runs of the same machine wrote different traces";
    EXPECT_EQ(ra.out, rb.out) << "and different counters";
    EXPECT_FALSE(ta == tc) << "another --quantum is another schedule, which the trace records";

    auto d = run_asi_emu({"dump", a}, kTimeout);
    EXPECT_EQ(d.exit_code, emu::kExitOk) << d.err;
    for (const char* kind : {" slice: ", " ipi: ", " interrupt: ", " halt: "})
        EXPECT_NE(d.out.find(kind), std::string::npos) << "no" << kind << "event in\n" << d.out.substr(0, 4000);
    EXPECT_NE(d.out.find("4 vCPU(s)"), std::string::npos) << d.out.substr(0, 400);
    EXPECT_NE(d.out.find("IPI vector 0x40 to vCPU 3"), std::string::npos) << d.out.substr(0, 4000);
    EXPECT_NE(d.out.find("vCPU 3 @"), std::string::npos);
    for (const std::string& p : {a, b, c}) std::remove(p.c_str());
}

TEST(Smp, ChromeExportShowsIpisInterruptsAndParkedTime) {
    const std::string t = testutil::temp_path("chrome.trace"), json = testutil::temp_path("chrome.json");
    expect_outcome(run_asi_emu({"run", test_image("smp_ipi"), "--smp", "2", "--trace", t, "--json"}, kTimeout),
                   emu::kExitOk, "guest-exit");
    auto e = run_asi_emu({"export", t, "--format", "chrome", "-o", json}, kTimeout);
    ASSERT_EQ(e.exit_code, emu::kExitOk) << e.err;
    const std::string out = testutil::read_file(json);
    EXPECT_NE(out.find("\"IPI to vCPU 1\""), std::string::npos) << out.substr(0, 2000);
    EXPECT_NE(out.find("\"interrupt\""), std::string::npos);
    EXPECT_NE(out.find("\"parked (hlt)\""), std::string::npos);
    EXPECT_NE(out.find("\"name\": \"vCPU 1\""), std::string::npos);

    const std::string one = testutil::temp_path("chrome-one.trace"), one_json = testutil::temp_path("chrome-one.json");
    expect_outcome(run_asi_emu({"run", test_image("smp_ipi"), "--trace", one, "--json"}, kTimeout), emu::kExitOk,
                   "guest-exit");
    ASSERT_EQ(run_asi_emu({"export", one, "--format", "chrome", "-o", one_json}, kTimeout).exit_code, emu::kExitOk);
    EXPECT_EQ(testutil::read_file(one_json).find("IPI to vCPU"), std::string::npos) << "one vCPU sends no IPI";
    for (const std::string& p : {t, json, one, one_json}) std::remove(p.c_str());
}

TEST(Smp, SingleVcpuTraceHasNoIpi) {
    const std::string t = testutil::temp_path("one.trace");
    auto r = run_asi_emu({"run", test_image("smp_ipi"), "--trace", t, "--json"}, kTimeout);
    expect_outcome(r, emu::kExitOk, "guest-exit");
    auto d = run_asi_emu({"dump", t}, kTimeout);
    EXPECT_EQ(d.exit_code, emu::kExitOk) << d.err;
    EXPECT_EQ(d.out.find(" ipi: "), std::string::npos) << d.out.substr(0, 4000);
    EXPECT_EQ(d.out.find(" interrupt: "), std::string::npos);
    std::remove(t.c_str());
}

// ---- Options ---------------------------------------------------------------------------------

TEST(Smp, OutOfRangeSmpAndQuantumAreBadInput) {
    const std::pair<std::vector<std::string>, std::string> bad[] = {
        {{"--smp", "0"}, "bad --smp"},
        {{"--smp", "65"}, "bad --smp"},
        {{"--quantum", "1"}, "bad --quantum"},
        {{"--quantum", "99"}, "bad --quantum"},
    };
    for (const auto& [opts, message] : bad) {
        SCOPED_TRACE(opts[0] + " " + opts[1]);
        std::vector<std::string> args{"run", test_image("smp_ipi"), "--json"};
        args.insert(args.end(), opts.begin(), opts.end());
        auto r = run_asi_emu(args, kTimeout);
        expect_outcome(r, emu::kExitBadInput, "bad-input");
        EXPECT_NE(detail(r).find(message), std::string::npos) << r.out;
        EXPECT_NE(r.err.find(message), std::string::npos) << "and on stderr: " << r.err;
        // Without --json the message is still there.
        args.erase(args.begin() + 2);
        auto plain = run_asi_emu(args, kTimeout);
        EXPECT_EQ(plain.exit_code, emu::kExitBadInput);
        EXPECT_NE(plain.err.find(message), std::string::npos) << plain.err;
    }
}

TEST(Smp, BoundaryQuantumIsAccepted) {
    auto r = run_asi_emu({"run", test_image("smp_ipi"), "--smp", "2", "--quantum", "100", "--json"}, kTimeout);
    expect_outcome(r, emu::kExitOk, "guest-exit");
    EXPECT_EQ(json_number(r.out, "ipis_sent"), 1u);
}
