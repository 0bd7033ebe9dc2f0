// The encodings of trace_format.h: varints, the file header, chunk headers and records.
#include "emu/trace/trace_format.h"

#include <gtest/gtest.h>

#include <cstring>

#include "trace_test_util.h"

namespace {

using namespace trace_test;

TEST(TraceVarint, RoundTripsEdgesWithCanonicalLengths) {
    const std::pair<uint64_t, size_t> cases[] = {{0, 1},
                                                 {1, 1},
                                                 {127, 1},
                                                 {128, 2},
                                                 {16383, 2},
                                                 {16384, 3},
                                                 {uint64_t{1} << 63, 10},
                                                 {UINT64_MAX, 10}};
    for (const auto& [v, len] : cases) {
        uint8_t buf[kMaxVarintBytes];
        ASSERT_EQ(put_varint(buf, v), len) << v;
        const uint8_t* p = buf;
        uint64_t got = 0;
        ASSERT_TRUE(get_varint(p, buf + len, got)) << v;
        EXPECT_EQ(got, v);
        EXPECT_EQ(p, buf + len);
        p = buf;
        EXPECT_FALSE(get_varint(p, buf + len - 1, got)) << "cut off " << v;
        EXPECT_EQ(p, buf) << "a failed read does not advance";
    }
}

TEST(TraceVarint, RejectsOverlongAndOverflowing) {
    uint64_t v = 0;
    const uint8_t overlong[] = {0x80, 0x00};
    const uint8_t* p = overlong;
    EXPECT_FALSE(get_varint(p, overlong + 2, v));
    uint8_t overflow[10];
    std::fill(overflow, overflow + 9, 0xFF);
    overflow[9] = 0x02;  // bit 64
    p = overflow;
    EXPECT_FALSE(get_varint(p, overflow + 10, v));
    uint8_t eleven[11];
    std::fill(eleven, eleven + 10, 0x80);
    eleven[10] = 0x01;
    p = eleven;
    EXPECT_FALSE(get_varint(p, eleven + 11, v));
}

TEST(TraceZigzag, MapsSmallMagnitudesToSmallCodes) {
    EXPECT_EQ(zigzag(0), 0u);
    EXPECT_EQ(zigzag(UINT64_MAX), 1u);  // -1
    EXPECT_EQ(zigzag(1), 2u);
    EXPECT_EQ(zigzag(uint64_t{1} << 63), UINT64_MAX);  // INT64_MIN
    for (uint64_t v : {uint64_t{0}, uint64_t{5}, uint64_t{UINT64_MAX}, uint64_t{1} << 63, uint64_t{0xFFFFFFFF81000000ull}})
        EXPECT_EQ(unzigzag(zigzag(v)), v);
}

TEST(TraceHeaderCodec, RoundTripsAndDocumentsTheLayout) {
    TraceHeader h = make_header(3);
    const std::vector<uint8_t> bytes = encode_header(h);
    ASSERT_EQ(bytes.size(), kMinHeaderBytes + h.config.size() + h.cpu_profile.size());
    EXPECT_EQ(std::memcmp(bytes.data(), "ASITRACE", 8), 0);
    EXPECT_EQ(get_u32(bytes.data() + 8), 0x00010000u);
    EXPECT_EQ(get_u32(bytes.data() + 12), bytes.size());
    EXPECT_EQ(get_u64(bytes.data() + 16), h.image_hash);
    EXPECT_EQ(get_u32(bytes.data() + 24), 3u);
    EXPECT_EQ(get_u32(bytes.data() + 28), h.config.size());
    EXPECT_EQ(header_length(std::span(bytes).first(16), bytes.size()), bytes.size());
    EXPECT_EQ(decode_header(bytes), h);
}

TEST(TraceHeaderCodec, WriterRejectsHeadersTheFormatCannotHold) {
    TraceHeader h = make_header(1);
    h.vcpu_count = 0;
    EXPECT_THROW(encode_header(h), std::invalid_argument);
    h.vcpu_count = kMaxVcpus + 1;
    EXPECT_THROW(encode_header(h), std::invalid_argument);
    h.vcpu_count = 1;
    h.config.assign(kMaxHeaderString + 1, 'x');
    EXPECT_THROW(encode_header(h), std::invalid_argument);
}

TEST(TraceChunkHeader, CrcCoversEveryField) {
    ChunkHeader h;
    h.index = 7;
    h.payload_len = 1000;
    h.record_count = 20;
    h.payload_crc = 0xDEADBEEF;
    uint8_t buf[kChunkHeaderBytes];
    encode_chunk_header(h, buf);
    ChunkHeader got;
    ASSERT_TRUE(decode_chunk_header(buf, got));
    EXPECT_EQ(got.index, 7u);
    EXPECT_EQ(got.payload_len, 1000u);
    for (size_t bit = 0; bit < kChunkHeaderBytes * 8; ++bit) {
        buf[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        EXPECT_FALSE(decode_chunk_header(buf, got)) << "bit " << bit;
        buf[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    }
}

TEST(TraceRecord, EncodesCompactlyWithPerVcpuDeltas) {
    DeltaState st(2);
    std::vector<uint8_t> out;
    Event e;
    e.kind = EventKind::Invlpg;
    e.vcpu = 1;
    e.icount = 1000;
    e.rip = 0xFFFFFFFF81000010ull;
    e.a[0] = 0xFFFF888000001000ull;
    e.a[1] = 5;
    encode_record(e, st, out);
    const size_t first = out.size();
    e.icount += 3;
    e.rip += 4;
    e.a[0] += 0x1000;
    encode_record(e, st, out);
    // second record: len, kind, vcpu, Δicount, Δrip, mask, 7-byte address, 1-byte PCID
    EXPECT_EQ(out.size() - first, 1u + 1 + 1 + 1 + 1 + 1 + 7 + 1);
    EXPECT_LE(first, kMaxRecordBytes);

    DeltaState rd(2);
    const uint8_t* p = out.data();
    Event got;
    const char* why = "";
    ASSERT_EQ(decode_record(p, out.data() + out.size(), rd, got, &why), RecordStatus::Event) << why;
    ASSERT_EQ(decode_record(p, out.data() + out.size(), rd, got, &why), RecordStatus::Event) << why;
    EXPECT_TRUE(same(got, e)) << describe(got);
    EXPECT_EQ(p, out.data() + out.size());
}

TEST(TraceRecord, LargestRecordFitsTheDocumentedBound) {
    DeltaState st(kMaxVcpus);
    Event e;
    e.kind = EventKind::Exception;
    e.vcpu = kMaxVcpus - 1;
    e.icount = uint64_t{1} << 63;  // zigzag of INT64_MIN is UINT64_MAX: 10 bytes
    e.rip = uint64_t{1} << 63;
    for (uint64_t& a : e.a) a = uint64_t{1} << 63;
    std::vector<uint8_t> out;
    encode_record(e, st, out);
    EXPECT_LE(out.size(), kMaxRecordBytes);
    EXPECT_GE(out.size(), kMaxRecordBytes - 3);  // only the vCPU varint is shorter than 5
}

}  // namespace
