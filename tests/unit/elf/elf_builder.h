// Test support: an in-memory writer of x86-64 ELF64 ET_EXEC images, so tests can make kernel
// images (good and broken) without a toolchain.
//
// File layout, in this order:
//   Elf64_Ehdr
//   Elf64_Phdr x n, in the order the add_* calls were made
//   each program header's data, in the same order: a PT_NOTE's notes 4-byte aligned (gABI
//   "Note Section"), a PT_LOAD's bytes at an offset congruent to p_vaddr modulo p_align, as
//   the gABI requires of loadable segments
//   unless section headers are off: .strtab, .symtab, .shstrtab, then the section header
//   table: [0] SHT_NULL, one SHT_PROGBITS (SHT_NOBITS when filesz is 0) per PT_LOAD with
//   memsz > 0, .symtab, .strtab, .shstrtab (e_shstrndx).
// Symbols keep the order they were added in, except that STB_LOCAL ones come first (gABI:
// sh_info of SHT_SYMTAB is one past the last local symbol).
#pragma once

#include <elf.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace testutil {

// Read or overwrite a field of a built image, e.g.
//   put<uint16_t>(bytes, offsetof(Elf64_Ehdr, e_phnum), 65);
template <class T>
void put(std::vector<uint8_t>& bytes, uint64_t offset, const T& value) {
    if (offset > bytes.size() || sizeof(T) > bytes.size() - offset)
        throw std::out_of_range("testutil::put past the end of the image");
    std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

template <class T>
T get(const std::vector<uint8_t>& bytes, uint64_t offset) {
    if (offset > bytes.size() || sizeof(T) > bytes.size() - offset)
        throw std::out_of_range("testutil::get past the end of the image");
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof(T));
    return value;
}

// Where build() puts things.
struct ElfLayout {
    uint64_t phoff = sizeof(Elf64_Ehdr);
    std::vector<Elf64_Phdr> phdrs;  // as written, by program header index
    uint64_t data_end = 0;          // one past the last byte of PT_LOAD file data
    uint64_t strtab_offset = 0;
    uint64_t symtab_offset = 0;
    uint64_t shstrtab_offset = 0;
    uint64_t shoff = 0;  // 0 when there are no section headers
    uint16_t shnum = 0;
    uint16_t symtab_index = 0;
    uint16_t strtab_index = 0;
    uint64_t file_size = 0;

    uint64_t phdr_offset(size_t index) const { return phoff + index * sizeof(Elf64_Phdr); }
    uint64_t shdr_offset(size_t index) const { return shoff + index * sizeof(Elf64_Shdr); }
    // File offset of entry `index` of .symtab (0 is the null symbol; locals come first).
    uint64_t sym_offset(size_t index) const { return symtab_offset + index * sizeof(Elf64_Sym); }
};

class ElfBuilder {
public:
    // add_symbol's default: the section of the PT_LOAD whose [vaddr, vaddr + memsz) holds the
    // value, or SHN_ABS when none does.
    static constexpr uint16_t kAutoSection = 0xffff;

    ElfBuilder& entry(uint64_t vaddr) {
        entry_ = vaddr;
        return *this;
    }

    // A PT_LOAD with `bytes` as its file data (p_filesz = bytes.size()); flags are PF_R/W/X.
    // Returns the program header index.
    size_t add_load(std::vector<uint8_t> bytes, uint64_t vaddr, uint64_t paddr, uint64_t memsz,
                    uint32_t flags, uint64_t align = 16) {
        Elf64_Phdr ph{};
        ph.p_type = PT_LOAD;
        ph.p_flags = flags;
        ph.p_vaddr = vaddr;
        ph.p_paddr = paddr;
        ph.p_filesz = bytes.size();
        ph.p_memsz = memsz;
        ph.p_align = align;
        return push(ph, std::move(bytes), Placement::Congruent);
    }

    struct Note {
        std::string name;  // n_namesz counts the NUL appended to it
        uint32_t type;
        std::vector<uint8_t> desc;
    };

    // A PT_NOTE holding `notes` back to back, each padded to 4 bytes. Returns the program
    // header index.
    size_t add_notes(const std::vector<Note>& notes) {
        std::vector<uint8_t> data;
        for (const Note& n : notes) {
            append_u32(data, static_cast<uint32_t>(n.name.size() + 1));
            append_u32(data, static_cast<uint32_t>(n.desc.size()));
            append_u32(data, n.type);
            data.insert(data.end(), n.name.begin(), n.name.end());
            data.push_back(0);
            pad(data, 4);
            data.insert(data.end(), n.desc.begin(), n.desc.end());
            pad(data, 4);
        }
        Elf64_Phdr ph{};
        ph.p_type = PT_NOTE;
        ph.p_flags = PF_R;
        ph.p_filesz = data.size();
        ph.p_align = 4;
        return push(ph, std::move(data), Placement::Aligned4);
    }
    size_t add_note(std::string name, uint32_t type, std::vector<uint8_t> desc) {
        return add_notes({Note{std::move(name), type, std::move(desc)}});
    }

    // The PVH entry note (name "Xen", type XEN_ELFNOTE_PHYS32_ENTRY = 18) with a 4-byte
    // descriptor, or an 8-byte one as Linux emits it (_ASM_PTR).
    size_t add_pvh_note(uint64_t phys_entry, size_t desc_size = 4) {
        std::vector<uint8_t> desc(desc_size, 0);
        std::memcpy(desc.data(), &phys_entry, std::min(desc_size, sizeof phys_entry));
        return add_note("Xen", 18, desc);
    }

    // A program header written verbatim, with no data placed for it.
    size_t add_phdr(const Elf64_Phdr& raw) { return push(raw, {}, Placement::None); }

    ElfBuilder& add_symbol(std::string name, uint64_t value, uint64_t size, unsigned char type,
                           unsigned char bind = STB_GLOBAL, uint16_t shndx = kAutoSection) {
        symbols_.push_back({std::move(name), value, size, type, bind, shndx});
        return *this;
    }
    ElfBuilder& add_function(std::string name, uint64_t value, uint64_t size,
                             unsigned char bind = STB_GLOBAL) {
        return add_symbol(std::move(name), value, size, STT_FUNC, bind);
    }
    ElfBuilder& add_object(std::string name, uint64_t value, uint64_t size,
                           unsigned char bind = STB_GLOBAL) {
        return add_symbol(std::move(name), value, size, STT_OBJECT, bind);
    }

    // Section headers (and with them the symbol table) are written unless turned off.
    ElfBuilder& section_headers(bool on) {
        section_headers_ = on;
        return *this;
    }

    ElfLayout layout() const { return plan().layout; }

    std::vector<uint8_t> build() const {
        const Plan p = plan();
        const ElfLayout& l = p.layout;
        std::vector<uint8_t> out(l.file_size, 0);

        Elf64_Ehdr eh{};
        std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
        eh.e_ident[EI_CLASS] = ELFCLASS64;
        eh.e_ident[EI_DATA] = ELFDATA2LSB;
        eh.e_ident[EI_VERSION] = EV_CURRENT;
        eh.e_ident[EI_OSABI] = ELFOSABI_SYSV;
        eh.e_type = ET_EXEC;
        eh.e_machine = EM_X86_64;
        eh.e_version = EV_CURRENT;
        eh.e_entry = entry_;
        eh.e_phoff = phdrs_.empty() ? 0 : l.phoff;
        eh.e_shoff = l.shoff;
        eh.e_ehsize = sizeof(Elf64_Ehdr);
        eh.e_phentsize = sizeof(Elf64_Phdr);
        eh.e_phnum = static_cast<uint16_t>(phdrs_.size());
        eh.e_shentsize = section_headers_ ? sizeof(Elf64_Shdr) : 0;
        eh.e_shnum = l.shnum;
        eh.e_shstrndx = section_headers_ ? static_cast<uint16_t>(l.shnum - 1) : SHN_UNDEF;
        put(out, 0, eh);

        for (size_t i = 0; i < phdrs_.size(); ++i) {
            put(out, l.phdr_offset(i), l.phdrs[i]);
            const auto& data = phdrs_[i].data;
            if (!data.empty())
                std::memcpy(out.data() + l.phdrs[i].p_offset, data.data(), data.size());
        }
        if (!section_headers_) return out;

        std::memcpy(out.data() + l.strtab_offset, p.strtab.data(), p.strtab.size());
        std::memcpy(out.data() + l.shstrtab_offset, p.shstrtab.data(), p.shstrtab.size());
        for (size_t i = 0; i < p.symbols.size(); ++i) put(out, l.sym_offset(i), p.symbols[i]);
        for (size_t i = 0; i < p.shdrs.size(); ++i) put(out, l.shdr_offset(i), p.shdrs[i]);
        return out;
    }

private:
    enum class Placement { None, Aligned4, Congruent };
    struct PendingPhdr {
        Elf64_Phdr ph;
        std::vector<uint8_t> data;
        Placement placement;
    };
    struct PendingSymbol {
        std::string name;
        uint64_t value, size;
        unsigned char type, bind;
        uint16_t shndx;
    };
    struct Plan {
        ElfLayout layout;
        std::vector<uint8_t> strtab, shstrtab;
        std::vector<Elf64_Sym> symbols;
        std::vector<Elf64_Shdr> shdrs;
    };

    static void append_u32(std::vector<uint8_t>& v, uint32_t x) {
        uint8_t b[4];
        std::memcpy(b, &x, 4);
        v.insert(v.end(), b, b + 4);
    }
    static void pad(std::vector<uint8_t>& v, size_t align) {
        while (v.size() % align) v.push_back(0);
    }
    static uint64_t align_up(uint64_t v, uint64_t align) {
        return align <= 1 ? v : (v + align - 1) / align * align;
    }
    static uint32_t add_string(std::vector<uint8_t>& table, const std::string& s) {
        const auto at = static_cast<uint32_t>(table.size());
        table.insert(table.end(), s.begin(), s.end());
        table.push_back(0);
        return at;
    }

    size_t push(const Elf64_Phdr& ph, std::vector<uint8_t> data, Placement placement) {
        phdrs_.push_back({ph, std::move(data), placement});
        return phdrs_.size() - 1;
    }

    Plan plan() const {
        Plan p;
        ElfLayout& l = p.layout;
        uint64_t off = l.phoff + phdrs_.size() * sizeof(Elf64_Phdr);

        for (const auto& pending : phdrs_) {
            Elf64_Phdr ph = pending.ph;
            if (pending.placement == Placement::Aligned4) {
                off = align_up(off, 4);
                ph.p_offset = off;
                off += pending.data.size();
            } else if (pending.placement == Placement::Congruent) {
                const uint64_t a = ph.p_align > 1 ? ph.p_align : 1;
                ph.p_offset = align_up(off, a) + ph.p_vaddr % a;
                off = ph.p_offset + pending.data.size();
                if (!pending.data.empty()) l.data_end = std::max(l.data_end, off);
            }
            l.phdrs.push_back(ph);
        }
        if (!section_headers_) {
            l.file_size = off;
            return p;
        }

        p.shstrtab.push_back(0);
        p.shdrs.push_back(Elf64_Shdr{});
        std::vector<std::pair<size_t, uint16_t>> load_sections;  // phdr index, section index
        for (size_t i = 0; i < l.phdrs.size(); ++i) {
            const Elf64_Phdr& ph = l.phdrs[i];
            if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
            Elf64_Shdr sh{};
            sh.sh_name = add_string(p.shstrtab, ".load" + std::to_string(i));
            sh.sh_type = ph.p_filesz ? SHT_PROGBITS : SHT_NOBITS;
            sh.sh_flags = SHF_ALLOC | (ph.p_flags & PF_W ? SHF_WRITE : 0) |
                          (ph.p_flags & PF_X ? SHF_EXECINSTR : 0);
            sh.sh_addr = ph.p_vaddr;
            sh.sh_offset = ph.p_offset;
            sh.sh_size = ph.p_filesz ? ph.p_filesz : ph.p_memsz;
            sh.sh_addralign = 1;
            load_sections.push_back({i, static_cast<uint16_t>(p.shdrs.size())});
            p.shdrs.push_back(sh);
        }
        l.symtab_index = static_cast<uint16_t>(p.shdrs.size());
        l.strtab_index = static_cast<uint16_t>(l.symtab_index + 1);
        l.shnum = static_cast<uint16_t>(l.symtab_index + 3);

        auto section_of = [&](const PendingSymbol& s) -> uint16_t {
            if (s.shndx != kAutoSection) return s.shndx;
            for (const auto& [phdr, section] : load_sections) {
                const Elf64_Phdr& ph = l.phdrs[phdr];
                if (s.value >= ph.p_vaddr && s.value - ph.p_vaddr < ph.p_memsz) return section;
            }
            return SHN_ABS;
        };
        std::vector<const PendingSymbol*> ordered;
        for (const auto& s : symbols_)
            if (s.bind == STB_LOCAL) ordered.push_back(&s);
        const size_t locals = ordered.size();
        for (const auto& s : symbols_)
            if (s.bind != STB_LOCAL) ordered.push_back(&s);

        p.strtab.push_back(0);
        p.symbols.push_back(Elf64_Sym{});
        for (const PendingSymbol* s : ordered) {
            Elf64_Sym sym{};
            sym.st_name = s->name.empty() ? 0 : add_string(p.strtab, s->name);
            sym.st_info = static_cast<unsigned char>(ELF64_ST_INFO(s->bind, s->type));
            sym.st_shndx = section_of(*s);
            sym.st_value = s->value;
            sym.st_size = s->size;
            p.symbols.push_back(sym);
        }

        const uint32_t symtab_name = add_string(p.shstrtab, ".symtab");
        const uint32_t strtab_name = add_string(p.shstrtab, ".strtab");
        const uint32_t shstrtab_name = add_string(p.shstrtab, ".shstrtab");
        l.strtab_offset = off;
        off += p.strtab.size();
        l.symtab_offset = off = align_up(off, 8);
        off += p.symbols.size() * sizeof(Elf64_Sym);
        l.shstrtab_offset = off;
        off += p.shstrtab.size();
        l.shoff = off = align_up(off, 8);
        off += uint64_t{l.shnum} * sizeof(Elf64_Shdr);
        l.file_size = off;

        Elf64_Shdr symtab{};
        symtab.sh_name = symtab_name;
        symtab.sh_type = SHT_SYMTAB;
        symtab.sh_offset = l.symtab_offset;
        symtab.sh_size = p.symbols.size() * sizeof(Elf64_Sym);
        symtab.sh_link = l.strtab_index;
        symtab.sh_info = static_cast<uint32_t>(locals + 1);
        symtab.sh_addralign = 8;
        symtab.sh_entsize = sizeof(Elf64_Sym);
        Elf64_Shdr strtab{};
        strtab.sh_name = strtab_name;
        strtab.sh_type = SHT_STRTAB;
        strtab.sh_offset = l.strtab_offset;
        strtab.sh_size = p.strtab.size();
        strtab.sh_addralign = 1;
        Elf64_Shdr shstrtab = strtab;
        shstrtab.sh_name = shstrtab_name;
        shstrtab.sh_offset = l.shstrtab_offset;
        shstrtab.sh_size = p.shstrtab.size();
        p.shdrs.push_back(symtab);
        p.shdrs.push_back(strtab);
        p.shdrs.push_back(shstrtab);
        return p;
    }

    uint64_t entry_ = 0;
    bool section_headers_ = true;
    std::vector<PendingPhdr> phdrs_;
    std::vector<PendingSymbol> symbols_;
};

// The smallest bootable image: one R+X PT_LOAD holding `code`, entered at its first byte.
inline std::vector<uint8_t> minimal_kernel(std::vector<uint8_t> code, uint64_t vaddr,
                                           uint64_t paddr) {
    ElfBuilder b;
    const uint64_t size = code.size();
    b.add_load(std::move(code), vaddr, paddr, size, PF_R | PF_X);
    b.entry(vaddr);
    return b.build();
}

}  // namespace testutil
