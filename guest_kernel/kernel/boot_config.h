// The boot options this kernel understands besides test= and lkdtm= (DESIGN 3), parsed once
// from the command line. An invalid value of a known option ends the boot with a message;
// unknown options are ignored, as Linux ignores unknown parameters.
//
//   asi=on|off                     Address Space Isolation (default on)
//   asi.policy=freetype|rfc        the page allocator's ASI design (default freetype)
//   asi.l1tf_invert=on|off         invert the frame number of not-present restricted
//                                  entries (default on)
//   asi.bug=NAME                   commit one deliberate ASI mistake (mm/asi/fault_injection.h)
//   workload=mixed|flip-storm|kernel-heavy|user-heavy   (default mixed)
//   ops=N                          workload operations (default kDefaultOps)
//   seed=S                         workload seed (default: the boot-info rng seed)
//   nopcid, noinvpcid              ignore the CPU's PCID / INVPCID (Linux's options)
//   lapic_timer, nolapic_timer     with / without a periodic tick from the local APIC
//                                  timer (default with; without, idle CPUs wake on IPIs only)
//   fuzz                           the in-emulator fuzzer's mode instead of the workload
//                                  (fuzz/fuzz_mode.h, asi_emu_abi.h "In-emulator fuzzing")
//   fuzz.program=HEX               with fuzz: the program to run when the host wrote none
//                                  (two hex digits a byte, at most kFuzzProgramMax bytes)
#pragma once
#include <stdint.h>

#include "mm/asi/fault_injection.h"
#include "workload/workload.h"

namespace config {

enum class Policy : uint8_t { kFreetype, kRfc };

// The mixed workload's 20000 operations take 2-3 s on asi-emu with the oracle on. The
// oracle's check at each restricted entry can grow with the live sensitive and residue
// frames, so longer runs may cost more than proportionally (50000: 5-18 s, depending on
// the asi-emu version).
constexpr uint64_t kDefaultOps = 20000;

struct BootConfig {
    bool asi = true;
    Policy policy = Policy::kFreetype;
    bool l1tf_invert = true;
    asi::Bug bug = asi::Bug::kNone;
    workload::WorkloadKind workload = workload::kDefaultWorkload;
    uint64_t ops = kDefaultOps;
    uint64_t seed = 0;
    bool nopcid = false;
    bool noinvpcid = false;
    bool lapic_timer = true;
    bool fuzz = false;
    // fuzz.program's value, inside the boot command line (validated: an even number of hex
    // digits); nullptr when absent.
    const char* fuzz_program_hex = nullptr;
    uint32_t fuzz_program_hex_length = 0;
};

const char* policy_name(Policy p);

// Parses `cmdline` into *out (defaults first; seed defaults to `default_seed`). On an
// invalid value returns false with a message in err.
bool parse(const char* cmdline, uint64_t default_seed, BootConfig* out, char* err, uint32_t err_size);

}  // namespace config
