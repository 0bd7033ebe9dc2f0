// Page metadata: the allocator's `struct page`, one per 4 KiB frame of the zone's span.
// The caller provides the array (the guest carves it from RAM at boot, host tests use a
// vector); the allocator never allocates memory for itself.
//
// Field encodings (20 bytes per frame, no C bitfields):
//
//   next, prev   uint32  list links, as page indices relative to the zone's base pfn;
//                        kNilIndex ends a list. Valid in states kBuddy, kPcp, kDeferred.
//   owner        uint32  kAllocHead, kDeferred: the owner given at allocation (0 = kernel,
//                        else a process id), reported again by the free tracepoint.
//   gfp          uint32  kAllocHead, kDeferred: the gfp flags given at allocation (every
//                        known flag lives in the low 32 bits; see gfp_valid()).
//   flags        uint16
//       bits 0-3 state (PageState below)
//       bit  4   kSecret: the frame may hold secrets. Set when it is handed out by a
//                __GFP_SENSITIVE allocation, cleared when the allocator zeroes it. A change
//                to nonsensitive (freetype) and a nonsensitive allocation (rfc) zero exactly
//                the frames with this bit before mapping them in the restricted space.
//       bits 5-7 list freetype (kBuddy, kPcp): the list that holds the block.
//       bit  8   only in the planted-bug image (planted_bug.h); unused otherwise
//   order        uint8   kBuddy, kAllocHead, kDeferred, kIsolated: log2 of the block's pages.
//   pageblock    uint8   only in the first page of each pageblock (pfn % 512 == 0): the
//                        pageblock flag word (pageblock-flags.h in Linux):
//       bits 0-1 migratetype
//       bit  2   kPbSensitive: the pageblock is sensitive (absent from the restricted
//                direct map). Series: PB_sensitive, "encode sensitivity in pageblocks".
//       bit  3   kPbPinned: the pageblock is only partly usable (it shares its 2 MiB
//                restricted direct-map entry with memory the allocator does not own, e.g.
//                the kernel image), so its sensitivity never changes. Such a pageblock can
//                never hold a free block of pageblock order, which is what a sensitivity
//                change takes, so the pin needs no extra check on the change path.
//       bit  4   kPbUsable: at least one frame of the pageblock belongs to the zone.
//
// Block invariants (checked by BuddyZone::verify_zone):
//   * a free block of order o is 2^o-aligned, its head is kBuddy and its other pages are
//     kFreeTail; it sits on the free list (o, freetype of its first pageblock);
//   * a free block of order >= kPageblockOrder covers whole pageblocks that all carry the
//     same flag word (buddies of different sensitivity never merge, series rule);
//   * an allocated block's head is kAllocHead, its other pages kAllocTail.
#pragma once
#include <stdint.h>

#include "freetype.h"

namespace page_alloc {

constexpr uint32_t kNilIndex = 0xffffffffu;

enum class PageState : uint8_t {
    kReserved = 0,      // not usable: outside the ranges handed to init; never handed out
    kFreeTail = 1,      // inside a free (or isolated) block, not its head
    kBuddy = 2,         // head of a free block on a buddy free list (PageBuddy)
    kPcp = 3,           // order-0 free page on a per-CPU list
    kAllocHead = 4,     // first page of an allocated block
    kAllocTail = 5,     // other pages of an allocated block
    kDeferred = 6,      // head of a freed block a policy holds back (rfc: not yet unmapped)
    kDeferredTail = 7,  // other pages of such a block
    kIsolated = 8,      // head of a block off every list while the zone lock is dropped
                        // (sensitivity change in flight, or about to be handed out)
};

struct Page {
    uint32_t next = kNilIndex;
    uint32_t prev = kNilIndex;
    uint32_t owner = 0;
    uint32_t gfp = 0;
    uint16_t flags = 0;
    uint8_t order = 0;
    uint8_t pageblock = 0;

    static constexpr uint16_t kStateMask = 0x000f;
    static constexpr uint16_t kSecret = 1u << 4;
    static constexpr uint16_t kListShift = 5;
    static constexpr uint16_t kListMask = 0x7u << kListShift;

    static constexpr uint8_t kPbMigratetypeMask = 0x3;
    static constexpr uint8_t kPbSensitive = 1u << 2;
    static constexpr uint8_t kPbPinned = 1u << 3;
    static constexpr uint8_t kPbUsable = 1u << 4;

    PageState state() const { return static_cast<PageState>(flags & kStateMask); }
    void set_state(PageState s) {
        flags = static_cast<uint16_t>((flags & ~kStateMask) | static_cast<uint16_t>(s));
    }
    bool secret() const { return (flags & kSecret) != 0; }
    void set_secret(bool on) {
        flags = static_cast<uint16_t>(on ? (flags | kSecret) : (flags & ~kSecret));
    }
    Freetype list_freetype() const {
        return Freetype{static_cast<uint8_t>((flags & kListMask) >> kListShift)};
    }
    void set_list_freetype(Freetype ft) {
        flags = static_cast<uint16_t>((flags & ~kListMask) | (ft.value << kListShift));
    }

    // Pageblock flag word accessors (first page of a pageblock only).
    Migratetype pb_migratetype() const {
        return static_cast<Migratetype>(pageblock & kPbMigratetypeMask);
    }
    Sensitivity pb_sensitivity() const {
        return (pageblock & kPbSensitive) ? Sensitivity::kSensitive : Sensitivity::kNonsensitive;
    }
    bool pb_pinned() const { return (pageblock & kPbPinned) != 0; }
    bool pb_usable() const { return (pageblock & kPbUsable) != 0; }
    Freetype pb_freetype() const { return Freetype::make(pb_migratetype(), pb_sensitivity()); }
    void set_pb(Migratetype mt, Sensitivity s) {
        pageblock = static_cast<uint8_t>((pageblock & ~(kPbMigratetypeMask | kPbSensitive)) |
                                         static_cast<uint8_t>(mt) |
                                         (s == Sensitivity::kSensitive ? kPbSensitive : 0));
    }
};
static_assert(sizeof(Page) == 20, "Page layout changed: update the encoding comment");

}  // namespace page_alloc
