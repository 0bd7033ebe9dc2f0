// A kernel ELF image after validation: what parse_elf (emu/elf_loader.h) returns.
//
// Everything here has already been checked against the file and the guest's RAM size, so a
// consumer may use the numbers directly: every segment's file bytes lie inside the file,
// every segment's physical range lies inside RAM, and no two segments overlap.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace emu {

// One PT_LOAD program header with p_memsz > 0 (System V gABI, "Program Header"). The boot
// loader places file bytes [file_offset, file_offset + file_size) at guest-physical paddr and
// zeroes the rest of [paddr, paddr + mem_size): "if the segment's memory size is larger than
// the file size, the extra bytes ... hold the value 0".
struct ElfSegment {
    uint64_t file_offset = 0;  // 0 when file_size is 0
    uint64_t file_size = 0;
    uint64_t mem_size = 0;
    uint64_t vaddr = 0;
    uint64_t paddr = 0;
    bool readable = false;    // PF_R
    bool writable = false;    // PF_W
    bool executable = false;  // PF_X

    friend bool operator==(const ElfSegment&, const ElfSegment&) = default;
};

// A defined STT_FUNC, STT_OBJECT or STT_NOTYPE symbol from SHT_SYMTAB (gABI "Symbol Table").
// Undefined (SHN_UNDEF), absolute (SHN_ABS) and common symbols are not addresses in the image
// and are left out, as are STT_SECTION and STT_FILE symbols and symbols with empty names.
struct ElfSymbol {
    std::string name;
    uint64_t value = 0;  // st_value: a virtual address in an ET_EXEC file
    uint64_t size = 0;   // st_size: 0 when unknown (e.g. assembly labels without .size)
    bool is_function = false;

    friend bool operator==(const ElfSymbol&, const ElfSymbol&) = default;
};

struct ElfImage {
    uint64_t entry = 0;                // e_entry, a virtual address
    std::vector<ElfSegment> segments;  // PT_LOAD with p_memsz > 0, sorted by paddr
    // The 32-bit physical entry point of the PVH boot protocol: the descriptor of a note
    // named "Xen" with type XEN_ELFNOTE_PHYS32_ENTRY (18) in a PT_NOTE segment. Linux emits
    // it as a quad (_ASM_PTR), so a 4- or 8-byte descriptor is accepted; an 8-byte one must
    // have its upper half zero. Absent or malformed: nullopt.
    std::optional<uint32_t> pvh_entry;
    std::vector<ElfSymbol> symbols;  // sorted by (value, name); empty if the table is malformed
    uint64_t content_hash = 0;       // FNV-1a 64 over the whole file

    // "name+0x1c" for addr. The symbol is the one whose [value, value + size) contains addr
    // (the innermost, i.e. greatest value, when several do; a function wins a tie); failing
    // that, the nearest function at or below addr when that function has size 0 and lies in
    // the same segment (virtual range) as addr. nullopt when neither exists.
    // Cost: a binary search, then a backwards scan that stops below the first containing
    // symbol; a miss scans every symbol below addr.
    std::optional<std::string> symbolize(uint64_t addr) const;
};

}  // namespace emu
