// Fatal errors: print a message and end the run through the debug-exit port with
// asi_abi::kGuestExitFailure.
#pragma once

[[noreturn, gnu::format(printf, 1, 2)]] void panic(const char* fmt, ...);

// An invariant check that stays on in every build (SerenityOS's VERIFY).
#define VERIFY(cond)                                                                 \
    do {                                                                             \
        if (!(cond)) panic("VERIFY(%s) failed at %s:%d", #cond, __FILE__, __LINE__); \
    } while (0)
