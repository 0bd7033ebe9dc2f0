// ELF loader rules (emu/elf_loader.h): each error code with a case that triggers it, a valid
// kernel image loaded byte for byte, and sweeps (truncation, bit flips, random corruption)
// that must end in a parse or an ElfError, never a crash. Run under ASan+UBSan.
#include "emu/elf_loader.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdio>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/unit/elf/elf_builder.h"

namespace emu {
namespace {

using testutil::ElfBuilder;
using testutil::get;
using testutil::put;

constexpr uint64_t kRam = 4ull << 20;
constexpr uint64_t kKernelMap = 0xffffffff80000000ull;  // __START_KERNEL_map

constexpr uint64_t kTextPa = 0x100000, kTextVa = kKernelMap + kTextPa, kTextSize = 0x80;
constexpr uint64_t kRodataPa = 0x101000, kRodataVa = kKernelMap + kRodataPa, kRodataSize = 0x20;
constexpr uint64_t kDataPa = 0x102000, kDataVa = kKernelMap + kDataPa;
constexpr uint64_t kDataFileSize = 0x30, kDataMemSize = 0x1000;
constexpr uint64_t kEntry = kTextVa + 0x10;
constexpr uint32_t kPvhEntry = 0x100040;

// Program header indices of the good image; out of paddr order on purpose.
constexpr size_t kDataPhdr = 0, kTextPhdr = 1, kRodataPhdr = 2, kNotePhdr = 3, kStackPhdr = 4;

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
    return v;
}

ElfBuilder good_builder() {
    ElfBuilder b;
    b.add_load(pattern(kDataFileSize, 3), kDataVa, kDataPa, kDataMemSize, PF_R | PF_W);
    b.add_load(pattern(kTextSize, 1), kTextVa, kTextPa, kTextSize, PF_R | PF_X);
    b.add_load(pattern(kRodataSize, 2), kRodataVa, kRodataPa, kRodataSize, PF_R);
    b.add_notes({{"GNU", NT_GNU_BUILD_ID, pattern(20, 9)}, {"Xen", 18, {0x40, 0x00, 0x10, 0x00}}});
    Elf64_Phdr stack{};
    stack.p_type = PT_GNU_STACK;
    stack.p_flags = PF_R | PF_W;
    b.add_phdr(stack);
    b.entry(kEntry);

    b.add_function("start_kernel", kTextVa + 0x10, 0x20);
    b.add_function("_start", kTextVa, 0x10);
    b.add_function("asm_idle", kTextVa + 0x30, 0);  // an assembly label without .size
    b.add_function("after_gap", kTextVa + 0x50, 0x10);
    b.add_symbol("static_helper", kTextVa + 0x70, 0x8, STT_FUNC, STB_LOCAL);
    b.add_object("jiffies", kDataVa, 8);
    b.add_object("boot_params", kDataVa + 0x40, 0x100);
    b.add_symbol("__bss_start", kDataVa + kDataFileSize, 0, STT_NOTYPE);
    // Not addresses in the image: left out of ElfImage::symbols.
    b.add_symbol("main.c", 0, 0, STT_FILE, STB_LOCAL, SHN_ABS);
    b.add_symbol("", kTextVa, 0, STT_SECTION, STB_LOCAL);
    b.add_symbol("printk", 0, 0, STT_FUNC, STB_GLOBAL, SHN_UNDEF);
    b.add_symbol("KERNEL_CONSTANT", 0x1234, 0, STT_NOTYPE, STB_GLOBAL, SHN_ABS);
    return b;
}

std::vector<uint8_t> good_image() { return good_builder().build(); }
testutil::ElfLayout good_layout() { return good_builder().layout(); }

uint64_t phdr_field(size_t index, size_t field_offset) {
    return good_layout().phdr_offset(index) + field_offset;
}

::testing::AssertionResult FailsWith(const std::vector<uint8_t>& file, ElfErrorCode want,
                                     uint64_t ram = kRam) {
    try {
        (void)parse_elf(file, ram);
    } catch (const ElfError& e) {
        if (e.code() == want) return ::testing::AssertionSuccess() << e.what();
        return ::testing::AssertionFailure()
               << "threw " << e.what() << ", expected " << elf_error_name(want);
    }
    return ::testing::AssertionFailure() << "parsed, expected " << elf_error_name(want);
}

std::string detail_of(const std::vector<uint8_t>& file, uint64_t ram = kRam) {
    try {
        (void)parse_elf(file, ram);
    } catch (const ElfError& e) {
        return e.detail();
    }
    return "<parsed>";
}

// ---- The valid image -------------------------------------------------------------------

TEST(ElfLoader, ParsesValidImage) {
    const auto file = good_image();
    const auto layout = good_layout();
    const ElfImage image = parse_elf(file, kRam);

    EXPECT_EQ(image.entry, kEntry);
    const std::vector<ElfSegment> want = {
        {layout.phdrs[kTextPhdr].p_offset, kTextSize, kTextSize, kTextVa, kTextPa, true, false,
         true},
        {layout.phdrs[kRodataPhdr].p_offset, kRodataSize, kRodataSize, kRodataVa, kRodataPa, true,
         false, false},
        {layout.phdrs[kDataPhdr].p_offset, kDataFileSize, kDataMemSize, kDataVa, kDataPa, true,
         true, false},
    };
    EXPECT_EQ(image.segments, want);
    EXPECT_EQ(image.pvh_entry, kPvhEntry);
    EXPECT_EQ(image.content_hash, fnv1a64(file));
}

TEST(ElfLoader, SymbolsAreDefinedAddressesSortedByValue) {
    const ElfImage image = parse_elf(good_image(), kRam);
    const std::vector<ElfSymbol> want = {
        {"_start", kTextVa, 0x10, true},
        {"start_kernel", kTextVa + 0x10, 0x20, true},
        {"asm_idle", kTextVa + 0x30, 0, true},
        {"after_gap", kTextVa + 0x50, 0x10, true},
        {"static_helper", kTextVa + 0x70, 0x8, true},
        {"jiffies", kDataVa, 8, false},
        {"__bss_start", kDataVa + kDataFileSize, 0, false},
        {"boot_params", kDataVa + 0x40, 0x100, false},
    };
    EXPECT_EQ(image.symbols, want);
}

TEST(ElfLoader, SymbolizeFindsContainingSymbolWithOffset) {
    const ElfImage image = parse_elf(good_image(), kRam);
    EXPECT_EQ(image.symbolize(kTextVa), "_start+0x0");
    EXPECT_EQ(image.symbolize(kTextVa + 0xf), "_start+0xf");
    EXPECT_EQ(image.symbolize(kTextVa + 0x2c), "start_kernel+0x1c");
    EXPECT_EQ(image.symbolize(kTextVa + 0x55), "after_gap+0x5");
    EXPECT_EQ(image.symbolize(kTextVa + 0x77), "static_helper+0x7");
    EXPECT_EQ(image.symbolize(kDataVa + 4), "jiffies+0x4");
    EXPECT_EQ(image.symbolize(kDataVa + 0x13f), "boot_params+0xff");
}

TEST(ElfLoader, SymbolizeExtendsSizeZeroFunctionToNextFunction) {
    const ElfImage image = parse_elf(good_image(), kRam);
    EXPECT_EQ(image.symbolize(kTextVa + 0x30), "asm_idle+0x0");
    EXPECT_EQ(image.symbolize(kTextVa + 0x4f), "asm_idle+0x1f");
}

TEST(ElfLoader, SymbolizeMisses) {
    const ElfImage image = parse_elf(good_image(), kRam);
    EXPECT_EQ(image.symbolize(0), std::nullopt);
    EXPECT_EQ(image.symbolize(kTextVa - 1), std::nullopt);
    // Past a sized function, with no size-0 function closer: nothing contains the address.
    EXPECT_EQ(image.symbolize(kTextVa + 0x60), std::nullopt);
    EXPECT_EQ(image.symbolize(kTextVa + 0x78), std::nullopt);
    // jiffies ends at +8; a size-0 STT_NOTYPE or STT_OBJECT symbol never extends.
    EXPECT_EQ(image.symbolize(kDataVa + 8), std::nullopt);
    EXPECT_EQ(image.symbolize(kDataVa + kDataFileSize + 1), std::nullopt);
    EXPECT_EQ(image.symbolize(kDataVa + 0x140), std::nullopt);
    EXPECT_EQ(image.symbolize(~0ull), std::nullopt);
}

TEST(ElfLoader, SymbolizeSizeZeroFunctionStaysInItsSegment) {
    ElfImage image;
    image.segments = {{0, 0x100, 0x100, 0x1000, 0x1000, true, false, true},
                      {0, 0x100, 0x100, 0x2000, 0x2000, true, false, false}};
    image.symbols = {{"tail", 0x10f0, 0, true}};
    EXPECT_EQ(image.symbolize(0x10ff), "tail+0xf");
    EXPECT_EQ(image.symbolize(0x1100), std::nullopt);
    EXPECT_EQ(image.symbolize(0x2000), std::nullopt);
}

TEST(ElfLoader, SymbolizePrefersInnermostThenFunction) {
    ElfImage image;
    image.symbols = {{"section_blob", 0x1000, 0x1000, false},
                     {"alias_object", 0x1100, 0x20, false},
                     {"sys_read", 0x1100, 0x20, true},
                     {"inner", 0x1108, 0x4, false}};
    EXPECT_EQ(image.symbolize(0x1104), "sys_read+0x4");
    EXPECT_EQ(image.symbolize(0x1109), "inner+0x1");
    EXPECT_EQ(image.symbolize(0x1200), "section_blob+0x200");
}

TEST(ElfLoader, OtherProgramHeadersAreNotChecked) {
    // Only PT_LOAD is placed in memory; PT_GNU_STACK and the like carry no bounds to honour.
    auto file = good_image();
    put<uint64_t>(file, phdr_field(kStackPhdr, offsetof(Elf64_Phdr, p_offset)), ~0ull);
    put<uint64_t>(file, phdr_field(kStackPhdr, offsetof(Elf64_Phdr, p_filesz)), ~0ull);
    put<uint64_t>(file, phdr_field(kStackPhdr, offsetof(Elf64_Phdr, p_paddr)), ~0ull);
    put<uint32_t>(file, phdr_field(kStackPhdr, offsetof(Elf64_Phdr, p_flags)), PF_R | PF_W | PF_X);
    const ElfImage image = parse_elf(file, kRam);
    EXPECT_EQ(image.segments.size(), 3u);
    EXPECT_EQ(image.pvh_entry, kPvhEntry);
}

TEST(ElfLoader, LoadSegmentsCopiesDataAndZeroesBss) {
    const auto file = good_image();
    const ElfImage image = parse_elf(file, kRam);
    std::vector<uint8_t> ram(kRam, 0xaa);
    load_segments(image, file, ram);

    auto at = [&](uint64_t pa, size_t n) {
        return std::vector<uint8_t>(ram.begin() + static_cast<ptrdiff_t>(pa),
                                    ram.begin() + static_cast<ptrdiff_t>(pa + n));
    };
    EXPECT_EQ(at(kTextPa, kTextSize), pattern(kTextSize, 1));
    EXPECT_EQ(at(kRodataPa, kRodataSize), pattern(kRodataSize, 2));
    EXPECT_EQ(at(kDataPa, kDataFileSize), pattern(kDataFileSize, 3));
    EXPECT_EQ(at(kDataPa + kDataFileSize, kDataMemSize - kDataFileSize),
              std::vector<uint8_t>(kDataMemSize - kDataFileSize, 0));
    EXPECT_EQ(ram[kTextPa - 1], 0xaa);
    EXPECT_EQ(ram[kTextPa + kTextSize], 0xaa);
    EXPECT_EQ(ram[kDataPa + kDataMemSize], 0xaa);
}

TEST(ElfLoader, LoadSegmentsRechecksAndWritesNothingOnMismatch) {
    const auto file = good_image();
    const ElfImage image = parse_elf(file, kRam);

    std::vector<uint8_t> small_ram(kDataPa + kDataMemSize - 1, 0xaa);
    try {
        load_segments(image, file, small_ram);
        FAIL() << "loaded into too small a RAM";
    } catch (const ElfError& e) {
        EXPECT_EQ(e.code(), ElfErrorCode::SegmentOutsideRam) << e.what();
    }
    EXPECT_EQ(small_ram, std::vector<uint8_t>(small_ram.size(), 0xaa));

    const std::vector<uint8_t> short_file(file.begin(), file.begin() + 100);
    std::vector<uint8_t> ram(kRam, 0);
    try {
        load_segments(image, short_file, ram);
        FAIL() << "loaded from a file too short for the image";
    } catch (const ElfError& e) {
        EXPECT_EQ(e.code(), ElfErrorCode::SegmentDataPastEof) << e.what();
    }
}

TEST(ElfLoader, BssOnlySegmentLoadsAsZeroes) {
    ElfBuilder b;
    b.add_load(pattern(16, 1), kTextVa, kTextPa, 16, PF_R | PF_X);
    b.add_load({}, kDataVa, kDataPa, 0x100, PF_R | PF_W);
    b.entry(kTextVa);
    const auto file = b.build();
    const ElfImage image = parse_elf(file, kRam);
    ASSERT_EQ(image.segments.size(), 2u);
    EXPECT_EQ(image.segments[1].file_size, 0u);
    EXPECT_EQ(image.segments[1].file_offset, 0u);
    std::vector<uint8_t> ram(kRam, 0xaa);
    load_segments(image, file, ram);
    EXPECT_EQ(ram[kDataPa], 0);
    EXPECT_EQ(ram[kDataPa + 0xff], 0);
    EXPECT_EQ(ram[kDataPa + 0x100], 0xaa);
}

TEST(ElfLoader, ZeroMemSizeLoadIsSkipped) {
    ElfBuilder b = good_builder();
    b.add_load({}, 0, ~0ull - 4, 0, PF_R | PF_W | PF_X);
    EXPECT_EQ(parse_elf(b.build(), kRam).segments.size(), 3u);
}

TEST(ElfLoader, SegmentEndingExactlyAtRamEndFits) {
    const auto file = good_image();
    EXPECT_NO_THROW((void)parse_elf(file, kDataPa + kDataMemSize));
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::SegmentOutsideRam, kDataPa + kDataMemSize - 1));
}

TEST(ElfLoader, AdjacentSegmentsDoNotOverlap) {
    ElfBuilder b;
    b.add_load(pattern(0x40, 1), kTextVa, kTextPa, 0x40, PF_R | PF_X);
    b.add_load(pattern(0x40, 2), kTextVa + 0x40, kTextPa + 0x40, 0x40, PF_R);
    b.entry(kTextVa);
    EXPECT_EQ(parse_elf(b.build(), kRam).segments.size(), 2u);
}

TEST(ElfLoader, MinimalKernelParses) {
    const auto file = testutil::minimal_kernel({0xf4, 0xeb, 0xfd}, kTextVa, kTextPa);
    const ElfImage image = parse_elf(file, kRam);
    EXPECT_EQ(image.entry, kTextVa);
    ASSERT_EQ(image.segments.size(), 1u);
    EXPECT_FALSE(image.pvh_entry.has_value());
}

// ---- PVH note --------------------------------------------------------------------------

std::optional<uint32_t> pvh_of(const ElfBuilder& b) { return parse_elf(b.build(), kRam).pvh_entry; }

ElfBuilder text_only() {
    ElfBuilder b;
    b.add_load(pattern(kTextSize, 1), kTextVa, kTextPa, kTextSize, PF_R | PF_X);
    b.entry(kTextVa);
    return b;
}

TEST(ElfPvhNote, FoundAfterAnotherNoteInTheSameSegment) {
    // good_image's PT_NOTE holds a GNU build-id note, then the Xen note.
    auto file = good_image();
    const auto note = good_layout().phdrs[kNotePhdr];
    EXPECT_EQ(parse_elf(file, kRam).pvh_entry, kPvhEntry);
    // Corrupting the first note's n_namesz hides the second: the walk cannot resynchronise.
    put<uint32_t>(file, note.p_offset, 0x1000);
    EXPECT_EQ(parse_elf(file, kRam).pvh_entry, std::nullopt);
}

TEST(ElfPvhNote, EightByteDescriptorAsLinuxEmitsIt) {
    ElfBuilder b = text_only();
    b.add_pvh_note(0x1000000, 8);
    EXPECT_EQ(pvh_of(b), 0x1000000u);
}

TEST(ElfPvhNote, FoundInLaterNoteSegment) {
    ElfBuilder b = text_only();
    b.add_note("GNU", NT_GNU_BUILD_ID, pattern(20, 1));
    b.add_pvh_note(0x200000);
    EXPECT_EQ(pvh_of(b), 0x200000u);
}

TEST(ElfPvhNote, MalformedOrOtherNotesAreIgnored) {
    {
        ElfBuilder b = text_only();
        b.add_pvh_note(0x1'0000'0000ull, 8);  // not a 32-bit address
        EXPECT_EQ(pvh_of(b), std::nullopt);
    }
    {
        ElfBuilder b = text_only();
        b.add_pvh_note(0x1000, 2);
        EXPECT_EQ(pvh_of(b), std::nullopt);
    }
    {
        ElfBuilder b = text_only();
        b.add_note("Xen", 17, {0, 0, 0x10, 0});  // XEN_ELFNOTE_PHYS32_RELOC, not the entry
        EXPECT_EQ(pvh_of(b), std::nullopt);
    }
    {
        ElfBuilder b = text_only();
        b.add_note("Xe", 18, {0, 0, 0x10, 0});
        EXPECT_EQ(pvh_of(b), std::nullopt);
    }
    {
        ElfBuilder b = text_only();
        const size_t note = b.add_pvh_note(0x1000);
        auto file = b.build();
        // n_descsz larger than the segment: the note runs off its PT_NOTE.
        put<uint32_t>(file, b.layout().phdrs[note].p_offset + 4, 0x1000);
        EXPECT_EQ(parse_elf(file, kRam).pvh_entry, std::nullopt);
        // A PT_NOTE past the end of the file is not an error either.
        put<uint64_t>(file, b.layout().phdr_offset(note) + offsetof(Elf64_Phdr, p_offset), ~0ull);
        EXPECT_EQ(parse_elf(file, kRam).pvh_entry, std::nullopt);
    }
}

// ---- Malformed symbol tables are ignored -------------------------------------------------

TEST(ElfSymbols, MalformedTableYieldsNoSymbols) {
    const auto layout = good_layout();
    const uint64_t symtab_hdr = layout.shdr_offset(layout.symtab_index);
    struct Case {
        const char* what;
        uint64_t offset;
        uint64_t value;
        size_t width;
    };
    const Case cases[] = {
        {"sh_link out of range", symtab_hdr + offsetof(Elf64_Shdr, sh_link), 999, 4},
        {"sh_link not a STRTAB", symtab_hdr + offsetof(Elf64_Shdr, sh_link), 1, 4},
        {"sh_entsize wrong", symtab_hdr + offsetof(Elf64_Shdr, sh_entsize), 16, 8},
        {"sh_size not a multiple", symtab_hdr + offsetof(Elf64_Shdr, sh_size), 25, 8},
        {"sh_offset past EOF", symtab_hdr + offsetof(Elf64_Shdr, sh_offset), ~0ull - 8, 8},
        {"st_name past strtab", layout.sym_offset(3) + offsetof(Elf64_Sym, st_name), 0x10000, 4},
        {"e_shentsize wrong", offsetof(Elf64_Ehdr, e_shentsize), 40, 2},
        {"e_shoff past EOF", offsetof(Elf64_Ehdr, e_shoff), ~0ull - 100, 8},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        auto file = good_image();
        if (c.width == 2) put<uint16_t>(file, c.offset, static_cast<uint16_t>(c.value));
        if (c.width == 4) put<uint32_t>(file, c.offset, static_cast<uint32_t>(c.value));
        if (c.width == 8) put<uint64_t>(file, c.offset, c.value);
        const ElfImage image = parse_elf(file, kRam);
        EXPECT_TRUE(image.symbols.empty());
        EXPECT_EQ(image.segments.size(), 3u);
    }
}

TEST(ElfSymbols, UnterminatedStringTableYieldsNoSymbols) {
    const auto layout = good_layout();
    auto file = good_image();
    const uint64_t strtab_hdr = layout.shdr_offset(layout.strtab_index);
    const auto size = get<uint64_t>(file, strtab_hdr + offsetof(Elf64_Shdr, sh_size));
    put<uint64_t>(file, strtab_hdr + offsetof(Elf64_Shdr, sh_size), size - 1);
    EXPECT_TRUE(parse_elf(file, kRam).symbols.empty());
}

TEST(ElfSymbols, NoSectionHeadersMeansNoSymbols) {
    ElfBuilder b = good_builder();
    b.section_headers(false);
    const ElfImage image = parse_elf(b.build(), kRam);
    EXPECT_TRUE(image.symbols.empty());
    EXPECT_EQ(image.symbolize(kTextVa), std::nullopt);
}

// ---- One case per error code -------------------------------------------------------------

TEST(ElfErrors, NamesAreStableKebabCase) {
    EXPECT_STREQ(elf_error_name(ElfErrorCode::SegmentOutsideRam), "segment-outside-ram");
    EXPECT_STREQ(elf_error_name(ElfErrorCode::NotElf), "not-elf");
    std::set<std::string> names;
    const std::regex kebab("[a-z0-9]+(-[a-z0-9]+)*");
    for (int c = 0; c <= static_cast<int>(ElfErrorCode::TooManySegments); ++c) {
        const std::string name = elf_error_name(static_cast<ElfErrorCode>(c));
        EXPECT_TRUE(std::regex_match(name, kebab)) << name;
        EXPECT_NE(name, "unknown-elf-error") << c;
        names.insert(name);
    }
    EXPECT_EQ(names.size(), static_cast<size_t>(ElfErrorCode::TooManySegments) + 1);
    const ElfError e(ElfErrorCode::WrongType, "e_type is 3");
    EXPECT_STREQ(e.what(), "wrong-type: e_type is 3");
    EXPECT_EQ(e.detail(), "e_type is 3");
}

TEST(ElfErrors, NotElf) {
    EXPECT_TRUE(FailsWith({}, ElfErrorCode::NotElf));
    EXPECT_TRUE(FailsWith({0x7f, 'E', 'L'}, ElfErrorCode::NotElf));
    auto file = good_image();
    file[1] = 'e';
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::NotElf));
    EXPECT_EQ(detail_of(file), "magic is 7f 65 4c 46, expected 7f 45 4c 46 (\"\\x7fELF\")");
}

TEST(ElfErrors, TruncatedHeader) {
    const auto file = good_image();
    EXPECT_TRUE(FailsWith({file.begin(), file.begin() + 10}, ElfErrorCode::TruncatedHeader));
    const std::vector<uint8_t> short_header(file.begin(), file.begin() + 63);
    EXPECT_TRUE(FailsWith(short_header, ElfErrorCode::TruncatedHeader));
    EXPECT_EQ(detail_of(short_header), "file is 63 bytes, Elf64_Ehdr needs 64");
}

TEST(ElfErrors, WrongClass) {
    auto file = good_image();
    file[EI_CLASS] = ELFCLASS32;
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::WrongClass));
    EXPECT_EQ(detail_of(file), "EI_CLASS is 1, expected 2 (ELFCLASS64)");
    file[EI_CLASS] = ELFCLASSNONE;
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::WrongClass));
}

TEST(ElfErrors, WrongEndianness) {
    auto file = good_image();
    file[EI_DATA] = ELFDATA2MSB;
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::WrongEndianness));
}

TEST(ElfErrors, WrongVersion) {
    auto file = good_image();
    file[EI_VERSION] = EV_NONE;
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::WrongVersion));
    file = good_image();
    put<uint32_t>(file, offsetof(Elf64_Ehdr, e_version), 2);
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::WrongVersion));
}

TEST(ElfErrors, WrongMachine) {
    auto file = good_image();
    put<uint16_t>(file, offsetof(Elf64_Ehdr, e_machine), EM_386);
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::WrongMachine));
    EXPECT_EQ(detail_of(file), "e_machine is 3, expected 62 (EM_X86_64)");
}

TEST(ElfErrors, WrongType) {
    for (uint16_t type :
         {uint16_t{ET_NONE}, uint16_t{ET_REL}, uint16_t{ET_DYN}, uint16_t{ET_CORE}}) {
        auto file = good_image();
        put<uint16_t>(file, offsetof(Elf64_Ehdr, e_type), type);
        EXPECT_TRUE(FailsWith(file, ElfErrorCode::WrongType)) << type;
    }
}

TEST(ElfErrors, BadHeaderSize) {
    auto file = good_image();
    put<uint16_t>(file, offsetof(Elf64_Ehdr, e_ehsize), 52);  // sizeof(Elf32_Ehdr)
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::BadHeaderSize));
}

TEST(ElfErrors, BadProgramHeaderSize) {
    auto file = good_image();
    put<uint16_t>(file, offsetof(Elf64_Ehdr, e_phentsize), 32);  // sizeof(Elf32_Phdr)
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::BadProgramHeaderSize));
    EXPECT_EQ(detail_of(file), "e_phentsize is 32, expected 56");
}

TEST(ElfErrors, ProgramHeadersPastEof) {
    auto file = good_image();
    put<uint64_t>(file, offsetof(Elf64_Ehdr, e_phoff), file.size() - 8);
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::ProgramHeadersPastEof));
    put<uint64_t>(file, offsetof(Elf64_Ehdr, e_phoff), ~0ull - 10);  // offset + size wraps
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::ProgramHeadersPastEof));
    file = good_image();
    put<uint16_t>(file, offsetof(Elf64_Ehdr, e_phnum), kMaxProgramHeaders);
    const std::vector<uint8_t> head(file.begin(), file.begin() + 64 + 56 * 10);
    EXPECT_TRUE(FailsWith(head, ElfErrorCode::ProgramHeadersPastEof));
}

TEST(ElfErrors, TooManySegments) {
    auto file = good_image();
    put<uint16_t>(file, offsetof(Elf64_Ehdr, e_phnum), kMaxProgramHeaders + 1);
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::TooManySegments));
    put<uint16_t>(file, offsetof(Elf64_Ehdr, e_phnum), PN_XNUM);
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::TooManySegments));
}

TEST(ElfErrors, SegmentDataPastEof) {
    auto file = good_image();
    put<uint64_t>(file, phdr_field(kTextPhdr, offsetof(Elf64_Phdr, p_filesz)), file.size());
    put<uint64_t>(file, phdr_field(kTextPhdr, offsetof(Elf64_Phdr, p_memsz)), file.size());
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::SegmentDataPastEof));
    file = good_image();
    put<uint64_t>(file, phdr_field(kTextPhdr, offsetof(Elf64_Phdr, p_offset)), ~0ull - 4);
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::SegmentDataPastEof));
    EXPECT_TRUE(detail_of(file).starts_with(
        "segment 1: offset 0xfffffffffffffffb + filesz 0x80 exceeds file size 0x"))
        << detail_of(file);
}

TEST(ElfErrors, FileSizeExceedsMemSize) {
    auto file = good_image();
    put<uint64_t>(file, phdr_field(kDataPhdr, offsetof(Elf64_Phdr, p_memsz)), 0x10);
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::FileSizeExceedsMemSize));
    EXPECT_EQ(detail_of(file), "segment 0: filesz 0x30 exceeds memsz 0x10");
    put<uint64_t>(file, phdr_field(kDataPhdr, offsetof(Elf64_Phdr, p_memsz)), 0);
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::FileSizeExceedsMemSize));
}

TEST(ElfErrors, AddressOverflow) {
    auto file = good_image();
    put<uint64_t>(file, phdr_field(kTextPhdr, offsetof(Elf64_Phdr, p_paddr)), 0ull - kTextSize);
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::AddressOverflow));
    EXPECT_EQ(detail_of(file),
              "segment 1: paddr 0xffffffffffffff80 + memsz 0x80 overflows 64 bits");
    file = good_image();
    put<uint64_t>(file, phdr_field(kRodataPhdr, offsetof(Elf64_Phdr, p_vaddr)), ~0ull - 0x10);
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::AddressOverflow));
}

TEST(ElfErrors, SegmentOutsideRam) {
    const auto file = good_image();
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::SegmentOutsideRam, 0x102fff));
    EXPECT_EQ(detail_of(file, 0x102fff),
              "segment 0: paddr 0x102000 + memsz 0x1000 exceeds RAM size 0x102fff");
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::SegmentOutsideRam, 0));
}

TEST(ElfErrors, OverlappingSegmentsPhysically) {
    auto file = good_image();
    put<uint64_t>(file, phdr_field(kRodataPhdr, offsetof(Elf64_Phdr, p_paddr)), kTextPa + 0x40);
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::OverlappingSegments));
    EXPECT_EQ(detail_of(file),
              "segment 1 [0x100000, 0x100080) and segment 2 [0x100040, 0x100060) overlap in "
              "physical memory");
}

TEST(ElfErrors, OverlappingSegmentsVirtually) {
    auto file = good_image();
    put<uint64_t>(file, phdr_field(kRodataPhdr, offsetof(Elf64_Phdr, p_vaddr)),
                  kTextVa + kTextSize - 1);
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::OverlappingSegments));
}

TEST(ElfErrors, NoLoadableSegment) {
    {
        ElfBuilder b;
        b.add_pvh_note(0x100000);
        b.entry(kTextVa);
        EXPECT_TRUE(FailsWith(b.build(), ElfErrorCode::NoLoadableSegment));
    }
    {
        ElfBuilder b;
        b.add_load({}, kTextVa, kTextPa, 0, PF_R | PF_X);
        b.entry(kTextVa);
        EXPECT_TRUE(FailsWith(b.build(), ElfErrorCode::NoLoadableSegment));
    }
    {
        ElfBuilder b;
        b.entry(kTextVa);
        auto file = b.build();
        put<uint16_t>(file, offsetof(Elf64_Ehdr, e_phentsize), 0);  // no table at all
        EXPECT_TRUE(FailsWith(file, ElfErrorCode::NoLoadableSegment));
    }
}

TEST(ElfErrors, WritableExecutableSegment) {
    auto file = good_image();
    put<uint32_t>(file, phdr_field(kTextPhdr, offsetof(Elf64_Phdr, p_flags)), PF_R | PF_W | PF_X);
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::WritableExecutableSegment));
    put<uint32_t>(file, phdr_field(kTextPhdr, offsetof(Elf64_Phdr, p_flags)), PF_W | PF_X);
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::WritableExecutableSegment));
}

TEST(ElfErrors, EntryOutsideExecutableSegment) {
    for (uint64_t entry : {kDataVa, kRodataVa, kTextVa - 1, kTextVa + kTextSize, uint64_t{0}}) {
        auto file = good_image();
        put<uint64_t>(file, offsetof(Elf64_Ehdr, e_entry), entry);
        EXPECT_TRUE(FailsWith(file, ElfErrorCode::EntryOutsideExecutableSegment)) << entry;
    }
    auto file = good_image();
    put<uint64_t>(file, offsetof(Elf64_Ehdr, e_entry), kTextVa + kTextSize - 1);
    EXPECT_NO_THROW((void)parse_elf(file, kRam));
    put<uint32_t>(file, phdr_field(kTextPhdr, offsetof(Elf64_Phdr, p_flags)), PF_R);
    EXPECT_TRUE(FailsWith(file, ElfErrorCode::EntryOutsideExecutableSegment));
    EXPECT_EQ(detail_of(file),
              "e_entry 0xffffffff8010007f is not inside an executable segment (there is none)");
}

// ---- Sweeps --------------------------------------------------------------------------------

// Parses `file`; on success also loads it and symbolises a few addresses, so that whatever a
// corrupted header lets through is exercised end to end.
bool parse_and_use(const std::vector<uint8_t>& file, std::vector<uint8_t>& ram,
                   ElfImage* out = nullptr) {
    ElfImage image;
    try {
        image = parse_elf(file, ram.size());
    } catch (const ElfError&) {
        return false;
    }
    load_segments(image, file, ram);
    for (uint64_t a : {kTextVa, kTextVa + 0x31, kDataVa + 0x44, image.entry})
        (void)image.symbolize(a);
    if (out) *out = std::move(image);
    return true;
}

TEST(ElfSweep, EveryTruncationThrowsOrKeepsTheSegments) {
    const auto full = good_image();
    const uint64_t data_end = good_layout().data_end;
    const ElfImage reference = parse_elf(full, kRam);
    std::vector<uint8_t> ram(kRam);
    size_t parsed = 0;
    for (size_t len = 0; len < full.size(); ++len) {
        // A fresh allocation of exactly len bytes, so ASan sees any read past its end.
        const std::vector<uint8_t> prefix(full.begin(), full.begin() + static_cast<ptrdiff_t>(len));
        ElfImage image;
        if (!parse_and_use(prefix, ram, &image)) continue;
        ++parsed;
        EXPECT_GE(len, data_end) << "parsed although PT_LOAD data was cut off";
        EXPECT_EQ(image.segments, reference.segments) << len;
        EXPECT_EQ(image.entry, reference.entry) << len;
    }
    // Cutting only the symbol and section tables leaves a loadable image.
    EXPECT_EQ(parsed, full.size() - data_end);
}

TEST(ElfSweep, HeaderBitFlipsParseOrThrow) {
    const auto good = good_image();
    const auto layout = good_layout();
    const uint64_t headers_end = layout.phdr_offset(layout.phdrs.size());
    std::vector<uint8_t> ram(kRam);
    size_t parsed = 0, thrown = 0;
    for (uint64_t bit = 0; bit < headers_end * 8; ++bit) {
        auto file = good;
        file[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        (parse_and_use(file, ram) ? parsed : thrown)++;
    }
    EXPECT_GT(parsed, 0u);
    EXPECT_GT(thrown, 0u);
}

TEST(ElfSweep, SectionAndSymbolBitFlipsNeverChangeSegments) {
    const auto good = good_image();
    const auto layout = good_layout();
    const ElfImage reference = parse_elf(good, kRam);
    std::vector<uint8_t> ram(kRam);
    for (uint64_t bit = layout.strtab_offset * 8; bit < good.size() * 8; ++bit) {
        auto file = good;
        file[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        ElfImage image;
        ASSERT_TRUE(parse_and_use(file, ram, &image)) << "bit " << bit;
        EXPECT_EQ(image.segments, reference.segments) << "bit " << bit;
        EXPECT_TRUE(std::is_sorted(
            image.symbols.begin(), image.symbols.end(),
            [](const ElfSymbol& a, const ElfSymbol& b) { return a.value < b.value; }));
    }
}

TEST(ElfSweep, RandomCorruptionParsesOrThrows) {
    const auto good = good_image();
    std::mt19937_64 rng(7);
    std::vector<uint8_t> ram(kRam);
    for (int iteration = 0; iteration < 4000; ++iteration) {
        auto file = good;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) file[rng() % file.size()] = static_cast<uint8_t>(rng());
        (void)parse_and_use(file, ram);
    }
}

// ---- Hash and file reading ---------------------------------------------------------------

TEST(ElfHash, Fnv1a64KnownValues) {
    EXPECT_EQ(fnv1a64({}), 0xcbf29ce484222325ull);
    const uint8_t a[] = {'a'};
    EXPECT_EQ(fnv1a64(a), 0xaf63dc4c8601ec8cull);
    auto file = good_image();
    const uint64_t before = parse_elf(file, kRam).content_hash;
    file.back() ^= 1;
    EXPECT_NE(parse_elf(file, kRam).content_hash, before);
}

TEST(ElfFile, ReadsWholeFile) {
    const std::string path = ::testing::TempDir() + "elf_loader_test_image.elf";
    const auto file = good_image();
    {
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(file.data()),
                  static_cast<std::streamsize>(file.size()));
    }
    EXPECT_EQ(read_file_bytes(path), file);
    std::remove(path.c_str());
}

TEST(ElfFile, MissingFileAndDirectoryThrowFileError) {
    const std::string missing = ::testing::TempDir() + "no/such/kernel.elf";
    try {
        (void)read_file_bytes(missing);
        FAIL() << "read a missing file";
    } catch (const FileError& e) {
        EXPECT_EQ(e.path(), missing);
        EXPECT_EQ(std::string(e.what()), "cannot read " + missing + ": No such file or directory");
    }
    EXPECT_THROW((void)read_file_bytes(::testing::TempDir()), FileError);
}

}  // namespace
}  // namespace emu
