// libFuzzer target: the boot loader's ELF reader (emu/elf_loader.h) on arbitrary bytes.
//
// The input is a kernel image for a guest with kRamSize bytes of RAM. parse_elf may reject
// it with an ElfError (or FileError); any other exception, crash or sanitizer report is a
// finding. When it parses, the promises of emu/elf_image.h are checked (each violation
// traps): every segment has mem_size > 0, file bytes inside the file, file_size <= mem_size,
// a physical range inside RAM; segments are sorted by paddr and overlap neither physically
// nor virtually; the entry lies in an executable segment; content_hash is FNV-1a of the
// file. Then load_segments copies the image into RAM, which must succeed and leave each
// segment's file bytes followed by zeroes, and a mismatched call (a shorter file, a
// smaller RAM) may only throw ElfError. symbolize() runs on the entry and on every symbol.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <vector>

#include "emu/elf_loader.h"

namespace {

constexpr uint64_t kRamSize = 4ull << 20;  // fixed; 1 MiB-based test images fit

[[noreturn]] void fail(const char* what, unsigned long long a = 0) {
    std::fprintf(stderr, "elf_loader_fuzzer: VIOLATION: %s (0x%llx)\n", what, a);
    std::fflush(stderr);
    __builtin_trap();
}

// Reused across inputs: load_segments writes only the segments' ranges, which are checked.
std::vector<uint8_t>& ram() {
    static std::vector<uint8_t> r(kRamSize);
    return r;
}

void check_image(const emu::ElfImage& img, std::span<const uint8_t> file) {
    if (img.segments.empty()) fail("parsed image without segments");
    if (img.content_hash != emu::fnv1a64(file)) fail("content_hash is not FNV-1a of the file");
    bool entry_ok = false;
    for (size_t i = 0; i < img.segments.size(); ++i) {
        const emu::ElfSegment& s = img.segments[i];
        if (s.mem_size == 0) fail("segment with mem_size 0", i);
        if (s.file_size > s.mem_size) fail("segment file_size > mem_size", i);
        if (s.file_offset > file.size() || s.file_size > file.size() - s.file_offset)
            fail("segment file bytes past the end of the file", i);
        if (s.paddr > kRamSize || s.mem_size > kRamSize - s.paddr)
            fail("segment outside RAM", s.paddr);
        uint64_t end;
        if (__builtin_add_overflow(s.vaddr, s.mem_size, &end))
            fail("segment vaddr range overflows", s.vaddr);
        if (s.writable && s.executable) fail("writable and executable segment", s.vaddr);
        if (i > 0 && img.segments[i - 1].paddr > s.paddr)
            fail("segments not sorted by paddr", s.paddr);
        for (size_t j = 0; j < i; ++j) {
            const emu::ElfSegment& o = img.segments[j];
            if (s.paddr < o.paddr + o.mem_size && o.paddr < s.paddr + s.mem_size)
                fail("segments overlap physically", s.paddr);
            if (s.vaddr < o.vaddr + o.mem_size && o.vaddr < s.vaddr + s.mem_size)
                fail("segments overlap virtually", s.vaddr);
        }
        if (s.executable && img.entry >= s.vaddr && img.entry - s.vaddr < s.mem_size)
            entry_ok = true;
    }
    if (!entry_ok) fail("entry outside every executable segment", img.entry);
}

// Whether [p, p + n) is all zero: memcmp against a zero block, because a segment's tail can
// be megabytes and a byte loop would be instrumented byte by byte.
bool all_zero(const uint8_t* p, uint64_t n) {
    static const uint8_t zero[4096] = {};
    while (n > 0) {
        const size_t k = n < sizeof zero ? static_cast<size_t>(n) : sizeof zero;
        if (std::memcmp(p, zero, k) != 0) return false;
        p += k;
        n -= k;
    }
    return true;
}

void check_loaded(const emu::ElfImage& img, std::span<const uint8_t> file,
                  const std::vector<uint8_t>& r) {
    for (const emu::ElfSegment& s : img.segments) {
        if (s.file_size != 0 &&
            std::memcmp(r.data() + s.paddr, file.data() + s.file_offset, s.file_size) != 0)
            fail("segment file bytes not copied", s.paddr);
        if (!all_zero(r.data() + s.paddr + s.file_size, s.mem_size - s.file_size))
            fail("segment tail not zeroed", s.paddr);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> file(data, size);
    emu::ElfImage img;
    try {
        img = emu::parse_elf(file, kRamSize);
    } catch (const emu::ElfError&) {
        return 0;
    } catch (const emu::FileError&) {
        return 0;
    }
    check_image(img, file);

    std::vector<uint8_t>& r = ram();
    try {
        emu::load_segments(img, file, r);
    } catch (const emu::ElfError& e) {
        std::fprintf(stderr, "load_segments: %s\n", e.what());
        fail("load_segments rejected an image parse_elf accepted");
    }
    check_loaded(img, file, r);

    // Mismatched calls: only ElfError may come out (the loader re-checks before writing).
    try {
        emu::load_segments(img, file.first(size / 2), r);
    } catch (const emu::ElfError&) {
    }
    try {
        emu::load_segments(img, file, std::span<uint8_t>(r).first(kRamSize / 2));
    } catch (const emu::ElfError&) {
    }

    (void)img.symbolize(img.entry);
    for (const emu::ElfSymbol& s : img.symbols) {
        (void)img.symbolize(s.value);
        if (s.size != 0) (void)img.symbolize(s.value + s.size - 1);
    }
    return 0;
}
