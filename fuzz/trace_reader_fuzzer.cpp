// libFuzzer target: the trace reader (emu/trace/trace_reader.h) on arbitrary bytes.
//
// Each input is read twice, all at once (read_trace_bytes) and streaming
// (TraceReader::from_bytes + next()), and, when it starts with the trace magic, twice more
// after its CRCs have been recomputed (fix_crcs below). Without that second pass nearly
// every mutation would stop at a CRC check and the fuzzer would never see the record
// decoder; with it, the CRC checks themselves are still fuzzed by the first pass.
//
// Only TraceError may come out; any other exception, crash or sanitizer report is a
// finding. Checked (each violation traps): both ways of reading agree (same outcome, same
// header, same events, same truncated tail, same chunk count); after a TraceError the
// streaming reader throws the same error again; a successfully read header survives
// encode_header/decode_header unchanged.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "emu/trace/crc32.h"
#include "emu/trace/trace_error.h"
#include "emu/trace/trace_format.h"
#include "emu/trace/trace_reader.h"

namespace {

using namespace emu::trace;

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
    std::fprintf(stderr, "trace_reader_fuzzer: VIOLATION: %s %s\n", what, detail.c_str());
    std::fflush(stderr);
    __builtin_trap();
}

uint32_t get_u32(const std::vector<uint8_t>& b, size_t off) {
    return uint32_t{b[off]} | uint32_t{b[off + 1]} << 8 | uint32_t{b[off + 2]} << 16 |
           uint32_t{b[off + 3]} << 24;
}
void put_u32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[off + i] = static_cast<uint8_t>(v >> (8 * i));
}

// Recomputes the header CRC and, chunk by chunk, the payload and chunk-header CRCs, as far
// as the lengths in the file allow (layout: trace_format.h).
std::vector<uint8_t> fix_crcs(std::span<const uint8_t> in) {
    std::vector<uint8_t> b(in.begin(), in.end());
    if (b.size() < kHeaderPrefixBytes) return b;
    const uint32_t header_len = get_u32(b, 12);
    if (header_len < kMinHeaderBytes || header_len > b.size()) return b;
    put_u32(b, header_len - 4, crc32c(b.data(), header_len - 4));
    size_t off = header_len;
    while (b.size() - off >= kChunkHeaderBytes) {
        const uint32_t len = get_u32(b, off + 8);
        const bool whole = len <= b.size() - off - kChunkHeaderBytes;
        if (whole) put_u32(b, off + 16, crc32c(b.data() + off + kChunkHeaderBytes, len));
        put_u32(b, off + 20, crc32c(b.data() + off, 20));
        if (!whole) break;
        off += kChunkHeaderBytes + len;
    }
    return b;
}

bool same_event(const emu::Event& x, const emu::Event& y) {
    return x.icount == y.icount && x.rip == y.rip && x.vcpu == y.vcpu && x.kind == y.kind &&
           std::memcmp(x.a, y.a, sizeof x.a) == 0;
}

void check(std::span<const uint8_t> bytes) {
    // All at once.
    std::optional<TraceReadResult> whole;
    std::optional<TraceErrorCode> whole_error;
    try {
        whole = read_trace_bytes(bytes);
    } catch (const TraceError& e) {
        whole_error = e.code();
    }

    // Streaming.
    std::optional<TraceErrorCode> stream_error;
    std::vector<emu::Event> events;
    std::optional<TraceReader> reader;
    try {
        reader.emplace(TraceReader::from_bytes(bytes));
        emu::Event e;
        while (reader->next(e)) {
            events.push_back(e);
            if (events.size() > bytes.size()) fail("more events than input bytes");
        }
        // The end is sticky.
        if (reader->next(e)) fail("next() returned an event after the end");
    } catch (const TraceError& e) {
        stream_error = e.code();
    }
    if (stream_error && reader) {
        // "after a throw every later call throws the same error"
        emu::Event e;
        try {
            (void)reader->next(e);
            fail("next() after a TraceError did not throw");
        } catch (const TraceError& again) {
            if (again.code() != *stream_error)
                fail("next() after a TraceError threw another error");
        }
    }

    if (whole_error.has_value() != stream_error.has_value())
        fail("read_trace_bytes and TraceReader disagree on success",
             whole_error ? trace_error_name(*whole_error) : trace_error_name(*stream_error));
    if (whole_error) {
        if (*whole_error != *stream_error)
            fail("read_trace_bytes and TraceReader throw different errors");
        return;
    }
    if (!(whole->header == reader->header())) fail("headers differ");
    if (whole->events.size() != events.size()) fail("event counts differ");
    for (size_t i = 0; i < events.size(); ++i)
        if (!same_event(whole->events[i], events[i])) fail("events differ", std::to_string(i));
    if (whole->truncated_tail != reader->truncated_tail() ||
        whole->tail_note != reader->tail_note())
        fail("truncated tails differ");
    if (whole->chunks != reader->chunks() || whole->skipped_records != reader->skipped_records())
        fail("chunk or skipped-record counts differ");
    if (reader->events_read() != events.size()) fail("events_read() is not the number of events");
    for (const emu::Event& e : events)
        if (e.vcpu >= whole->header.vcpu_count) fail("event of a vCPU outside vcpu_count");

    // Header round trip (the writer accepts shorter strings than the reader).
    const TraceHeader& h = whole->header;
    if (h.config.size() <= kMaxHeaderString && h.cpu_profile.size() <= kMaxHeaderString) {
        TraceHeader again = decode_header(encode_header(h));
        again.version = h.version;  // the writer always writes kFormatVersion
        if (!(again == h)) fail("header does not survive encode_header/decode_header");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::span<const uint8_t> in(data, size);
    check(in);
    if (size >= sizeof kMagic && std::memcmp(data, kMagic, sizeof kMagic) == 0) {
        const std::vector<uint8_t> fixed = fix_crcs(in);
        if (!std::equal(fixed.begin(), fixed.end(), in.begin())) check(fixed);
    }
    return 0;
}
