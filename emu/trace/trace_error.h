// Named errors of the trace reader and writer (DESIGN 8: bad input gets a named error).
// Every reader error is "bad input" for the CLI; WriteFailed is an environment failure.
#pragma once
#include <stdexcept>
#include <string>

namespace emu::trace {

enum class TraceErrorCode {
    CannotOpen,          // the file cannot be opened, is not a regular file, or a read failed
    NotATrace,           // the first bytes are not the trace magic
    UnsupportedVersion,  // a major format version this reader does not know
    TruncatedHeader,     // the file ends inside the file header
    CorruptHeader,       // header CRC mismatch or a header field out of range
    CorruptChunk,        // bad marker, chunk-header CRC, index or length, or payload CRC,
                         // in a chunk that is not the truncated tail; or bytes after the end
    CorruptRecord,       // a record that does not decode inside a chunk with a good CRC
    WriteFailed,         // the writer could not write or close the file
};

// "cannot-open", "not-a-trace", "unsupported-version", "truncated-header", "corrupt-header",
// "corrupt-chunk", "corrupt-record", "write-failed".
const char* trace_error_name(TraceErrorCode code);

// what() is "<kebab-case name>: <detail>"; chunk errors name the chunk index and file offset.
class TraceError : public std::runtime_error {
public:
    TraceError(TraceErrorCode code, const std::string& detail);
    TraceErrorCode code() const noexcept { return code_; }

private:
    TraceErrorCode code_;
};

}  // namespace emu::trace
