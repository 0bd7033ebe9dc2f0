// Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/), so that they can be
// regenerated when a format changes:
//   cmake --build <build> --target fuzz_make_seeds && <build>/fuzz/fuzz_make_seeds fuzz/corpus
// ELF images come from the unit tests' builder (tests/unit/elf/elf_builder.h), traces from
// the real TraceWriter, page_alloc programs from page_alloc_program.h's Encoder. The output
// is deterministic. A few seeds are deliberately invalid (a rule broken, a CRC wrong, a
// file cut short) so that the error paths start covered.
//
// The page_alloc programs must not trigger the planted bug of page_alloc_fuzzer_planted
// (an order-0 sensitive allocation right after the free of an order-2 block on another
// CPU); ctest fuzz_planted_seeds_clean checks that. Some come close on purpose.
#include <elf.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "emu/events.h"
#include "emu/trace/trace_format.h"
#include "emu/trace/trace_writer.h"
#include "fuzz/page_alloc_program.h"
#include "tests/unit/elf/elf_builder.h"

namespace fs = std::filesystem;

namespace {

fs::path g_root;

void write(const std::string& target, const std::string& name, const std::vector<uint8_t>& bytes) {
    const fs::path dir = g_root / target;
    fs::create_directories(dir);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    std::printf("%s/%s: %zu bytes\n", target.c_str(), name.c_str(), bytes.size());
}

std::vector<uint8_t> read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + 7 * i);
    return v;
}

// ---- ELF -------------------------------------------------------------------------------------
constexpr uint64_t kKernelMap = 0xffffffff80000000ull;  // __START_KERNEL_map

void elf_seeds() {
    const std::string t = "elf_loader_fuzzer";
    {
        // The unit tests' good image, smaller: text, rodata, data + bss, notes, symbols.
        testutil::ElfBuilder b;
        b.entry(kKernelMap + 0x100010);
        b.add_load(pattern(0x40, 1), kKernelMap + 0x100000, 0x100000, 0x40, PF_R | PF_X);
        b.add_notes(
            {{"GNU", NT_GNU_BUILD_ID, pattern(8, 9)}, {"Xen", 18, {0x40, 0x00, 0x10, 0x00}}});
        b.add_load(pattern(0x10, 2), kKernelMap + 0x101000, 0x101000, 0x10, PF_R);
        b.add_load(pattern(0x20, 3), kKernelMap + 0x102000, 0x102000, 0x1000, PF_R | PF_W);
        b.add_function("_start", kKernelMap + 0x100000, 0x10);
        b.add_function("start_kernel", kKernelMap + 0x100010, 0x20);
        b.add_function("asm_idle", kKernelMap + 0x100030, 0);
        b.add_symbol("helper", kKernelMap + 0x100038, 0x8, STT_FUNC, STB_LOCAL);
        b.add_object("boot_params", kKernelMap + 0x102000, 0x100);
        write(t, "good_kernel.elf", b.build());
    }
    {
        testutil::ElfBuilder b;
        b.entry(0x100000).section_headers(false);
        b.add_load(pattern(0x20, 4), 0x100000, 0x100000, 0x20, PF_R | PF_X);
        write(t, "good_minimal.elf", b.build());
    }
    {
        // An 8-byte PVH descriptor (Linux's _ASM_PTR), bss only data, no symbols.
        testutil::ElfBuilder b;
        b.entry(kKernelMap + 0x200000).section_headers(false);
        b.add_load(pattern(0x30, 5), kKernelMap + 0x200000, 0x200000, 0x30, PF_R | PF_X);
        b.add_load({}, kKernelMap + 0x210000, 0x210000, 0x2000, PF_R | PF_W);
        b.add_pvh_note(0x200000, 8);
        write(t, "good_pvh8_bss.elf", b.build());
    }
    {
        testutil::ElfBuilder b;
        b.entry(0x100000).section_headers(false);
        b.add_load(pattern(0x20, 6), 0x100000, 0x100000, 0x100, PF_R | PF_X);
        b.add_load(pattern(0x20, 7), 0x200000, 0x100080, 0x20, PF_R);
        write(t, "bad_overlapping.elf", b.build());
    }
    {
        testutil::ElfBuilder b;
        b.entry(0x100000).section_headers(false);
        b.add_load(pattern(0x20, 8), 0x100000, 0x100000, 0x20, PF_R | PF_W | PF_X);
        write(t, "bad_writable_executable.elf", b.build());
    }
}

// ---- Traces ----------------------------------------------------------------------------------
emu::Event event(emu::EventKind kind, uint32_t vcpu, uint64_t icount, uint64_t rip,
                 std::vector<uint64_t> args) {
    emu::Event e;
    e.kind = kind;
    e.vcpu = vcpu;
    e.icount = icount;
    e.rip = rip;
    for (size_t i = 0; i < args.size() && i < 6; ++i) e.a[i] = args[i];
    return e;
}

std::vector<uint8_t> make_trace(const emu::trace::TraceHeader& h,
                                const std::vector<emu::Event>& events, size_t chunk_bytes) {
    const fs::path tmp = fs::temp_directory_path() / "asi_fuzz_make_seeds.trace";
    {
        emu::trace::TraceWriter w(tmp.string(), h, chunk_bytes);
        for (const emu::Event& e : events) w.on_event(e);
        w.close();
    }
    std::vector<uint8_t> bytes = read(tmp);
    fs::remove(tmp);
    return bytes;
}

void trace_seeds() {
    using emu::EventKind;
    const std::string t = "trace_reader_fuzzer";
    emu::trace::TraceHeader h;
    h.image_hash = 0x0123456789abcdefull;
    h.config = "mem=4194304 seed=1 cpus=2";
    h.cpu_profile = "skylake";
    h.vcpu_count = 2;
    const uint64_t k = 0xffffffff81000000ull;
    const std::vector<emu::Event> events = {
        event(EventKind::VcpuState, 0, 0, 0xfff0, {0x60000010, 0, 0}),
        event(EventKind::Cr0Write, 0, 10, 0x100010, {0x80000011, 0x11}),
        event(EventKind::Cr4Write, 0, 12, 0x100014, {0x20620, 0x20}),
        event(EventKind::TableSnapshot, 0, 20, 0x100020, {0x9000}),
        event(EventKind::TableEntry, 0, 20, 0x100020, {0x9000, 511, 0xa003}),
        event(EventKind::Cr3Load, 0, 30, 0x100030, {0x9001, 0, 0}),
        event(EventKind::MsrWrite, 1, 5, 0x100100, {0xc0000080, 0xd01}),
        event(EventKind::PteWrite, 0, 40, k + 0x40, {0xa008, 8, 0x200083}),
        event(EventKind::Invlpg, 0, 41, k + 0x44, {0xffff888000200000ull, 1}),
        event(EventKind::Invpcid, 1, 50, k + 0x80, {0, 2, 0xffff888000201000ull}),
        event(EventKind::Tracepoint, 0, 60, k + 0x90, {1, 0x200000, 0, 3, 0, 0}),
        event(EventKind::Tracepoint, 0, 61, k + 0x94, {5, 0x200000, 1, 0, 0, 0}),
        event(EventKind::FrameContent, 1, 70, k + 0xa0, {0x201000, 1}),
        event(EventKind::Exception, 1, 80, k + 0xb0, {14, 2, 0xffff888000202000ull, 14}),
        event(EventKind::Syscall, 0, 90, 0x401000, {60}),
        event(EventKind::Tracepoint, 1, 95, k + 0xc0, {7, 0x101, 1, 0xffff888000200000ull, 3, 0}),
        event(EventKind::Cr3Load, 1, 99, k + 0xd0, {0x9002, 0x9001, 1}),
    };
    write(t, "two_vcpus_small_chunks.trace", make_trace(h, events, 96));
    write(t, "one_chunk.trace", make_trace(h, events, emu::trace::kDefaultChunkBytes));

    emu::trace::TraceHeader h1;
    h1.vcpu_count = 1;
    write(t, "empty.trace", make_trace(h1, {}, 64));

    std::vector<uint8_t> cut = make_trace(h, events, 96);
    cut.resize(cut.size() - emu::trace::kChunkHeaderBytes - emu::trace::kEndPayloadBytes - 7);
    write(t, "truncated_tail.trace", cut);

    std::vector<uint8_t> bad = make_trace(h, events, 96);
    const size_t header_len = bad[12] | bad[13] << 8 | bad[14] << 16 | bad[15] << 24;
    bad[header_len + emu::trace::kChunkHeaderBytes + 2] ^= 0x40;  // first payload: CRC fails
    write(t, "bad_payload_crc.trace", bad);
}

// ---- page_alloc programs -----------------------------------------------------------------------
void page_alloc_seeds() {
    using namespace page_alloc;
    using page_alloc_fuzz::Config;
    using page_alloc_fuzz::Encoder;
    using page_alloc_fuzz::Policy;
    const std::string t = "page_alloc_fuzzer";
    const gfp_t kSens = GFP_USER;             // blocking, sensitive
    const gfp_t kNon = GFP_KERNEL;            // blocking, nonsensitive
    const gfp_t kAtomicSens = kGfpSensitive;  // ALLOC_NOBLOCK, sensitive
    const gfp_t kAtomicNon = GFP_ATOMIC;      // ALLOC_NOBLOCK, nonsensitive

    {
        Encoder e(Config{Policy::kFreetype, true, 0, 1, false});
        e.alloc(0, 0, kSens)
            .alloc(0, 0, kNon)
            .alloc(0, 3, kSens | kGfpMovable)
            .alloc(0, 1, kNon | kGfpZero);
        e.free(1, 0).alloc(0, 2, kNon | kGfpReclaimable).free(0, 0).drain(0).deferred_work();
        e.alloc(0, 0, kAtomicNon).alloc(0, 0, kAtomicSens).free_burst(3, 0);
        write(t, "freetype_basic.bin", e.bytes);
    }
    {
        // Fill sensitive pageblocks, then force flips both ways, with NOBLOCK attempts.
        Encoder e(Config{Policy::kFreetype, true, 0, 2, false});
        e.alloc_burst(64, 0, 3, kNon).alloc_burst(40, 1, 3, kNon | kGfpMovable);
        e.alloc(1, 0, kAtomicSens).alloc(0, 1, kAtomicNon);
        e.free_burst(32, 1).free_burst(32, 0).drain_all();
        e.alloc_burst(64, 1, 3, kSens).alloc_burst(64, 0, 3, kSens | kGfpZero);
        e.alloc(0, 0, kNon).alloc(1, 2, kAtomicNon).free(5, 0).free(9, 1).drain_all();
        write(t, "freetype_flips.bin", e.bytes);
    }
    {
        // Near misses for the planted bug: order-2 frees followed by an order-0 sensitive
        // allocation on the same CPU, or a nonsensitive one on another CPU.
        Encoder e(Config{Policy::kFreetype, true, 1, 4, true});
        e.alloc(0, 2, kSens).alloc(1, 0, kSens).alloc(2, 2, kNon).alloc(3, 0, kNon);
        e.free(0, 1).alloc(1, 0, kSens);
        e.free(1, 2).alloc(3, 0, kNon);
        e.alloc(2, 2, kSens).free(3, 0).alloc(0, 1, kSens).drain(2).free_burst(4, 3);
        write(t, "freetype_layout1_4cpus.bin", e.bytes);
    }
    {
        Encoder e(Config{Policy::kRfc, true, 0, 2, false});
        e.alloc_burst(16, 0, 0, kNon).alloc_burst(8, 1, 1, kSens).alloc(0, 3, kNon | kGfpMovable);
        e.free_burst(10, 1).alloc(1, 0, kSens).deferred_work().alloc_burst(4, 0, 2, kSens);
        e.free(2, 0)
            .alloc(0, 0, kAtomicNon)
            .check()
            .free_burst(8, 0)
            .deferred_work()
            .drain_all()
            .check();
        write(t, "rfc_deferred.bin", e.bytes);
    }
    {
        Encoder e(Config{Policy::kOff, true, 1, 3, true});
        e.alloc(0, 0, kSens)
            .alloc(1, 1, kNon | kGfpZero)
            .alloc(2, 3, kAtomicSens | kGfpReclaimable);
        e.free(0, 2).alloc(2, 0, kSens | kGfpZero).free_burst(2, 1).drain(1);
        write(t, "off_basic.bin", e.bytes);
    }
    {
        // Exhaustion: layout 0 has 1024 pages; order-3 blocks of both sensitivities, then an
        // invalid request, frees and a whole-zone check.
        Encoder e(Config{Policy::kFreetype, false, 0, 1, false});
        e.alloc_burst(64, 0, 3, kSens).alloc_burst(64, 0, 3, kNon).alloc(0, 0, kSens);
        e.alloc(0, 0, kGfpMovable | kGfpReclaimable).check();
        e.free_burst(32, 0).alloc(0, 0, kAtomicSens).free(7, 0).drain_all().check();
        write(t, "freetype_exhaust.bin", e.bytes);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_ROOT (e.g. fuzz/corpus)\n", argv[0]);
        return 2;
    }
    g_root = argv[1];
    elf_seeds();
    trace_seeds();
    page_alloc_seeds();
    return 0;
}
