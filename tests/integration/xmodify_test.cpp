// Cross-modifying user code under --smp (SDM vol. 3A 8.1.3; README "SMP"): a frame of user
// code written by another vCPU (through another virtual alias) must drop the translations the
// running vCPU's engine keeps of it, at its next slice start. CPU 1 runs a CPL 3 loop that
// publishes an immediate; CPU 0 changes the immediate (images/xmodify_user_code.S). The near
// misses write only data (a decoy copy of the code, the user data page) or rewrite the code
// with its own bytes: nothing may be invalidated.
#include <gtest/gtest.h>

#include <string>

#include "emu/exit_codes.h"
#include "tests/integration/process_runner.h"

using testutil::json_field;
using testutil::run_asi_emu;
using testutil::test_image;
using testutil::vcpu_counter;
using testutil::json_number;

namespace {

constexpr int kTimeout = 60;


// Guest exit values (see the image's header comment).
std::string exit_value_meaning(const std::string& v) {
    if (v == "1") return "CPU 1 kept running the old user code (or, in a near miss, its result changed)";
    if (v == "2") return "BootInfo cpu_id differs from the x2APIC ID";
    if (v == "3") return "an exception was delivered";
    if (v == "4") return "CPU 1 did not run after CPU 0's write";
    if (v == "5") return "CPU 1's user code never published its first value";
    return "";
}

testutil::ProcessResult run_image(const std::string& image, std::initializer_list<std::string> extra = {}) {
    std::vector<std::string> args = {"run", test_image(image), "--smp", "2", "--json"};
    args.insert(args.end(), extra);
    auto r = run_asi_emu(args, kTimeout);
    EXPECT_EQ(r.signal, 0) << "asi-emu was killed (hang?) " << r.err;
    const std::string v = json_field(r.out, "guest_exit_value");
    EXPECT_EQ(r.exit_code, emu::kExitOk) << exit_value_meaning(v) << "\n" << r.out << r.err;
    EXPECT_EQ(json_field(r.out, "outcome"), "\"guest-exit\"") << r.out;
    EXPECT_EQ(v, "0") << exit_value_meaning(v);
    return r;
}

}  // namespace

TEST(Xmodify, AnotherVcpusWriteToUserCodeDropsTheStaleTranslation) {
    auto r = run_image("xmodify_user_code");
    EXPECT_GE(vcpu_counter(r.out, 1, "code_invalidations"), 1u) << "CPU 1 runs the user code: its engine drops it";
    EXPECT_EQ(vcpu_counter(r.out, 0, "code_invalidations"), 0u) << "CPU 0 never runs user code";
    EXPECT_GE(vcpu_counter(r.out, 1, "slices"), 2u);
    EXPECT_GT(vcpu_counter(r.out, 0, "pause_exits"), 0u) << "CPU 0 waits with PAUSE, giving CPU 1 slices";
    EXPECT_EQ(json_number(r.out, "exceptions_delivered"), 0u);
}

TEST(Xmodify, ShortQuantumStillPicksUpTheNewCode) {
    // The smallest slice: many more slice starts, each of which revalidates; the change is
    // counted once (the hash is updated when the translations are dropped).
    auto r = run_image("xmodify_user_code", {"--quantum", "100"});
    EXPECT_EQ(vcpu_counter(r.out, 1, "code_invalidations"), 1u);
    EXPECT_EQ(vcpu_counter(r.out, 0, "code_invalidations"), 0u);
}

TEST(Xmodify, WritesToDataOnlyInvalidateNothing) {
    // Near miss: the same change, but to a copy of the code in a frame nothing executes, plus
    // a store to the user-visible data page CPU 1 writes its result to.
    auto r = run_image("xmodify_data_only");
    EXPECT_EQ(json_number(r.out, "code_invalidations"), 0u);
    EXPECT_EQ(vcpu_counter(r.out, 1, "code_invalidations"), 0u);
    EXPECT_GE(vcpu_counter(r.out, 1, "slices"), 2u);
}

TEST(Xmodify, RewritingUserCodeWithTheSameBytesInvalidatesNothing) {
    // Near miss: a store into the code frame that leaves its contents as they were.
    auto r = run_image("xmodify_same_bytes");
    EXPECT_EQ(json_number(r.out, "code_invalidations"), 0u);
    EXPECT_EQ(vcpu_counter(r.out, 1, "code_invalidations"), 0u);
}
