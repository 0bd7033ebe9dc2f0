// gfp flags and the allocation flags derived from them.
//
// The bits themselves are the ABI's (asi_emu_abi.h), because the allocation tracepoint
// reports them to the oracle. The composite masks follow Linux's include/linux/gfp_types.h
// reduced to the bits this guest has; the series "mm: ASI direct map management" (patch
// "mm/page_alloc: add __GFP_SENSITIVE and always set it") adds __GFP_SENSITIVE to GFP_USER.
#pragma once
#include <stdint.h>

#include "../../abi/asi_emu_abi.h"
#include "freetype.h"

namespace page_alloc {

using gfp_t = uint64_t;

constexpr gfp_t kGfpDirectReclaim = asi_abi::kGfpDirectReclaim;  // __GFP_DIRECT_RECLAIM
constexpr gfp_t kGfpSensitive = asi_abi::kGfpSensitive;          // __GFP_SENSITIVE
constexpr gfp_t kGfpZero = asi_abi::kGfpZero;                    // __GFP_ZERO
constexpr gfp_t kGfpMovable = asi_abi::kGfpMovable;              // __GFP_MOVABLE
constexpr gfp_t kGfpReclaimable = asi_abi::kGfpReclaimable;      // __GFP_RECLAIMABLE
constexpr gfp_t kGfpKnownMask =
    kGfpDirectReclaim | kGfpSensitive | kGfpZero | kGfpMovable | kGfpReclaimable;

// GFP_KERNEL: may sleep (direct reclaim), so it may wait for a TLB shootdown.
constexpr gfp_t GFP_KERNEL = kGfpDirectReclaim;
// GFP_ATOMIC: never sleeps (Linux: __GFP_HIGH | __GFP_KSWAPD_RECLAIM, no direct reclaim).
constexpr gfp_t GFP_ATOMIC = 0;
// GFP_USER: user data, sensitive by default in the series.
constexpr gfp_t GFP_USER = kGfpDirectReclaim | kGfpSensitive;
constexpr gfp_t GFP_HIGHUSER_MOVABLE = GFP_USER | kGfpMovable;

// Linux rejects (VM_WARN) __GFP_MOVABLE | __GFP_RECLAIMABLE together; so do we, and unknown
// bits as well: the free tracepoint must be able to replay the allocation's flags.
constexpr bool gfp_valid(gfp_t gfp) {
    return (gfp & ~kGfpKnownMask) == 0 &&
           (gfp & (kGfpMovable | kGfpReclaimable)) != (kGfpMovable | kGfpReclaimable);
}

// gfp_migratetype().
constexpr Migratetype gfp_migratetype(gfp_t gfp) {
    if (gfp & kGfpMovable) return Migratetype::kMovable;
    if (gfp & kGfpReclaimable) return Migratetype::kReclaimable;
    return Migratetype::kUnmovable;
}

constexpr Sensitivity gfp_sensitivity(gfp_t gfp) {
    return (gfp & kGfpSensitive) ? Sensitivity::kSensitive : Sensitivity::kNonsensitive;
}

// Internal allocation flags (mm/internal.h ALLOC_*).
enum AllocFlags : uint32_t {
    // ALLOC_NOBLOCK (series patch "mm/page_alloc: introduce ALLOC_NOBLOCK"): set when the
    // caller lacks __GFP_DIRECT_RECLAIM, i.e. it may run with interrupts off or under a
    // spinlock. Such a caller may not wait for a TLB shootdown, so it may not change a
    // pageblock to sensitive (unmap + flush). Changing one to nonsensitive (zero + map, no
    // flush) stays allowed, as in the series.
    kAllocNoBlock = 1u << 0,
};

constexpr uint32_t alloc_flags_for(gfp_t gfp) {
    return (gfp & kGfpDirectReclaim) ? 0u : static_cast<uint32_t>(kAllocNoBlock);
}

}  // namespace page_alloc
