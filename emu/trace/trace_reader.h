// Reads a trace file (format: trace_format.h), streaming or all at once.
//
// Rules: every complete data chunk is checked (chunk-header CRC, marker, index, lengths,
// payload CRC) before any of its records is returned. A file that ends inside a chunk, or
// after a data chunk without the end chunk, has a truncated tail: reading stops there with
// truncated_tail() set and tail_note() saying what was cut off; everything before it is used.
// Any other inconsistency throws a named TraceError (trace_error.h); chunk errors name the
// chunk index and file offset. Records of kinds this version does not know are skipped
// (forward compatibility, see trace_format.h) and counted.
//
// Bounds: memory is one chunk payload (<= kMaxChunkPayload, allocated only after the length
// was checked against the chunk-header CRC, the cap and the file size) plus the header
// (<= kMaxHeaderBytes); every step consumes at least one chunk header of the file, so reading
// ends. The file size is taken when the reader opens it.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "emu/events.h"
#include "emu/trace/trace_format.h"

namespace emu::trace {

class TraceReader {
public:
    // Opens `path` and reads the header. Throws TraceError: CannotOpen, NotATrace,
    // UnsupportedVersion, TruncatedHeader, CorruptHeader.
    explicit TraceReader(const std::string& path);
    // Reads a trace held in memory (fuzz targets, tests); `bytes` must outlive the reader.
    static TraceReader from_bytes(std::span<const uint8_t> bytes);
    TraceReader(TraceReader&&) noexcept;
    TraceReader& operator=(TraceReader&&) noexcept;
    ~TraceReader();

    const TraceHeader& header() const { return header_; }
    // The next event; false at the end of the trace (the end chunk or a truncated tail).
    // Throws TraceError(CorruptChunk / CorruptRecord / CannotOpen for a failed read); after
    // a throw every later call throws the same error.
    bool next(Event& out);

    bool truncated_tail() const { return truncated_; }
    const std::string& tail_note() const { return tail_note_; }  // empty unless truncated
    uint64_t chunks() const { return chunks_; }                    // data chunks checked so far
    uint64_t events_read() const { return events_; }
    uint64_t skipped_records() const { return skipped_; }         // records of unknown kinds

    class Source;  // where the bytes come from: a file or memory

private:
    explicit TraceReader(std::unique_ptr<Source> src);
    void read_header();
    bool next_record(Event& out);
    bool load_chunk();  // false at the end of the trace
    [[noreturn]] void fail(TraceErrorCode code, const std::string& what);
    void end_with_tail(const std::string& note);

    std::unique_ptr<Source> src_;
    TraceHeader header_;
    DeltaState deltas_{0};
    std::vector<uint8_t> payload_;
    size_t pos_ = 0;                // next record in payload_
    bool in_chunk_ = false;
    uint32_t chunk_records_ = 0;    // records the current chunk declares
    uint32_t chunk_seen_ = 0;       // records of the current chunk decoded so far
    uint64_t chunk_offset_ = 0;     // file offset of the current chunk
    uint64_t offset_ = 0;           // file offset of the next chunk
    uint64_t chunks_ = 0;
    uint64_t records_ = 0;          // all records of checked chunks, skipped ones included
    uint64_t events_ = 0;
    uint64_t skipped_ = 0;
    bool done_ = false;
    bool truncated_ = false;
    std::string tail_note_;
    std::optional<TraceError> error_;
};

struct TraceReadResult {
    TraceHeader header;
    std::vector<Event> events;
    bool truncated_tail = false;
    std::string tail_note;  // what was cut off; empty unless truncated_tail
    uint64_t chunks = 0;    // complete data chunks read
    uint64_t skipped_records = 0;
};

// The whole trace; throws TraceError.
TraceReadResult read_trace(const std::string& path);
TraceReadResult read_trace_bytes(std::span<const uint8_t> bytes);

}  // namespace emu::trace
