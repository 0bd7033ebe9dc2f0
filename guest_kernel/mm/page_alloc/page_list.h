// An intrusive doubly-linked list of pages (Linux's list_head through struct page::lru),
// linked by page index so the metadata stays position independent (the guest may reach
// it through the direct map, the host through a vector). O(1) push, pop and removal of
// any member, which buddy merging needs.
#pragma once
#include <stdint.h>

#include "page.h"

namespace page_alloc {

struct PageList {
    uint32_t head = kNilIndex;
    uint32_t tail = kNilIndex;
    uint32_t count = 0;

    bool empty() const { return head == kNilIndex; }

    // Newest first, as Linux adds freed pages at the head (they are cache-hot).
    void push_front(Page* pages, uint32_t idx) {
        Page& p = pages[idx];
        p.prev = kNilIndex;
        p.next = head;
        if (head != kNilIndex) pages[head].prev = idx;
        else tail = idx;
        head = idx;
        ++count;
    }

    void push_back(Page* pages, uint32_t idx) {
        Page& p = pages[idx];
        p.next = kNilIndex;
        p.prev = tail;
        if (tail != kNilIndex) pages[tail].next = idx;
        else head = idx;
        tail = idx;
        ++count;
    }

    void remove(Page* pages, uint32_t idx) {
        Page& p = pages[idx];
        if (p.prev != kNilIndex) pages[p.prev].next = p.next;
        else head = p.next;
        if (p.next != kNilIndex) pages[p.next].prev = p.prev;
        else tail = p.prev;
        p.next = p.prev = kNilIndex;
        --count;
    }

    uint32_t pop_front(Page* pages) {
        uint32_t idx = head;
        if (idx != kNilIndex) remove(pages, idx);
        return idx;
    }

    uint32_t pop_back(Page* pages) {
        uint32_t idx = tail;
        if (idx != kNilIndex) remove(pages, idx);
        return idx;
    }
};

}  // namespace page_alloc
