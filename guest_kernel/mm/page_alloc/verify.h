// Invariant checks for the page allocator core. The core is compiled both into the guest
// (where Arch::panic prints and ends the run) and into host tests (where the fake Arch
// throws, so a test can expect a panic). It cannot use the guest's VERIFY from
// kernel/panic.h, because the host build has no guest kernel around it, so it has its own
// macro that reports through the Arch policy (SerenityOS's VERIFY, routed like Hedron's
// memory policy).
#pragma once

// Checks stay on in every build: a broken free list or a double free must never be
// silent, least of all in a kernel whose purpose is to find silent mistakes.
// `arch` must have `void panic(const char* file, int line, const char* what)`; in the guest
// it does not return. Host fakes may throw; the code after a failed check is never reached
// in either case.
#define PA_VERIFY(arch, cond)                                             \
    do {                                                                  \
        if (!(cond)) [[unlikely]]                                         \
            (arch).panic(__FILE__, __LINE__, "PA_VERIFY(" #cond ")");     \
    } while (0)

#define PA_VERIFY_NOT_REACHED(arch) (arch).panic(__FILE__, __LINE__, "PA_VERIFY_NOT_REACHED")
