// Writer and reader together: round trips, determinism, the empty trace, writer errors.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <filesystem>

#include "trace_test_util.h"

namespace {

using namespace trace_test;

TEST(TraceRoundTrip, EveryKindSeveralVcpusAtSeveralChunkSizes) {
    TempDir dir;
    const TraceHeader h = make_header(4);
    const std::vector<Event> events = make_events(5000, 4, 42);
    for (size_t chunk : {kDefaultChunkBytes, size_t{1024}, size_t{1}}) {
        SCOPED_TRACE("chunk bytes " + std::to_string(chunk));
        const std::string path = dir.file("rt.trace");
        TraceWriter w(path, h, chunk);
        for (const Event& e : events) w.on_event(e);
        w.close();
        EXPECT_EQ(w.events_written(), events.size());

        const TraceReadResult r = read_trace(path);
        EXPECT_EQ(r.header, h);
        EXPECT_FALSE(r.truncated_tail) << r.tail_note;
        EXPECT_TRUE(r.tail_note.empty());
        EXPECT_EQ(r.chunks, w.chunks_written());
        EXPECT_EQ(r.skipped_records, 0u);
        expect_prefix(r.events, events, events.size());
        if (chunk == 1) {
            EXPECT_EQ(r.chunks, events.size());
        }
        if (chunk == kDefaultChunkBytes) {
            EXPECT_GE(r.chunks, 2u);
        }

        TraceReader reader(path);
        EXPECT_EQ(reader.header(), h);
        Event e;
        size_t i = 0;
        while (reader.next(e)) {
            ASSERT_LT(i, events.size());
            ASSERT_TRUE(same(e, events[i])) << i;
            ++i;
        }
        EXPECT_EQ(i, events.size());
        EXPECT_EQ(reader.events_read(), events.size());
        EXPECT_FALSE(reader.next(e)) << "stays at the end";
    }
}

TEST(TraceRoundTrip, MaximalValuesOnTheLastOfManyVcpus) {
    TempDir dir;
    const TraceHeader h = make_header(kMaxVcpus);
    std::vector<Event> events;
    for (uint8_t k = 1; k <= 9; ++k) {
        Event e;
        e.kind = static_cast<EventKind>(k);
        e.vcpu = k % 2 ? kMaxVcpus - 1 : 0;
        e.icount = k % 3 ? UINT64_MAX : 0;
        e.rip = k % 4 ? UINT64_MAX : uint64_t{1} << 63;
        for (uint64_t& a : e.a) a = k % 2 ? UINT64_MAX : uint64_t{1} << 63;
        events.push_back(e);
    }
    write_trace(dir.file("max.trace"), h, events);
    const TraceReadResult r = read_trace(dir.file("max.trace"));
    expect_prefix(r.events, events, events.size());
}

TEST(TraceRoundTrip, SameEventsGiveIdenticalBytes) {
    TempDir dir;
    const TraceHeader h = make_header(3);
    const std::vector<Event> events = make_events(3000, 3, 7);
    write_trace(dir.file("a.trace"), h, events, 4096);
    write_trace(dir.file("b.trace"), h, events, 4096);
    const auto a = read_bytes(dir.file("a.trace"));
    const auto b = read_bytes(dir.file("b.trace"));
    ASSERT_FALSE(a.empty());
    EXPECT_TRUE(a == b);
    // A different chunk size changes the bytes but not the events.
    write_trace(dir.file("c.trace"), h, events, 1000);
    EXPECT_FALSE(a == read_bytes(dir.file("c.trace")));
    expect_prefix(read_trace(dir.file("c.trace")).events, events, events.size());
}

TEST(TraceRoundTrip, ChunksAreCompact) {
    TempDir dir;
    const std::vector<Event> events = make_events(5000, 4, 3);
    write_trace(dir.file("s.trace"), make_header(4), events);
    const auto size = std::filesystem::file_size(dir.file("s.trace"));
    // Raw emu::Event is 72 bytes; random 64-bit arguments dominate this synthetic stream.
    EXPECT_LT(size, events.size() * 45);
}

TEST(TraceRoundTrip, EmptyTraceIsHeaderAndEndChunk) {
    TempDir dir;
    const TraceHeader h = make_header(2);
    write_trace(dir.file("empty.trace"), h, {});
    const auto bytes = read_bytes(dir.file("empty.trace"));
    EXPECT_EQ(bytes.size(), encode_header(h).size() + kChunkHeaderBytes + kEndPayloadBytes);
    const TraceReadResult r = read_trace(dir.file("empty.trace"));
    EXPECT_EQ(r.header, h);
    EXPECT_TRUE(r.events.empty());
    EXPECT_FALSE(r.truncated_tail);
    EXPECT_EQ(r.chunks, 0u);
}

TEST(TraceRoundTrip, HeaderOnlyIsATruncatedTail) {
    TempDir dir;
    const TraceHeader h = make_header(1);
    write_bytes(dir.file("h.trace"), encode_header(h));
    const TraceReadResult r = read_trace(dir.file("h.trace"));
    EXPECT_TRUE(r.events.empty());
    EXPECT_TRUE(r.truncated_tail);
    EXPECT_NE(r.tail_note.find("after the header"), std::string::npos) << r.tail_note;
}

TEST(TraceWriter, DestructorClosesTheTrace) {
    TempDir dir;
    const std::vector<Event> events = make_events(100, 2, 5);
    {
        TraceWriter w(dir.file("d.trace"), make_header(2), 256);
        for (const Event& e : events) w.on_event(e);
    }
    const TraceReadResult r = read_trace(dir.file("d.trace"));
    EXPECT_FALSE(r.truncated_tail);
    expect_prefix(r.events, events, events.size());
}

TEST(TraceWriter, RejectsEventsTheHeaderDoesNotAllow) {
    TempDir dir;
    TraceWriter w(dir.file("x.trace"), make_header(2));
    Event e;
    e.kind = EventKind::Cr3Load;
    e.vcpu = 2;
    EXPECT_THROW(w.on_event(e), std::invalid_argument);
    e.vcpu = 0;
    e.kind = static_cast<EventKind>(0);
    EXPECT_THROW(w.on_event(e), std::invalid_argument);
    e.kind = static_cast<EventKind>(200);
    EXPECT_THROW(w.on_event(e), std::invalid_argument);
    EXPECT_EQ(w.events_written(), 0u);
    w.close();
    w.close();  // idempotent
    e.kind = EventKind::Cr3Load;
    EXPECT_THROW(w.on_event(e), std::logic_error);
    TraceHeader no_vcpus = make_header(1);
    no_vcpus.vcpu_count = 0;
    EXPECT_THROW(TraceWriter(dir.file("y.trace"), no_vcpus), std::invalid_argument);
}

TEST(TraceWriter, CannotOpen) {
    TempDir dir;
    EXPECT_EQ(error_code_of([&] { TraceWriter w(dir.file("no/such/dir/t.trace"), make_header(1)); }),
              TraceErrorCode::CannotOpen);
}

TEST(TraceWriter, HeaderWriteFailureThrowsWriteFailed) {
    if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
    try {
        TraceWriter w("/dev/full", make_header(1));
        FAIL() << "no error";
    } catch (const TraceError& e) {
        EXPECT_EQ(e.code(), TraceErrorCode::WriteFailed);
        EXPECT_STREQ(trace_error_name(e.code()), "write-failed");
        EXPECT_NE(std::string(e.what()).find("write-failed: /dev/full: write: "), std::string::npos) << e.what();
    }
}

// A write error in on_event (here: the file-size limit) does not throw; it sticks, and close()
// reports it. What was written before the error reads as a truncated tail.
void write_past_file_size_limit(const std::string& path, const std::vector<Event>& events) {
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{};
    lim.rlim_cur = lim.rlim_max = 4096;
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(10);
    int rc = 11;
    try {
        TraceWriter w(path, make_header(2), 256);
        for (const Event& e : events) w.on_event(e);  // must not throw
        if (!w.failed() || w.error().find("write: ") == std::string::npos) ::_exit(12);
        if (w.events_written() != events.size()) ::_exit(13);
        w.close();
        rc = 14;
    } catch (const TraceError& e) {
        rc = e.code() == TraceErrorCode::WriteFailed ? 0 : 15;
    }
    ::_exit(rc);
}

TEST(TraceWriterDeathTest, WriteErrorIsStickyAndCloseThrowsIt) {
    GTEST_FLAG_SET(death_test_style, "fast");  // fork only: the child sees the same TempDir
    TempDir dir;
    const std::string path = dir.file("limited.trace");
    const std::vector<Event> events = make_events(2000, 2, 9);
    EXPECT_EXIT(write_past_file_size_limit(path, events), ::testing::ExitedWithCode(0), "");
    EXPECT_LE(std::filesystem::file_size(path), 4096u);
    const TraceReadResult r = read_trace(path);
    EXPECT_TRUE(r.truncated_tail);
    EXPECT_GT(r.events.size(), 0u);
    expect_prefix(r.events, events, r.events.size());
}

void destroy_failed_writer(const std::string& path, const std::vector<Event>& events) {
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{};
    lim.rlim_cur = lim.rlim_max = 4096;
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(10);
    {
        TraceWriter w(path, make_header(2), 256);
        for (const Event& e : events) w.on_event(e);
    }  // the destructor reports the error on stderr
    ::_exit(0);
}

TEST(TraceWriterDeathTest, DestructorReportsAnUnreportedWriteError) {
    GTEST_FLAG_SET(death_test_style, "fast");  // fork only: the child sees the same TempDir
    TempDir dir;
    const std::vector<Event> events = make_events(2000, 2, 9);
    EXPECT_EXIT(destroy_failed_writer(dir.file("limited.trace"), events), ::testing::ExitedWithCode(0),
                "trace .*limited.trace: write-failed: .*write: ");
}

}  // namespace
