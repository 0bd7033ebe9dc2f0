// asi.bug=NAME: deliberate ASI mistakes for the leak oracle's tests, one per boot, like
// Linux's fault-injection and debug knobs. Each commits exactly one mistake; the rest of
// the kernel stays correct, and the workload's warm-up (kernel/workload_run.cpp) reaches
// the mistake within the first operations of a default run, after the restricted space has
// been entered (so that the CPU may cache restricted translations).
//
//   unmap-no-flush           a pageblock turned sensitive is unmapped from the restricted
//                            direct map but no TLB flush follows                    -> R2
//   flush-wrong-pcid         that flush is an INVLPG with the unrestricted PCID loaded:
//                            the restricted PCID keeps its translations             -> R2
//   global-restricted        CR4.PGE=1 and the restricted direct map's entries get G=1,
//                            which no INVPCID type 0/1 removes                      -> R3
//   map-before-zero          a pageblock turned nonsensitive is mapped before the frames
//                            that held secrets are zeroed                           -> R4
//   free-table-before-flush  a page-table page of the restricted map (a 2 MiB mapping split
//                            by set_memory_ro) goes back to the allocator before the flush
//                            that drops paging-structure-cache entries pointing to it -> R5
// asi.l1tf_invert=off is the sixth (R6 under asi-emu's --cpu-profile l1tf).
//
// TLB shootdown (mm/tlb_shootdown.h; only meaningful with several CPUs, --smp N). The warm-up
// (kernel/asi_warmup.h) flips a pageblock to sensitive while the other CPUs are inside ASI
// with its translations cached, and another while they are outside, then lets them re-enter:
//   shootdown-local-only     the flush of a pageblock turned sensitive reaches this CPU only:
//                            no IPI, no generation bump                  -> R2 (remote vCPU)
//   shootdown-skip-inside    no IPI to the CPUs inside ASI (the generation still moves, so
//                            only their next entry would flush)          -> R2 (remote vCPU)
//   shootdown-skip-outside   CPUs outside ASI are recorded as flushed instead of being left
//                            to flush at their next entry: they re-enter with a no-flush
//                            CR3 load                                     -> R2 (remote vCPU)
#pragma once
#include <stdint.h>

#include "lib/cmdline.h"

namespace asi {

enum class Bug : uint8_t {
    kNone,
    kUnmapNoFlush,
    kFlushWrongPcid,
    kGlobalRestricted,
    kMapBeforeZero,
    kFreeTableBeforeFlush,
    kShootdownLocalOnly,
    kShootdownSkipInside,
    kShootdownSkipOutside,
};

const char* bug_name(Bug bug);
// False for an unknown name.
bool parse_bug(StringView name, Bug* out);

// The mistake this boot commits (kNone unless asi.bug= was given).
Bug injected_bug();
void set_injected_bug(Bug bug);
inline bool bug(Bug b) { return injected_bug() == b; }

}  // namespace asi
