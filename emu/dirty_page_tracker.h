// Write tracking of guest RAM for machine snapshots (fuzzing, DESIGN 7): after arm(), every
// 4 KiB page of the region is read-only to the host process; the first write to a page, by
// Unicorn's translated code, by QEMU's page walker (accessed/dirty bits) or by asi-emu itself
// (exception frames, the fuzz program), faults; the SIGSEGV handler saves the page's content
// as it was at arm(), records it and makes it writable. restore() copies the saved pages
// back and protects them again, so a reset costs the pages the run wrote, not the size of
// RAM. The pristine copies live in a lazily populated shadow mapping of the region's size.
//
// A page written in kHotAfter restores in a row (the guest's stack, the program buffer,
// allocator metadata: most inputs write them) becomes hot: it stays writable and restore()
// copies it back every time. A 4 KiB copy costs a fraction of a fault, a signal and two
// mprotect calls (and of the VMA split and merge each mprotect of one page causes). At most
// kMaxHot pages are hot, so a restore stays bounded by what inputs write.
//
// One tracker per process at a time. Faults outside the region go to the handler that was
// installed before (libFuzzer's, ASan's, or the default action).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace emu {

class DirtyPageTracker {
public:
    DirtyPageTracker(uint8_t* base, size_t size);
    ~DirtyPageTracker();
    DirtyPageTracker(const DirtyPageTracker&) = delete;
    DirtyPageTracker& operator=(const DirtyPageTracker&) = delete;

    // The region's current content becomes the snapshot; every page becomes read-only.
    void arm();
    // asi-emu itself is about to write [offset, offset + size) of the region (a string
    // instruction carried out on the host): the pages are saved and made writable here, in
    // one mprotect per run, instead of one fault each.
    void will_write(size_t offset, size_t size);
    // Puts back every page written since arm() or the last restore(), and every hot page;
    // returns how many pages it copied.
    size_t restore();
    size_t dirty_pages() const { return dirty_count_; }
    size_t hot_pages() const { return hot_.size(); }
    size_t pages() const { return pages_; }

    static constexpr uint32_t kHotAfter = 4;
    static constexpr size_t kMaxHot = 256;

private:
    static void on_fault(int sig, void* info, void* context);
    bool handle(uintptr_t address);

    uint8_t* base_;
    size_t size_, pages_;
    uint8_t* pristine_ = nullptr;  // shadow of the region: a page's content at arm()
    std::vector<uint8_t> saved_;   // per page: pristine copy taken
    std::vector<uint8_t> writable_;  // per page: unprotected (dirty this round, or hot)
    std::vector<uint32_t> dirty_;  // pages written since the last restore (preallocated)
    size_t dirty_count_ = 0;
    std::vector<uint32_t> hot_;         // writable pages copied back on every restore
    std::vector<uint32_t> last_dirty_;  // per page: the restore round it was last dirty in
    std::vector<uint8_t> streak_;       // per page: consecutive rounds it was dirty in
    uint32_t round_ = 0;                // restores since arm(), from 1
    bool armed_ = false;
};

}  // namespace emu
