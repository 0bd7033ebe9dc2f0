// The boot loader's ELF reader: validates a kernel image against the System V gABI, the
// x86-64 psABI and asi-emu's own rules, then copies its segments into guest RAM.
//
// parse_elf applies these rules in this order; the first one broken is thrown as an ElfError
// whose detail names the offending header and its numbers.
//   ELF header (gABI "ELF Header"):
//     not-elf              e_ident[EI_MAG0..3] == "\x7f" "ELF" (a file under 4 bytes is not ELF)
//     truncated-header     the file holds all 16 bytes of e_ident
//     wrong-class          EI_CLASS == ELFCLASS64
//     wrong-endianness     EI_DATA == ELFDATA2LSB (psABI: x86-64 is little-endian)
//     wrong-version        EI_VERSION == EV_CURRENT
//     truncated-header     the file holds all 64 bytes of Elf64_Ehdr
//     wrong-version        e_version == EV_CURRENT
//     wrong-machine        e_machine == EM_X86_64
//     wrong-type           e_type == ET_EXEC (a kernel is linked at fixed addresses: no
//                          ET_DYN relocation, no ET_REL linking)
//     bad-header-size      e_ehsize == sizeof(Elf64_Ehdr) (64)
//   Program header table (gABI "Program Header"):
//     too-many-segments    e_phnum <= 64 (this also rejects PN_XNUM, extended numbering)
//     bad-program-header-size  e_phentsize == sizeof(Elf64_Phdr) (56) when e_phnum > 0
//     program-headers-past-eof [e_phoff, e_phoff + e_phnum * e_phentsize) inside the file
//   Each PT_LOAD, in program header order ("segment N" is the program header index N):
//     segment-data-past-eof     [p_offset, p_offset + p_filesz) inside the file
//     file-size-exceeds-mem-size  p_filesz <= p_memsz (gABI: "p_filesz may not be larger
//                               than p_memsz")
//     (a PT_LOAD with p_memsz == 0 occupies no memory and is skipped from here on)
//     address-overflow          p_paddr + p_memsz and p_vaddr + p_memsz fit in 64 bits
//     segment-outside-ram       [p_paddr, p_paddr + p_memsz) inside [0, ram_size)
//     writable-executable-segment  not both PF_W and PF_X: asi-emu scans all kernel text at
//                               load time and keeps it read-only
//   Across segments:
//     overlapping-segments      no two PT_LOADs share a physical byte, nor a virtual one
//                               (the boot page tables map each vaddr to exactly one paddr)
//     no-loadable-segment       at least one PT_LOAD with p_memsz > 0
//     entry-outside-executable-segment  e_entry in [p_vaddr, p_vaddr + p_memsz) of a PF_X
//                               PT_LOAD
// The PVH note and the symbol table are optional extras: when malformed they are ignored
// (ElfImage::pvh_entry is nullopt, ElfImage::symbols empty), never an error.
//
// Every offset and size comes from the file, so all arithmetic on them is overflow-checked
// and every field is read with memcpy (no unaligned or aliasing casts).
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "emu/elf_image.h"

namespace emu {

enum class ElfErrorCode : uint8_t {
    NotElf,
    WrongClass,
    WrongEndianness,
    WrongVersion,
    WrongMachine,
    WrongType,
    TruncatedHeader,
    BadHeaderSize,
    BadProgramHeaderSize,
    ProgramHeadersPastEof,
    SegmentDataPastEof,
    FileSizeExceedsMemSize,
    AddressOverflow,
    OverlappingSegments,
    SegmentOutsideRam,
    NoLoadableSegment,
    WritableExecutableSegment,
    EntryOutsideExecutableSegment,
    TooManySegments,
};

// Stable kebab-case name, e.g. "segment-outside-ram"; used in logs and --json output.
const char* elf_error_name(ElfErrorCode code);

// A malformed or unsupported image. what() is "<name>: <detail>".
class ElfError : public std::runtime_error {
public:
    ElfError(ElfErrorCode code, std::string detail);
    ElfErrorCode code() const { return code_; }
    const std::string& detail() const { return detail_; }

private:
    ElfErrorCode code_;
    std::string detail_;
};

// The image file could not be read. what() is "cannot read <path>: <reason>".
class FileError : public std::runtime_error {
public:
    FileError(std::string path, const std::string& reason);
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

inline constexpr uint16_t kMaxProgramHeaders = 64;

// Validates `file` as a kernel image for a guest with ram_size bytes of RAM at physical
// address 0. Throws ElfError.
ElfImage parse_elf(std::span<const uint8_t> file, uint64_t ram_size);

// Copies each segment's file bytes to ram[paddr..] and zeroes the rest of its mem_size.
// `file` must be the bytes `image` was parsed from. The segments are checked against `file`
// and `ram` again before anything is written, so a mismatched call throws ElfError
// (segment-data-past-eof, segment-outside-ram) and leaves ram untouched.
void load_segments(const ElfImage& image, std::span<const uint8_t> file, std::span<uint8_t> ram);

// The whole file. Throws FileError.
std::vector<uint8_t> read_file_bytes(const std::string& path);

// FNV-1a, 64-bit (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
uint64_t fnv1a64(std::span<const uint8_t> bytes);

}  // namespace emu
