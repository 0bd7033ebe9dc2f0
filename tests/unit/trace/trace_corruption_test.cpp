// The reader against damaged input: truncation at every length, every single-bit flip,
// impossible lengths, foreign files, other versions, unknown record kinds.
#include <gtest/gtest.h>

#include <unistd.h>

#include <map>
#include <random>

#include "trace_test_util.h"

namespace {

using namespace trace_test;

// Every prefix of a multi-chunk trace: inside the header a TruncatedHeader; after it, the
// events of every complete data chunk, with the tail reported; the whole file reads clean.
void truncation_sweep(const std::vector<uint8_t>& img, const std::vector<Event>& events,
                      const TempDir* on_disk) {
    const size_t header_len = get_u32(img.data() + 12);
    const std::vector<ChunkSpan> chunks = walk_chunks(img);
    ASSERT_GE(chunks.size(), 10u);
    ASSERT_EQ(chunks.back().header.marker, kEndMarker);
    ASSERT_EQ(chunks.back().end, img.size());
    if (on_disk) write_bytes(on_disk->file("cut.trace"), img);
    for (size_t len = img.size() + 1; len-- > 0;) {  // downwards, so that the file can shrink
        SCOPED_TRACE("length " + std::to_string(len));
        auto read = [&] {
            if (!on_disk) return read_trace_bytes(std::span(img).first(len));
            const std::string path = on_disk->file("cut.trace");
            if (::truncate(path.c_str(), static_cast<off_t>(len)) != 0) throw std::runtime_error("truncate");
            return read_trace(path);
        };
        if (len < header_len) {
            ASSERT_EQ(error_code_of(read), TraceErrorCode::TruncatedHeader);
            continue;
        }
        const TraceReadResult r = read();
        size_t complete_events = 0, complete_chunks = 0, used_end = header_len;
        for (const ChunkSpan& c : chunks) {
            if (c.end > len || c.header.marker == kEndMarker) break;
            complete_events += c.header.record_count;
            ++complete_chunks;
            used_end = c.end;
        }
        expect_prefix(r.events, events, complete_events);
        ASSERT_EQ(r.chunks, complete_chunks);
        if (len == img.size()) {
            ASSERT_FALSE(r.truncated_tail) << r.tail_note;
            ASSERT_EQ(complete_events, events.size());
        } else {
            ASSERT_TRUE(r.truncated_tail);
            ASSERT_NE(r.tail_note.find(std::to_string(len - used_end) + " bytes dropped"), std::string::npos)
                << r.tail_note;
        }
    }
}

TEST(TraceTruncation, EveryLengthInMemory) {
    TempDir dir;
    const std::vector<Event> events = make_events(150, 3, 11);
    const auto img = trace_image(make_header(3), events, 200, dir);
    truncation_sweep(img, events, nullptr);
}

TEST(TraceTruncation, EveryLengthOnDisk) {
    TempDir dir;
    const std::vector<Event> events = make_events(120, 2, 12);
    const auto img = trace_image(make_header(2), events, 100, dir);
    truncation_sweep(img, events, &dir);
}

// Every single-bit flip of a small trace is detected: the header CRC covers every header
// field and each chunk has a header CRC and a payload CRC. Only the name of the error depends
// on where the flip is (the magic, version and header_len are checked before the CRC).
TEST(TraceBitFlip, EveryBitOfASmallTraceGivesANamedError) {
    TempDir dir;
    const std::vector<Event> events = make_events(40, 2, 13);
    const auto img = trace_image(make_header(2), events, 96, dir);
    const size_t header_len = get_u32(img.data() + 12);
    ASSERT_GE(walk_chunks(img).size(), 4u);
    std::map<std::string, int> tally;
    for (size_t bit = 0; bit < img.size() * 8; ++bit) {
        std::vector<uint8_t> bad = img;
        const size_t byte = bit / 8;
        bad[byte] ^= static_cast<uint8_t>(1u << (bit % 8));
        TraceErrorCode code{};
        std::string what;
        try {
            const TraceReadResult r = read_trace_bytes(bad);
            FAIL() << "flip of bit " << bit << " (byte " << byte << ") not detected; truncated_tail="
                   << r.truncated_tail;
        } catch (const TraceError& e) {
            code = e.code();
            what = e.what();
        }
        std::vector<TraceErrorCode> allowed;
        if (byte < 8) allowed = {TraceErrorCode::NotATrace};
        else if (byte < 10) allowed = {TraceErrorCode::CorruptHeader};          // minor version
        else if (byte < 12) allowed = {TraceErrorCode::UnsupportedVersion};     // major version
        else if (byte < 16) allowed = {TraceErrorCode::CorruptHeader, TraceErrorCode::TruncatedHeader};
        else if (byte < header_len) allowed = {TraceErrorCode::CorruptHeader};
        else allowed = {TraceErrorCode::CorruptChunk};
        EXPECT_NE(std::find(allowed.begin(), allowed.end(), code), allowed.end())
            << "bit " << bit << ": " << what;
        if (code == TraceErrorCode::CorruptChunk) {
            EXPECT_NE(what.find(" at offset "), std::string::npos) << what;
        }
        ++tally[trace_error_name(code)];
    }
    std::string summary;
    for (const auto& [name, n] : tally) summary += name + "=" + std::to_string(n) + " ";
    std::printf("[ bit flips ] %zu bits: %s\n", img.size() * 8, summary.c_str());
}

// Random multi-byte damage: never a crash, never anything but a TraceError.
TEST(TraceBitFlip, RandomDamageNeverCrashes) {
    TempDir dir;
    const auto img = trace_image(make_header(2), make_events(60, 2, 14), 128, dir);
    std::mt19937_64 rng(99);
    for (int round = 0; round < 3000; ++round) {
        std::vector<uint8_t> bad = img;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < edits; ++i) bad[rng() % bad.size()] = static_cast<uint8_t>(rng());
        if (rng() % 3 == 0) bad.resize(rng() % bad.size());
        try {
            read_trace_bytes(bad);
        } catch (const TraceError&) {
        }
    }
}

class TraceDamage : public ::testing::Test {
protected:
    void SetUp() override {
        events_ = make_events(50, 2, 15);
        img_ = trace_image(make_header(2), events_, 128, dir_);
        chunks_ = walk_chunks(img_);
        ASSERT_GE(chunks_.size(), 4u);
    }
    ChunkHeader& first() { return chunks_[0].header; }
    TraceErrorCode code_and_message(std::string* what) {
        try {
            read_trace_bytes(img_);
        } catch (const TraceError& e) {
            *what = e.what();
            return e.code();
        }
        ADD_FAILURE() << "no error";
        return TraceErrorCode::WriteFailed;
    }
    TempDir dir_;
    std::vector<Event> events_;
    std::vector<uint8_t> img_;
    std::vector<ChunkSpan> chunks_;
};

TEST_F(TraceDamage, HugePayloadLengthIsCorruptChunkWithoutAllocating) {
    for (uint32_t len : {0xFFFFFFFFu, static_cast<uint32_t>(kMaxChunkPayload + 1)}) {
        first().payload_len = len;
        put_chunk_header(img_, chunks_[0].offset, first());
        std::string what;
        EXPECT_EQ(code_and_message(&what), TraceErrorCode::CorruptChunk);
        EXPECT_NE(what.find("chunk 0 at offset " + std::to_string(chunks_[0].offset) + ": payload length"),
                  std::string::npos)
            << what;
    }
}

TEST_F(TraceDamage, ImpossibleRecordCountIsCorruptChunk) {
    first().record_count = first().payload_len;  // > payload_len / kMinRecordBytes
    put_chunk_header(img_, chunks_[0].offset, first());
    std::string what;
    EXPECT_EQ(code_and_message(&what), TraceErrorCode::CorruptChunk) << what;
}

// A chunk header with a good CRC whose payload runs past the end of the file cannot be told
// from a truncated file: it is the tail, and the chunks after it are not read.
TEST_F(TraceDamage, CrcValidLengthPastTheEndIsTheTail) {
    chunks_[1].header.payload_len = static_cast<uint32_t>(kMaxChunkPayload);
    put_chunk_header(img_, chunks_[1].offset, chunks_[1].header);
    const TraceReadResult r = read_trace_bytes(img_);
    EXPECT_TRUE(r.truncated_tail);
    EXPECT_EQ(r.chunks, 1u);
    expect_prefix(r.events, events_, first().record_count);
}

TEST_F(TraceDamage, HugeHeaderLengthsAreCorruptHeader) {
    put_u32(img_.data() + 12, 0xFFFFFFFFu);
    EXPECT_EQ(error_code_of([&] { read_trace_bytes(img_); }), TraceErrorCode::CorruptHeader);
    img_ = trace_image(make_header(2), events_, 128, dir_);
    put_u32(img_.data() + 28, 0xFFFFFFF0u);  // config_len
    fix_header_crc(img_);
    EXPECT_EQ(error_code_of([&] { read_trace_bytes(img_); }), TraceErrorCode::CorruptHeader);
    for (uint32_t vcpus : {0u, kMaxVcpus + 1}) {
        img_ = trace_image(make_header(2), events_, 128, dir_);
        put_u32(img_.data() + 24, vcpus);
        fix_header_crc(img_);
        EXPECT_EQ(error_code_of([&] { read_trace_bytes(img_); }), TraceErrorCode::CorruptHeader);
    }
}

TEST_F(TraceDamage, ReorderedOrMissingChunksAreCorruptChunk) {
    std::vector<uint8_t> swapped(img_.begin(), img_.begin() + static_cast<std::ptrdiff_t>(chunks_[0].offset));
    auto append = [&](std::vector<uint8_t>& out, const ChunkSpan& c) {
        out.insert(out.end(), img_.begin() + static_cast<std::ptrdiff_t>(c.offset),
                   img_.begin() + static_cast<std::ptrdiff_t>(c.end));
    };
    std::vector<uint8_t> missing = swapped;
    append(swapped, chunks_[1]);
    append(swapped, chunks_[0]);
    for (size_t i = 2; i < chunks_.size(); ++i) append(swapped, chunks_[i]);
    for (size_t i = 0; i < chunks_.size(); ++i)
        if (i != 1) append(missing, chunks_[i]);
    std::string what;
    img_ = swapped;
    EXPECT_EQ(code_and_message(&what), TraceErrorCode::CorruptChunk);
    EXPECT_NE(what.find("index 1, expected 0"), std::string::npos) << what;
    img_ = missing;
    EXPECT_EQ(code_and_message(&what), TraceErrorCode::CorruptChunk);
    EXPECT_NE(what.find("index 2, expected 1"), std::string::npos) << what;
}

TEST_F(TraceDamage, BytesAfterTheEndChunkAreCorruptChunk) {
    img_.push_back(0);
    std::string what;
    EXPECT_EQ(code_and_message(&what), TraceErrorCode::CorruptChunk);
    EXPECT_NE(what.find("1 bytes after the end chunk"), std::string::npos) << what;
}

TEST_F(TraceDamage, EndChunkWithAWrongTotalIsCorruptChunk) {
    const ChunkSpan& end = chunks_.back();
    const auto fixed = make_end_chunk(end.header.index, events_.size() + 1);
    std::copy(fixed.begin(), fixed.end(), img_.begin() + static_cast<std::ptrdiff_t>(end.offset));
    std::string what;
    EXPECT_EQ(code_and_message(&what), TraceErrorCode::CorruptChunk);
    EXPECT_NE(what.find("end chunk counts"), std::string::npos) << what;
}

TEST_F(TraceDamage, ErrorsRepeatFromTheStreamingReader) {
    img_[chunks_[1].offset + kChunkHeaderBytes] ^= 1;  // payload of chunk 1
    TraceReader reader = TraceReader::from_bytes(img_);
    Event e;
    size_t n = 0;
    EXPECT_EQ(error_code_of([&] { while (reader.next(e)) ++n; }), TraceErrorCode::CorruptChunk);
    EXPECT_EQ(n, first().record_count) << "chunk 0 was returned before chunk 1 failed";
    EXPECT_EQ(error_code_of([&] { reader.next(e); }), TraceErrorCode::CorruptChunk);
}

// ---- Hand-built chunks with good CRCs ---------------------------------------------------------

std::vector<uint8_t> trace_with_payload(const TraceHeader& h, const std::vector<uint8_t>& payload,
                                        uint32_t records) {
    std::vector<uint8_t> img = encode_header(h);
    const auto chunk = make_chunk(0, payload, records);
    const auto end = make_end_chunk(1, records);
    img.insert(img.end(), chunk.begin(), chunk.end());
    img.insert(img.end(), end.begin(), end.end());
    return img;
}

std::vector<uint8_t> raw_record(std::vector<uint8_t> body) {
    uint8_t len[kMaxVarintBytes];
    std::vector<uint8_t> out(len, len + put_varint(len, body.size()));
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

void append(std::vector<uint8_t>& out, const std::vector<uint8_t>& more) {
    out.insert(out.end(), more.begin(), more.end());
}

Event event(EventKind kind, uint32_t vcpu, uint64_t icount, uint64_t rip, uint64_t a0) {
    Event e;
    e.kind = kind;
    e.vcpu = vcpu;
    e.icount = icount;
    e.rip = rip;
    e.a[0] = a0;
    return e;
}

// Forward compatibility (decided): a record of a kind this reader does not know is skipped;
// its prefix (vcpu, deltas) still advances the delta state, so the records after it decode to
// the right icount and rip. Bytes after the known fields of a known kind are skipped too.
TEST(TraceForwardCompat, UnknownKindsAndTrailingFieldsAreSkipped) {
    TraceHeader h = make_header(2);
    std::vector<uint8_t> img = encode_header(h);
    // A minor-version-1.7 header with an extra field.
    put_u32(img.data() + 8, make_version(1, 7));
    img.insert(img.end() - 4, {0xAA, 0xBB, 0xCC});
    put_u32(img.data() + 12, static_cast<uint32_t>(img.size()));
    fix_header_crc(img);

    DeltaState st(2);
    std::vector<uint8_t> payload;
    const Event a = event(EventKind::Cr3Load, 0, 100, 0x1000, 0x5000);
    encode_record(a, st, payload);
    // kind 77 on vCPU 0: icount +50, rip +4, then 30 bytes of a layout this reader ignores.
    std::vector<uint8_t> body = {77, 0, static_cast<uint8_t>(zigzag(50)), static_cast<uint8_t>(zigzag(4))};
    body.resize(body.size() + 30, 0xEE);
    append(payload, raw_record(body));
    st.icount[0] = 150;
    st.rip[0] = 0x1004;
    const Event b = event(EventKind::Invlpg, 0, 160, 0x1008, 0xFFFF888000000000ull);
    encode_record(b, st, payload);
    // kind 0 on vCPU 1 (also unknown), no tail at all.
    append(payload, raw_record({0, 1, static_cast<uint8_t>(zigzag(9)), 0}));
    st.icount[1] = 9;
    // A known kind with two bytes of a later minor version's field after the arguments.
    const Event c = event(EventKind::Syscall, 1, 12, 0x2000, 60);
    std::vector<uint8_t> rec;
    encode_record(c, st, rec);
    rec.push_back(0x12);
    rec.push_back(0x34);
    rec[0] = static_cast<uint8_t>(rec[0] + 2);  // one-byte body length
    append(payload, rec);

    const auto chunk = make_chunk(0, payload, 5);
    const auto end = make_end_chunk(1, 5);
    append(img, chunk);
    append(img, end);

    TraceReader reader = TraceReader::from_bytes(img);
    EXPECT_EQ(reader.header().version, make_version(1, 7));
    EXPECT_EQ(reader.header().config, h.config);
    std::vector<Event> got;
    Event e;
    while (reader.next(e)) got.push_back(e);
    expect_prefix(got, {a, b, c}, 3);
    EXPECT_EQ(reader.skipped_records(), 2u);
    EXPECT_FALSE(reader.truncated_tail());
    EXPECT_EQ(read_trace_bytes(img).skipped_records, 2u);
}

TEST(TraceCorruptRecord, GoodCrcButUndecodableRecords) {
    const TraceHeader h = make_header(2);
    const Event ok = event(EventKind::MsrWrite, 1, 5, 0x100, 0xC0000080);
    std::vector<uint8_t> good;
    DeltaState st(2);
    encode_record(ok, st, good);

    struct Case {
        const char* name;
        std::vector<uint8_t> payload;
        uint32_t records;
        const char* message;
    };
    std::vector<Case> cases;
    cases.push_back({"vCPU out of range", raw_record({1, 2, 0, 0, 0}), 1, "vCPU number"});
    cases.push_back({"reserved mask bits", raw_record({1, 0, 0, 0, 0x40}), 1, "reserved"});
    cases.push_back({"missing mask", raw_record({1, 0, 0, 0}), 1, "missing argument mask"});
    cases.push_back({"argument cut off", raw_record({1, 0, 0, 0, 0x01, 0x80}), 1, "bad argument"});
    cases.push_back({"empty record", {0, 0, 0, 0, 0, 0}, 1, "empty record"});
    cases.push_back({"length past payload", {0x7F, 1, 0, 0, 0, 0}, 1, "overruns"});
    cases.push_back({"overlong length", {0x85, 0x00, 1, 0, 0, 0, 0}, 1, "bad record length"});
    std::vector<uint8_t> two = good;
    append(two, good);
    cases.push_back({"fewer records than declared", good, 2, "declares 2 records"});
    cases.push_back({"more records than declared", two, 1, "bytes after the 1 records"});
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const auto img = trace_with_payload(h, c.payload, c.records);
        try {
            read_trace_bytes(img);
            ADD_FAILURE() << "no error";
        } catch (const TraceError& e) {
            EXPECT_EQ(e.code(), TraceErrorCode::CorruptRecord) << e.what();
            EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("chunk 0 at offset"), std::string::npos) << e.what();
        }
    }
    // The good record alone reads.
    const TraceReadResult r = read_trace_bytes(trace_with_payload(h, good, 1));
    expect_prefix(r.events, {ok}, 1);
}

// ---- Not a trace, other versions --------------------------------------------------------------

TEST(TraceIdentity, FilesThatAreNotTraces) {
    TempDir dir;
    write_bytes(dir.file("text"), {'h', 'e', 'l', 'l', 'o', ',', ' ', 'w', 'o', 'r', 'l', 'd', '!', '\n',
                                   'n', 'o', 't', ' ', 'a', ' ', 't', 'r', 'a', 'c', 'e'});
    EXPECT_EQ(error_code_of([&] { read_trace(dir.file("text")); }), TraceErrorCode::NotATrace);
    write_bytes(dir.file("elf"), {0x7F, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x3E, 0});
    EXPECT_EQ(error_code_of([&] { read_trace(dir.file("elf")); }), TraceErrorCode::NotATrace);
    write_bytes(dir.file("short"), {'A', 'S', 'X'});
    EXPECT_EQ(error_code_of([&] { read_trace(dir.file("short")); }), TraceErrorCode::NotATrace);
    write_bytes(dir.file("empty"), {});
    EXPECT_EQ(error_code_of([&] { read_trace(dir.file("empty")); }), TraceErrorCode::TruncatedHeader);
    EXPECT_EQ(error_code_of([&] { read_trace(dir.file("missing")); }), TraceErrorCode::CannotOpen);
    std::filesystem::create_directories(dir.file("a_directory"));
    EXPECT_EQ(error_code_of([&] { read_trace(dir.file("a_directory")); }), TraceErrorCode::CannotOpen);
}

TEST(TraceIdentity, OtherMajorVersionsAreUnsupported) {
    for (uint32_t version : {make_version(2, 0), make_version(0, 9), make_version(0xFFFF, 0xFFFF)}) {
        std::vector<uint8_t> img = encode_header(make_header(1));
        put_u32(img.data() + 8, version);
        fix_header_crc(img);
        append(img, make_end_chunk(0, 0));
        try {
            read_trace_bytes(img);
            ADD_FAILURE() << "no error";
        } catch (const TraceError& e) {
            EXPECT_EQ(e.code(), TraceErrorCode::UnsupportedVersion);
            EXPECT_STREQ(trace_error_name(e.code()), "unsupported-version");
        }
    }
}

TEST(TraceIdentity, ErrorNamesAreKebabCase) {
    const std::pair<TraceErrorCode, const char*> names[] = {
        {TraceErrorCode::CannotOpen, "cannot-open"},
        {TraceErrorCode::NotATrace, "not-a-trace"},
        {TraceErrorCode::UnsupportedVersion, "unsupported-version"},
        {TraceErrorCode::TruncatedHeader, "truncated-header"},
        {TraceErrorCode::CorruptHeader, "corrupt-header"},
        {TraceErrorCode::CorruptChunk, "corrupt-chunk"},
        {TraceErrorCode::CorruptRecord, "corrupt-record"},
        {TraceErrorCode::WriteFailed, "write-failed"}};
    for (const auto& [code, name] : names) {
        EXPECT_STREQ(trace_error_name(code), name);
        EXPECT_EQ(std::string(TraceError(code, "x").what()), std::string(name) + ": x");
        EXPECT_EQ(TraceError(code, "x").code(), code);
    }
}

}  // namespace
