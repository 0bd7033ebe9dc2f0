// ASI_GUEST_PLANTED_BUG: a deliberate leak for the in-emulator fuzzer's acceptance test
// (guest_kernel/fuzz/). Only asi-guest-planted.elf is compiled with it set to 1
// (guest_kernel/CMakeLists.txt); the default image, the host tests and the freestanding check
// see 0, and with 0 this header defines nothing else.
//
// The bug: when the freetype policy makes pageblocks nonsensitive (policy_freetype.h, step
// 2a), the frames that were last handed out by a sensitive allocation of order >=
// kPlantedMinOrder are not zeroed -- their kSecret bit is cleared as if they had been. Such a
// frame that still holds the secret its owner wrote is then mapped in the restricted direct
// map: the oracle's R4 (residue). Frames of sensitive allocations of orders 0-2 are zeroed
// as before, so no program without a sensitive allocation of order >= 3 that is written,
// freed and then changed to nonsensitive can reach it.
//
// Bookkeeping: Page::flags bit 8 (unused otherwise), meaningful only together with kSecret:
// set at a sensitive hand-out of order >= kPlantedMinOrder, cleared at any other sensitive
// hand-out.
#pragma once
#include <stdint.h>

#include "page.h"

#ifndef ASI_GUEST_PLANTED_BUG
#define ASI_GUEST_PLANTED_BUG 0
#endif

#if ASI_GUEST_PLANTED_BUG
namespace page_alloc::planted {

constexpr uint32_t kPlantedMinOrder = 3;
constexpr uint16_t kLargeSecret = 1u << 8;
static_assert((kLargeSecret & (Page::kStateMask | Page::kSecret | Page::kListMask)) == 0);

// At a sensitive hand-out, for each frame of the block.
inline void note_sensitive_handout(Page& p, uint32_t order) {
    p.flags = static_cast<uint16_t>(order >= kPlantedMinOrder ? (p.flags | kLargeSecret)
                                                              : (p.flags & ~kLargeSecret));
}

// Whether the change to nonsensitive skips zeroing this frame.
inline bool skips_zeroing(const Page& p) { return p.secret() && (p.flags & kLargeSecret) != 0; }

}  // namespace page_alloc::planted
#endif
