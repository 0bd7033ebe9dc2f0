#include "mmu/hex.h"
#include "emu/elf_loader.h"

#include <elf.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <system_error>
#include <tuple>
#include <utility>

namespace emu {
namespace {

// x86-64 ELF files are little-endian (psABI), and fields are copied into glibc's structs
// byte for byte, which is only correct on a little-endian host.
static_assert(std::endian::native == std::endian::little);

// xen/include/public/elfnote.h: "XEN_ELFNOTE_PHYS32_ENTRY: physical address of the 32-bit
// entry point", the PVH boot protocol's entry.
constexpr uint32_t kXenElfnotePhys32Entry = 18;
constexpr char kXenNoteName[] = "Xen";  // n_namesz counts the NUL: 4

using mmu::hex;

std::string dec(uint64_t v) { return std::to_string(v); }

std::string seg(size_t index) { return "segment " + dec(index); }

[[noreturn]] void fail(ElfErrorCode code, std::string detail) {
    throw ElfError(code, std::move(detail));
}

// [offset, offset + len) lies inside a buffer of `size` bytes; never wraps.
bool in_bounds(uint64_t offset, uint64_t len, uint64_t size) {
    uint64_t end;
    return !__builtin_add_overflow(offset, len, &end) && end <= size;
}

// Callers check in_bounds(offset, sizeof(T), file.size()) first.
template <class T>
T read_at(std::span<const uint8_t> file, uint64_t offset) {
    T v;
    std::memcpy(&v, file.data() + offset, sizeof v);
    return v;
}

template <class T>
std::optional<T> try_read_at(std::span<const uint8_t> file, uint64_t offset) {
    if (!in_bounds(offset, sizeof(T), file.size())) return std::nullopt;
    return read_at<T>(file, offset);
}

std::string ident_bytes(std::span<const uint8_t> file) {
    std::string s;
    for (size_t i = 0; i < SELFMAG; ++i) {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%02x", file[i]);
        if (i) s += ' ';
        s += buf;
    }
    return s;
}

Elf64_Ehdr parse_header(std::span<const uint8_t> file) {
    const uint64_t size = file.size();
    if (size < SELFMAG)
        fail(ElfErrorCode::NotElf, "file is " + dec(size) + " bytes, shorter than the ELF magic");
    if (std::memcmp(file.data(), ELFMAG, SELFMAG) != 0)
        fail(ElfErrorCode::NotElf,
             "magic is " + ident_bytes(file) + ", expected 7f 45 4c 46 (\"\\x7fELF\")");
    if (size < EI_NIDENT)
        fail(ElfErrorCode::TruncatedHeader,
             "file is " + dec(size) + " bytes, e_ident needs " + dec(EI_NIDENT));
    if (file[EI_CLASS] != ELFCLASS64)
        fail(ElfErrorCode::WrongClass, "EI_CLASS is " + dec(file[EI_CLASS]) + ", expected " +
                                           dec(ELFCLASS64) + " (ELFCLASS64)");
    if (file[EI_DATA] != ELFDATA2LSB)
        fail(ElfErrorCode::WrongEndianness, "EI_DATA is " + dec(file[EI_DATA]) + ", expected " +
                                                dec(ELFDATA2LSB) + " (ELFDATA2LSB, little-endian)");
    if (file[EI_VERSION] != EV_CURRENT)
        fail(ElfErrorCode::WrongVersion,
             "EI_VERSION is " + dec(file[EI_VERSION]) + ", expected " + dec(EV_CURRENT));
    if (size < sizeof(Elf64_Ehdr))
        fail(ElfErrorCode::TruncatedHeader,
             "file is " + dec(size) + " bytes, Elf64_Ehdr needs " + dec(sizeof(Elf64_Ehdr)));

    const auto eh = read_at<Elf64_Ehdr>(file, 0);
    if (eh.e_version != EV_CURRENT)
        fail(ElfErrorCode::WrongVersion,
             "e_version is " + dec(eh.e_version) + ", expected " + dec(EV_CURRENT));
    if (eh.e_machine != EM_X86_64)
        fail(ElfErrorCode::WrongMachine,
             "e_machine is " + dec(eh.e_machine) + ", expected " + dec(EM_X86_64) + " (EM_X86_64)");
    if (eh.e_type != ET_EXEC)
        fail(ElfErrorCode::WrongType,
             "e_type is " + dec(eh.e_type) + ", expected " + dec(ET_EXEC) + " (ET_EXEC)");
    if (eh.e_ehsize != sizeof(Elf64_Ehdr))
        fail(ElfErrorCode::BadHeaderSize,
             "e_ehsize is " + dec(eh.e_ehsize) + ", expected " + dec(sizeof(Elf64_Ehdr)));
    return eh;
}

// A validated PT_LOAD and its program header index, for error messages.
struct IndexedSegment {
    ElfSegment segment;
    size_t index;
};

// The per-PT_LOAD rules; nullopt for a segment that occupies no memory.
std::optional<IndexedSegment> check_load(const Elf64_Phdr& ph, size_t index, uint64_t file_size,
                                         uint64_t ram_size) {
    if (ph.p_filesz > 0 && !in_bounds(ph.p_offset, ph.p_filesz, file_size))
        fail(ElfErrorCode::SegmentDataPastEof, seg(index) + ": offset " + hex(ph.p_offset) +
                                                   " + filesz " + hex(ph.p_filesz) +
                                                   " exceeds file size " + hex(file_size));
    if (ph.p_filesz > ph.p_memsz)
        fail(ElfErrorCode::FileSizeExceedsMemSize,
             seg(index) + ": filesz " + hex(ph.p_filesz) + " exceeds memsz " + hex(ph.p_memsz));
    if (ph.p_memsz == 0) return std::nullopt;

    uint64_t end;
    if (__builtin_add_overflow(ph.p_paddr, ph.p_memsz, &end))
        fail(ElfErrorCode::AddressOverflow, seg(index) + ": paddr " + hex(ph.p_paddr) +
                                                " + memsz " + hex(ph.p_memsz) +
                                                " overflows 64 bits");
    if (__builtin_add_overflow(ph.p_vaddr, ph.p_memsz, &end))
        fail(ElfErrorCode::AddressOverflow, seg(index) + ": vaddr " + hex(ph.p_vaddr) +
                                                " + memsz " + hex(ph.p_memsz) +
                                                " overflows 64 bits");
    if (!in_bounds(ph.p_paddr, ph.p_memsz, ram_size))
        fail(ElfErrorCode::SegmentOutsideRam, seg(index) + ": paddr " + hex(ph.p_paddr) +
                                                  " + memsz " + hex(ph.p_memsz) +
                                                  " exceeds RAM size " + hex(ram_size));
    const bool w = ph.p_flags & PF_W, x = ph.p_flags & PF_X;
    if (w && x)
        fail(ElfErrorCode::WritableExecutableSegment,
             seg(index) + " (vaddr " + hex(ph.p_vaddr) + ", memsz " + hex(ph.p_memsz) +
                 ") is writable and executable: p_flags " + hex(ph.p_flags));

    ElfSegment s;
    s.file_offset = ph.p_filesz > 0 ? ph.p_offset : 0;
    s.file_size = ph.p_filesz;
    s.mem_size = ph.p_memsz;
    s.vaddr = ph.p_vaddr;
    s.paddr = ph.p_paddr;
    s.readable = ph.p_flags & PF_R;
    s.writable = w;
    s.executable = x;
    return IndexedSegment{s, index};
}

// No two segments share an address in the space `addr` selects. Sorts `segs` by that address.
void check_disjoint(std::vector<IndexedSegment>& segs, uint64_t ElfSegment::*addr,
                    const char* space) {
    std::sort(segs.begin(), segs.end(), [&](const IndexedSegment& a, const IndexedSegment& b) {
        return a.segment.*addr < b.segment.*addr;
    });
    for (size_t i = 1; i < segs.size(); ++i) {
        const auto& a = segs[i - 1];
        const auto& b = segs[i];
        // Both ends are known not to overflow (check_load).
        const uint64_t a_end = a.segment.*addr + a.segment.mem_size;
        if (a_end > b.segment.*addr)
            fail(ElfErrorCode::OverlappingSegments,
                 seg(a.index) + " [" + hex(a.segment.*addr) + ", " + hex(a_end) + ") and " +
                     seg(b.index) + " [" + hex(b.segment.*addr) + ", " +
                     hex(b.segment.*addr + b.segment.mem_size) + ") overlap in " + space +
                     " memory");
    }
}

void check_entry(uint64_t entry, const std::vector<IndexedSegment>& segs) {
    std::string executable;
    for (const auto& [s, index] : segs) {
        if (!s.executable) continue;
        if (entry >= s.vaddr && entry - s.vaddr < s.mem_size) return;
        executable += (executable.empty() ? "" : ", ") + seg(index) + " [" + hex(s.vaddr) + ", " +
                      hex(s.vaddr + s.mem_size) + ")";
    }
    fail(ElfErrorCode::EntryOutsideExecutableSegment,
         "e_entry " + hex(entry) + " is not inside an executable segment (" +
             (executable.empty() ? std::string("there is none") : "executable: " + executable) +
             ")");
}

uint64_t align_up(uint64_t v, uint64_t align) { return (v + align - 1) & ~(align - 1); }

// Notes in one PT_NOTE (gABI "Note Section"): each is an Elf64_Nhdr (three 4-byte words),
// then n_namesz bytes of name, then n_descsz bytes of descriptor, name and descriptor each
// padded to the note alignment. That alignment is 4 in practice (the gABI's 8 for ELF64 is
// followed only by notes in segments with p_align == 8, such as .note.gnu.property).
std::optional<uint32_t> find_pvh_entry(std::span<const uint8_t> file, const Elf64_Phdr& ph) {
    if (!in_bounds(ph.p_offset, ph.p_filesz, file.size())) return std::nullopt;
    const auto notes = file.subspan(ph.p_offset, ph.p_filesz);
    const uint64_t align = ph.p_align == 8 ? 8 : 4;
    uint64_t pos = 0;  // relative to the segment start, which is itself aligned
    while (notes.size() - pos >= sizeof(Elf64_Nhdr)) {
        const auto nh = read_at<Elf64_Nhdr>(notes, pos);
        const uint64_t name_at = pos + sizeof(Elf64_Nhdr);
        // n_namesz and n_descsz are 32-bit, so none of these sums can wrap a uint64_t.
        const uint64_t desc_at = align_up(name_at + nh.n_namesz, align);
        const uint64_t desc_end = desc_at + nh.n_descsz;
        if (desc_end > notes.size()) return std::nullopt;
        if (nh.n_type == kXenElfnotePhys32Entry && nh.n_namesz == sizeof kXenNoteName &&
            std::memcmp(notes.data() + name_at, kXenNoteName, sizeof kXenNoteName) == 0) {
            if (nh.n_descsz == 4) return read_at<uint32_t>(notes, desc_at);
            if (nh.n_descsz == 8) {
                const auto v = read_at<uint64_t>(notes, desc_at);
                if (v >> 32) return std::nullopt;
                return static_cast<uint32_t>(v);
            }
            return std::nullopt;
        }
        pos = align_up(desc_end, align);
        if (pos > notes.size()) return std::nullopt;
    }
    return std::nullopt;
}

// The symbols of the first SHT_SYMTAB, via the SHT_STRTAB its sh_link names (gABI "Sections",
// "Symbol Table", "String Table"). Any inconsistency yields no symbols at all: a partial table
// would symbolise addresses to the wrong names. Extended section numbering (e_shnum == 0,
// e_shstrndx == SHN_XINDEX) is not followed: no symbols.
std::vector<ElfSymbol> parse_symbols(std::span<const uint8_t> file, const Elf64_Ehdr& eh) {
    if (eh.e_shoff == 0 || eh.e_shnum == 0 || eh.e_shentsize != sizeof(Elf64_Shdr)) return {};
    const uint64_t table_size = uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr);  // < 2^22
    if (!in_bounds(eh.e_shoff, table_size, file.size())) return {};
    auto shdr = [&](uint64_t i) {
        return read_at<Elf64_Shdr>(file, eh.e_shoff + i * sizeof(Elf64_Shdr));
    };

    std::optional<Elf64_Shdr> symtab;
    for (uint64_t i = 1; i < eh.e_shnum && !symtab; ++i)
        if (const auto sh = shdr(i); sh.sh_type == SHT_SYMTAB) symtab = sh;
    if (!symtab) return {};
    if (symtab->sh_entsize != sizeof(Elf64_Sym) || symtab->sh_size % sizeof(Elf64_Sym) != 0 ||
        !in_bounds(symtab->sh_offset, symtab->sh_size, file.size()))
        return {};
    if (symtab->sh_link == SHN_UNDEF || symtab->sh_link >= eh.e_shnum) return {};
    const auto strtab_hdr = shdr(symtab->sh_link);
    if (strtab_hdr.sh_type != SHT_STRTAB ||
        !in_bounds(strtab_hdr.sh_offset, strtab_hdr.sh_size, file.size()))
        return {};
    const auto strtab = file.subspan(strtab_hdr.sh_offset, strtab_hdr.sh_size);

    std::vector<ElfSymbol> out;
    const uint64_t count = symtab->sh_size / sizeof(Elf64_Sym);
    // Index 0 is the reserved undefined symbol (gABI "Symbol Table Entry").
    for (uint64_t i = 1; i < count; ++i) {
        const auto sym = read_at<Elf64_Sym>(file, symtab->sh_offset + i * sizeof(Elf64_Sym));
        // st_name indexes a NUL-terminated string inside the string table.
        if (sym.st_name >= strtab.size()) return {};
        const auto* name = reinterpret_cast<const char*>(strtab.data() + sym.st_name);
        const auto* nul = std::memchr(name, '\0', strtab.size() - sym.st_name);
        if (!nul) return {};

        const unsigned type = ELF64_ST_TYPE(sym.st_info);
        if (type != STT_FUNC && type != STT_OBJECT && type != STT_NOTYPE) continue;
        if (sym.st_shndx == SHN_UNDEF || sym.st_shndx == SHN_ABS || sym.st_shndx == SHN_COMMON)
            continue;
        if (*name == '\0') continue;
        out.push_back({std::string(name, static_cast<const char*>(nul)), sym.st_value, sym.st_size,
                       type == STT_FUNC});
    }
    std::sort(out.begin(), out.end(), [](const ElfSymbol& a, const ElfSymbol& b) {
        return std::tie(a.value, a.name, a.size, a.is_function) <
               std::tie(b.value, b.name, b.size, b.is_function);
    });
    return out;
}

}  // namespace

const char* elf_error_name(ElfErrorCode code) {
    switch (code) {
        case ElfErrorCode::NotElf: return "not-elf";
        case ElfErrorCode::WrongClass: return "wrong-class";
        case ElfErrorCode::WrongEndianness: return "wrong-endianness";
        case ElfErrorCode::WrongVersion: return "wrong-version";
        case ElfErrorCode::WrongMachine: return "wrong-machine";
        case ElfErrorCode::WrongType: return "wrong-type";
        case ElfErrorCode::TruncatedHeader: return "truncated-header";
        case ElfErrorCode::BadHeaderSize: return "bad-header-size";
        case ElfErrorCode::BadProgramHeaderSize: return "bad-program-header-size";
        case ElfErrorCode::ProgramHeadersPastEof: return "program-headers-past-eof";
        case ElfErrorCode::SegmentDataPastEof: return "segment-data-past-eof";
        case ElfErrorCode::FileSizeExceedsMemSize: return "file-size-exceeds-mem-size";
        case ElfErrorCode::AddressOverflow: return "address-overflow";
        case ElfErrorCode::OverlappingSegments: return "overlapping-segments";
        case ElfErrorCode::SegmentOutsideRam: return "segment-outside-ram";
        case ElfErrorCode::NoLoadableSegment: return "no-loadable-segment";
        case ElfErrorCode::WritableExecutableSegment: return "writable-executable-segment";
        case ElfErrorCode::EntryOutsideExecutableSegment: return "entry-outside-executable-segment";
        case ElfErrorCode::TooManySegments: return "too-many-segments";
    }
    return "unknown-elf-error";
}

ElfError::ElfError(ElfErrorCode code, std::string detail)
    : std::runtime_error(std::string(elf_error_name(code)) + ": " + detail),
      code_(code),
      detail_(std::move(detail)) {}

FileError::FileError(std::string path, const std::string& reason)
    : std::runtime_error("cannot read " + path + ": " + reason), path_(std::move(path)) {}

uint64_t fnv1a64(std::span<const uint8_t> bytes) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint8_t b : bytes) {
        h ^= b;
        h *= 0x100000001b3ull;
    }
    return h;
}

ElfImage parse_elf(std::span<const uint8_t> file, uint64_t ram_size) {
    const Elf64_Ehdr eh = parse_header(file);

    if (eh.e_phnum > kMaxProgramHeaders)
        fail(ElfErrorCode::TooManySegments, "e_phnum is " + dec(eh.e_phnum) +
                                                ", more than the limit of " +
                                                dec(kMaxProgramHeaders));
    if (eh.e_phnum > 0 && eh.e_phentsize != sizeof(Elf64_Phdr))
        fail(ElfErrorCode::BadProgramHeaderSize,
             "e_phentsize is " + dec(eh.e_phentsize) + ", expected " + dec(sizeof(Elf64_Phdr)));
    const uint64_t table_size = uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr);  // <= 64 * 56
    if (!in_bounds(eh.e_phoff, table_size, file.size()))
        fail(ElfErrorCode::ProgramHeadersPastEof,
             "program header table at offset " + hex(eh.e_phoff) + " (" + dec(eh.e_phnum) +
                 " entries of " + dec(sizeof(Elf64_Phdr)) + " bytes) exceeds file size " +
                 hex(file.size()));

    std::vector<IndexedSegment> loads;
    std::optional<uint32_t> pvh_entry;
    for (size_t i = 0; i < eh.e_phnum; ++i) {
        const auto ph = read_at<Elf64_Phdr>(file, eh.e_phoff + i * sizeof(Elf64_Phdr));
        if (ph.p_type == PT_LOAD) {
            if (auto s = check_load(ph, i, file.size(), ram_size)) loads.push_back(*s);
        } else if (ph.p_type == PT_NOTE && !pvh_entry) {
            pvh_entry = find_pvh_entry(file, ph);
        }
    }

    check_disjoint(loads, &ElfSegment::paddr, "physical");
    check_disjoint(loads, &ElfSegment::vaddr, "virtual");
    if (loads.empty())
        fail(ElfErrorCode::NoLoadableSegment,
             "no PT_LOAD with p_memsz > 0 among " + dec(eh.e_phnum) + " program headers");
    check_entry(eh.e_entry, loads);

    ElfImage image;
    image.entry = eh.e_entry;
    for (const auto& l : loads) image.segments.push_back(l.segment);
    std::sort(image.segments.begin(), image.segments.end(),
              [](const ElfSegment& a, const ElfSegment& b) { return a.paddr < b.paddr; });
    image.pvh_entry = pvh_entry;
    image.symbols = parse_symbols(file, eh);
    image.content_hash = fnv1a64(file);
    return image;
}

void load_segments(const ElfImage& image, std::span<const uint8_t> file, std::span<uint8_t> ram) {
    for (size_t i = 0; i < image.segments.size(); ++i) {
        const auto& s = image.segments[i];
        const std::string what = "loaded segment " + dec(i) + " (paddr " + hex(s.paddr) + ")";
        if (s.file_size > s.mem_size)
            fail(ElfErrorCode::FileSizeExceedsMemSize,
                 what + ": filesz " + hex(s.file_size) + " exceeds memsz " + hex(s.mem_size));
        if (!in_bounds(s.file_offset, s.file_size, file.size()))
            fail(ElfErrorCode::SegmentDataPastEof, what + ": offset " + hex(s.file_offset) +
                                                       " + filesz " + hex(s.file_size) +
                                                       " exceeds file size " + hex(file.size()));
        if (!in_bounds(s.paddr, s.mem_size, ram.size()))
            fail(ElfErrorCode::SegmentOutsideRam, what + ": paddr " + hex(s.paddr) + " + memsz " +
                                                      hex(s.mem_size) + " exceeds RAM size " +
                                                      hex(ram.size()));
    }
    for (const auto& s : image.segments) {
        if (s.file_size > 0)
            std::memcpy(ram.data() + s.paddr, file.data() + s.file_offset, s.file_size);
        std::memset(ram.data() + s.paddr + s.file_size, 0, s.mem_size - s.file_size);
    }
}

std::optional<std::string> ElfImage::symbolize(uint64_t addr) const {
    // A better candidate: greater value (innermost), then a function, then the smaller name.
    auto better = [](const ElfSymbol& a, const ElfSymbol& b) {
        if (a.value != b.value) return a.value > b.value;
        if (a.is_function != b.is_function) return a.is_function;
        return a.name < b.name;
    };
    const auto first_above =
        std::upper_bound(symbols.begin(), symbols.end(), addr,
                         [](uint64_t a, const ElfSymbol& s) { return a < s.value; });

    const ElfSymbol* containing = nullptr;
    const ElfSymbol* nearest_function = nullptr;
    for (auto it = first_above; it != symbols.begin();) {
        const ElfSymbol& s = *--it;
        if (containing && s.value < containing->value) break;
        if (s.size > 0 && addr - s.value < s.size && (!containing || better(s, *containing)))
            containing = &s;
        if (s.is_function && (!nearest_function || better(s, *nearest_function)))
            nearest_function = &s;
    }

    const ElfSymbol* chosen = containing;
    if (!chosen && nearest_function && nearest_function->size == 0) {
        const uint64_t v = nearest_function->value;
        for (const auto& seg : segments)
            if (v >= seg.vaddr && addr - seg.vaddr < seg.mem_size) chosen = nearest_function;
    }
    if (!chosen) return std::nullopt;
    return chosen->name + "+" + hex(addr - chosen->value);
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) throw FileError(path, std::error_code(errno, std::generic_category()).message());
    std::vector<uint8_t> bytes;
    uint8_t buf[1 << 16];
    for (;;) {
        const size_t n = std::fread(buf, 1, sizeof buf, f.get());
        bytes.insert(bytes.end(), buf, buf + n);
        if (n == sizeof buf) continue;
        if (std::ferror(f.get()))
            throw FileError(path, std::error_code(errno, std::generic_category()).message());
        return bytes;
    }
}

}  // namespace emu
