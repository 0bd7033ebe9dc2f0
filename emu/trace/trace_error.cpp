#include "emu/trace/trace_error.h"

namespace emu::trace {

const char* trace_error_name(TraceErrorCode code) {
    switch (code) {
        case TraceErrorCode::CannotOpen: return "cannot-open";
        case TraceErrorCode::NotATrace: return "not-a-trace";
        case TraceErrorCode::UnsupportedVersion: return "unsupported-version";
        case TraceErrorCode::TruncatedHeader: return "truncated-header";
        case TraceErrorCode::CorruptHeader: return "corrupt-header";
        case TraceErrorCode::CorruptChunk: return "corrupt-chunk";
        case TraceErrorCode::CorruptRecord: return "corrupt-record";
        case TraceErrorCode::WriteFailed: return "write-failed";
    }
    return "unknown-trace-error";
}

TraceError::TraceError(TraceErrorCode code, const std::string& detail)
    : std::runtime_error(std::string(trace_error_name(code)) + ": " + detail), code_(code) {}

}  // namespace emu::trace
