// Writes the event stream to a trace file (format: trace_format.h).
//
// Records are encoded into an in-memory chunk; the chunk is written (one write of chunk header
// plus payload) when its payload reaches `chunk_bytes`, and by close(), which also writes the
// end chunk. The file header is written by the constructor, so a writer that dies before
// close() leaves a file that reads as a truncated tail holding every chunk written so far.
//
// Error handling: on_event() runs inside emulator hooks (Unicorn C callbacks), where an
// exception must not unwind, so it never throws on I/O failure. The first failed write is
// remembered (failed(), error()), later events are dropped, and close() throws
// TraceError(WriteFailed) with the message. close() also throws if the final writes or the
// close(2) fail. The destructor closes; if that fails and the error has not been thrown by
// close() before, it prints the error on stderr (a destructor cannot throw).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "emu/events.h"
#include "emu/trace/trace_format.h"

namespace emu::trace {

class TraceWriter : public EventSink {
public:
    // Creates or truncates `path` and writes the header (h.version is ignored: the writer
    // writes kFormatVersion). chunk_bytes is clamped to 1..kMaxChunkPayload - kMaxRecordBytes.
    // Throws TraceError(CannotOpen) or TraceError(WriteFailed); std::invalid_argument for a
    // header the format cannot hold (see encode_header).
    TraceWriter(const std::string& path, const TraceHeader& h,
                size_t chunk_bytes = kDefaultChunkBytes);
    ~TraceWriter() override;
    TraceWriter(const TraceWriter&) = delete;
    TraceWriter& operator=(const TraceWriter&) = delete;

    // Appends one record. Preconditions (std::invalid_argument otherwise): e.vcpu <
    // vcpu_count and is_known_kind(e.kind). std::logic_error after close().
    void on_event(const Event& e) override;
    // Writes the pending chunk and the end chunk and closes the file. Idempotent; throws
    // TraceError(WriteFailed) once if any write (now or earlier) failed.
    void close();

    uint64_t events_written() const { return events_; }  // events accepted by on_event
    uint64_t chunks_written() const { return chunk_index_; }
    bool failed() const { return !error_.empty(); }
    const std::string& error() const { return error_; }

private:
    void flush_chunk();
    void write_all(const uint8_t* data, size_t len);
    void fail(const std::string& what);

    std::string path_;
    int fd_ = -1;
    bool closed_ = false;
    bool error_thrown_ = false;
    std::string error_;
    size_t chunk_bytes_;
    uint32_t vcpu_count_;
    DeltaState deltas_;
    std::vector<uint8_t> buf_;  // kChunkHeaderBytes reserved for the header, then the payload
    uint32_t chunk_records_ = 0;
    uint32_t chunk_index_ = 0;
    uint64_t events_ = 0;
    uint64_t records_in_chunks_ = 0;
};

}  // namespace emu::trace
