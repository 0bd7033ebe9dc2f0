// Helpers shared by the trace tests: synthetic event streams, temporary files and a walker
// over the chunks of a trace image.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "emu/events.h"
#include "emu/trace/crc32.h"
#include "emu/trace/trace_format.h"
#include "emu/trace/trace_reader.h"
#include "emu/trace/trace_writer.h"

namespace trace_test {

using namespace emu;
using namespace emu::trace;

inline bool same(const Event& x, const Event& y) {
    if (x.icount != y.icount || x.rip != y.rip || x.vcpu != y.vcpu || x.kind != y.kind) return false;
    for (int i = 0; i < 6; ++i)
        if (x.a[i] != y.a[i]) return false;
    return true;
}

inline std::string describe(const Event& e) {
    std::string s = "{icount=" + std::to_string(e.icount) + " rip=" + std::to_string(e.rip) +
                    " vcpu=" + std::to_string(e.vcpu) +
                    " kind=" + std::to_string(static_cast<unsigned>(e.kind)) + " a=";
    for (uint64_t v : e.a) s += std::to_string(v) + ",";
    return s + "}";
}

// Expects `got` to equal the first `n` events of `want`.
inline void expect_prefix(const std::vector<Event>& got, const std::vector<Event>& want, size_t n) {
    ASSERT_EQ(got.size(), n);
    for (size_t i = 0; i < n; ++i)
        ASSERT_TRUE(same(got[i], want[i])) << "event " << i << ": " << describe(got[i])
                                           << " != " << describe(want[i]);
}

// A deterministic stream of `n` events of every kind over `vcpus` interleaved vCPUs, with
// icounts that mostly grow (sometimes jump back, as after a snapshot restore) and arguments
// from small values to UINT64_MAX.
inline std::vector<Event> make_events(size_t n, uint32_t vcpus, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<uint64_t> icount(vcpus, 0);
    const uint64_t specials[] = {0, 1, 2, 127, 128, 0xFFF, UINT64_MAX, UINT64_MAX - 1,
                                 uint64_t{1} << 63, (uint64_t{1} << 63) - 1,
                                 0xFFFFFFFF81000000ull, 0xFFFF888000001000ull, 0x1234000ull};
    std::vector<Event> out;
    for (size_t i = 0; i < n; ++i) {
        Event e;
        e.vcpu = static_cast<uint32_t>(rng() % vcpus);
        const uint64_t r = rng() % 100;
        if (r < 80) icount[e.vcpu] += rng() % 200;
        else if (r < 95) icount[e.vcpu] += rng() % 100000000;
        else if (r < 98) icount[e.vcpu] -= rng() % 5000;  // wraps below 0 too
        else icount[e.vcpu] = rng();
        e.icount = icount[e.vcpu];
        e.kind = static_cast<EventKind>(1 + i % 9);
        e.rip = (rng() % 4 == 0) ? specials[rng() % std::size(specials)]
                                 : 0xFFFFFFFF81000000ull + rng() % 0x200000;
        for (uint64_t& a : e.a) {
            const uint64_t pick = rng() % 4;
            a = pick == 0 ? 0 : pick == 1 ? specials[rng() % std::size(specials)] : pick == 2 ? rng() % 4096 : rng();
        }
        out.push_back(e);
    }
    // The extremes, on the last vCPU.
    Event max;
    max.icount = UINT64_MAX;
    max.rip = UINT64_MAX;
    max.vcpu = vcpus - 1;
    max.kind = EventKind::Tracepoint;
    for (uint64_t& a : max.a) a = UINT64_MAX;
    out.push_back(max);
    Event zero;
    zero.kind = EventKind::Syscall;
    out.push_back(zero);
    return out;
}

inline TraceHeader make_header(uint32_t vcpus) {
    TraceHeader h;
    h.image_hash = 0x0123456789ABCDEFull;
    h.config = "mem=268435456 seed=7 append=asi.selftest cpus=" + std::to_string(vcpus);
    h.cpu_profile = "skylake-client";
    h.vcpu_count = vcpus;
    return h;
}

// A directory for one test, removed afterwards (tests run in parallel under ctest).
class TempDir {
public:
    TempDir() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        path_ = std::filesystem::temp_directory_path() /
                ("asi_trace_test_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" +
                 info->name());
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

inline std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void write_trace(const std::string& path, const TraceHeader& h, const std::vector<Event>& events,
                        size_t chunk_bytes = kDefaultChunkBytes) {
    TraceWriter w(path, h, chunk_bytes);
    for (const Event& e : events) w.on_event(e);
    w.close();
}

inline std::vector<uint8_t> trace_image(const TraceHeader& h, const std::vector<Event>& events,
                                        size_t chunk_bytes, const TempDir& dir) {
    const std::string path = dir.file("image.trace");
    write_trace(path, h, events, chunk_bytes);
    return read_bytes(path);
}

// The chunks of a well-formed image, from its header's header_len on.
struct ChunkSpan {
    size_t offset = 0;
    size_t end = 0;  // offset after the payload
    ChunkHeader header;
};
inline std::vector<ChunkSpan> walk_chunks(const std::vector<uint8_t>& img) {
    std::vector<ChunkSpan> out;
    size_t off = get_u32(img.data() + 12);
    while (off + kChunkHeaderBytes <= img.size()) {
        ChunkSpan c;
        c.offset = off;
        EXPECT_TRUE(decode_chunk_header(img.data() + off, c.header));
        c.end = off + kChunkHeaderBytes + c.header.payload_len;
        out.push_back(c);
        off = c.end;
        if (c.header.marker == kEndMarker) break;
    }
    return out;
}

// Rewrites the chunk header at `off` with `h` (recomputing its CRC).
inline void put_chunk_header(std::vector<uint8_t>& img, size_t off, const ChunkHeader& h) {
    encode_chunk_header(h, img.data() + off);
}

// A data chunk with the given payload.
inline std::vector<uint8_t> make_chunk(uint32_t index, const std::vector<uint8_t>& payload, uint32_t records) {
    std::vector<uint8_t> out(kChunkHeaderBytes);
    ChunkHeader h;
    h.index = index;
    h.payload_len = static_cast<uint32_t>(payload.size());
    h.record_count = records;
    h.payload_crc = crc32c(payload.data(), payload.size());
    encode_chunk_header(h, out.data());
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

inline std::vector<uint8_t> make_end_chunk(uint32_t index, uint64_t total_records) {
    std::vector<uint8_t> out(kChunkHeaderBytes + kEndPayloadBytes);
    put_u64(out.data() + kChunkHeaderBytes, total_records);
    ChunkHeader h;
    h.marker = kEndMarker;
    h.index = index;
    h.payload_len = kEndPayloadBytes;
    h.payload_crc = crc32c(out.data() + kChunkHeaderBytes, kEndPayloadBytes);
    encode_chunk_header(h, out.data());
    return out;
}

// Recomputes the file header's CRC after a test edited a header field.
inline void fix_header_crc(std::vector<uint8_t>& img) {
    const uint32_t len = get_u32(img.data() + 12);
    put_u32(img.data() + len - 4, crc32c(img.data(), len - 4));
}

template <typename F>
TraceErrorCode error_code_of(F&& f) {
    try {
        f();
    } catch (const TraceError& e) {
        return e.code();
    }
    ADD_FAILURE() << "no TraceError";
    return TraceErrorCode::WriteFailed;
}

}  // namespace trace_test
