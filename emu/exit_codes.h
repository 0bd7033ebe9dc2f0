// asi-emu's process exit codes (DESIGN section 8). Below 100: CLI11 uses 100+, libFuzzer 77.
#pragma once

namespace emu {

enum ExitCode : int {
    kExitOk = 0,               // guest wrote 0 to isa-debug-exit
    kExitGuestFailure = 1,     // guest wrote a non-zero value (e.g. a failed self-test)
    kExitOracleViolation = 2,  // the leak oracle found a violation
    kExitGuestCrash = 3,       // triple fault, unhandled exception, guest hang, forbidden access
    kExitLimitReached = 4,     // --max-insns reached (runaway guest)
    kExitBadInput = 5,         // malformed image, bad options, corrupt trace
    kExitInternalError = 6,    // asi-emu itself failed (including a failed start-up self-test)
};

constexpr const char* kExitCodeHelp =
    "Exit codes:\n"
    "  0  the guest exited with value 0\n"
    "  1  the guest exited with a non-zero value (a self-test failed)\n"
    "  2  the leak oracle reported a violation\n"
    "  3  the guest crashed (triple fault, unhandled exception, forbidden access, hang)\n"
    "  4  the instruction limit (--max-insns) was reached\n"
    "  5  bad input (malformed ELF image, bad option, corrupt trace)\n"
    "  6  internal error in asi-emu\n";

}  // namespace emu
