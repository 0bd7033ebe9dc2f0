#include "emu/trace/trace_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "emu/trace/crc32.h"

namespace emu::trace {

TraceWriter::TraceWriter(const std::string& path, const TraceHeader& h, size_t chunk_bytes)
    : path_(path),
      chunk_bytes_(std::clamp<size_t>(chunk_bytes, 1, kMaxChunkPayload - kMaxRecordBytes)),
      vcpu_count_(h.vcpu_count),
      deltas_(std::min(h.vcpu_count, kMaxVcpus)) {
    const std::vector<uint8_t> header = encode_header(h);  // validates h first
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0)
        throw TraceError(TraceErrorCode::CannotOpen, path + ": " + std::strerror(errno));
    buf_.reserve(kChunkHeaderBytes + chunk_bytes_ + kMaxRecordBytes);
    buf_.resize(kChunkHeaderBytes);
    write_all(header.data(), header.size());
    if (failed()) {
        ::close(fd_);
        fd_ = -1;
        closed_ = true;
        error_thrown_ = true;
        throw TraceError(TraceErrorCode::WriteFailed, error_);
    }
}

TraceWriter::~TraceWriter() {
    const bool reported = error_thrown_;
    try {
        close();
    } catch (const std::exception& e) {
        if (!reported) std::fprintf(stderr, "asi-emu: trace %s: %s\n", path_.c_str(), e.what());
    }
}

void TraceWriter::on_event(const Event& e) {
    if (closed_) throw std::logic_error("TraceWriter::on_event after close()");
    if (e.vcpu >= vcpu_count_)
        throw std::invalid_argument("trace: event for vCPU " + std::to_string(e.vcpu) +
                                    ", the header declares " + std::to_string(vcpu_count_));
    if (!is_known_kind(static_cast<uint8_t>(e.kind)))
        throw std::invalid_argument("trace: event kind " +
                                    std::to_string(static_cast<unsigned>(e.kind)) +
                                    " has no encoding in this format version");
    ++events_;
    if (failed()) return;  // the error is reported by close()
    encode_record(e, deltas_, buf_);
    ++chunk_records_;
    if (buf_.size() - kChunkHeaderBytes >= chunk_bytes_) flush_chunk();
}

void TraceWriter::flush_chunk() {
    if (chunk_records_ == 0 || failed()) return;
    if (chunk_index_ == std::numeric_limits<uint32_t>::max()) {
        fail("more than 2^32-1 chunks");
        return;
    }
    ChunkHeader ch;
    ch.marker = kChunkMarker;
    ch.index = chunk_index_;
    ch.payload_len = static_cast<uint32_t>(buf_.size() - kChunkHeaderBytes);
    ch.record_count = chunk_records_;
    ch.payload_crc = crc32c(buf_.data() + kChunkHeaderBytes, ch.payload_len);
    encode_chunk_header(ch, buf_.data());
    write_all(buf_.data(), buf_.size());
    ++chunk_index_;
    records_in_chunks_ += chunk_records_;
    chunk_records_ = 0;
    buf_.resize(kChunkHeaderBytes);
    deltas_.reset();
}

void TraceWriter::close() {
    if (closed_) {
        if (failed() && !error_thrown_) {
            error_thrown_ = true;
            throw TraceError(TraceErrorCode::WriteFailed, error_);
        }
        return;
    }
    closed_ = true;
    flush_chunk();
    if (!failed()) {
        uint8_t end[kChunkHeaderBytes + kEndPayloadBytes];
        put_u64(end + kChunkHeaderBytes, records_in_chunks_);
        ChunkHeader ch;
        ch.marker = kEndMarker;
        ch.index = chunk_index_;
        ch.payload_len = kEndPayloadBytes;
        ch.record_count = 0;
        ch.payload_crc = crc32c(end + kChunkHeaderBytes, kEndPayloadBytes);
        encode_chunk_header(ch, end);
        write_all(end, sizeof end);
    }
    if (::close(fd_) != 0 && !failed()) fail(std::string("close: ") + std::strerror(errno));
    fd_ = -1;
    buf_.clear();
    buf_.shrink_to_fit();
    if (failed()) {
        error_thrown_ = true;
        throw TraceError(TraceErrorCode::WriteFailed, error_);
    }
}

void TraceWriter::write_all(const uint8_t* data, size_t len) {
    while (len > 0 && !failed()) {
        const ssize_t n = ::write(fd_, data, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail(std::string("write: ") + std::strerror(errno));
        } else if (n == 0) {
            fail("write: no progress");
        } else {
            data += n;
            len -= static_cast<size_t>(n);
        }
    }
}

void TraceWriter::fail(const std::string& what) {
    if (error_.empty()) error_ = path_ + ": " + what + " (after " + std::to_string(chunk_index_) +
                                 " chunks)";
}

}  // namespace emu::trace
