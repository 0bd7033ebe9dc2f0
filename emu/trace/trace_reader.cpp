#include "emu/trace/trace_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "emu/trace/crc32.h"

namespace emu::trace {

// ---- Sources --------------------------------------------------------------------------------

class TraceReader::Source {
public:
    virtual ~Source() = default;
    uint64_t size() const { return size_; }
    // Reads exactly n bytes at off; off + n <= size(). Throws TraceError(CannotOpen).
    virtual void read(uint64_t off, uint8_t* dst, size_t n) = 0;

protected:
    uint64_t size_ = 0;
};

namespace {

class FileSource final : public TraceReader::Source {
public:
    explicit FileSource(const std::string& path) : path_(path) {
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) throw TraceError(TraceErrorCode::CannotOpen, path + ": " + std::strerror(errno));
        struct stat st {};
        if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd_);
            throw TraceError(TraceErrorCode::CannotOpen, path + ": not a regular file");
        }
        size_ = static_cast<uint64_t>(st.st_size);
    }
    ~FileSource() override { ::close(fd_); }
    FileSource(const FileSource&) = delete;
    FileSource& operator=(const FileSource&) = delete;

    void read(uint64_t off, uint8_t* dst, size_t n) override {
        while (n > 0) {
            const ssize_t got = ::pread(fd_, dst, n, static_cast<off_t>(off));
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0)
                throw TraceError(TraceErrorCode::CannotOpen,
                                 path_ + ": read at offset " + std::to_string(off) + ": " +
                                     (got < 0 ? std::strerror(errno) : "the file shrank"));
            dst += got;
            off += static_cast<uint64_t>(got);
            n -= static_cast<size_t>(got);
        }
    }

private:
    std::string path_;
    int fd_ = -1;
};

class MemorySource final : public TraceReader::Source {
public:
    explicit MemorySource(std::span<const uint8_t> bytes) : bytes_(bytes) { size_ = bytes.size(); }
    void read(uint64_t off, uint8_t* dst, size_t n) override {
        if (n > 0) std::memcpy(dst, bytes_.data() + off, n);
    }

private:
    std::span<const uint8_t> bytes_;
};

std::string hex32(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
}

}  // namespace

// ---- Reader ---------------------------------------------------------------------------------

TraceReader::TraceReader(const std::string& path) : src_(std::make_unique<FileSource>(path)) {
    read_header();
}

TraceReader::TraceReader(std::unique_ptr<Source> src) : src_(std::move(src)) { read_header(); }

TraceReader TraceReader::from_bytes(std::span<const uint8_t> bytes) {
    return TraceReader(std::make_unique<MemorySource>(bytes));
}

TraceReader::TraceReader(TraceReader&&) noexcept = default;
TraceReader& TraceReader::operator=(TraceReader&&) noexcept = default;
TraceReader::~TraceReader() = default;

void TraceReader::read_header() {
    const uint64_t size = src_->size();
    uint8_t prefix[kHeaderPrefixBytes];
    const size_t n = static_cast<size_t>(std::min<uint64_t>(size, kHeaderPrefixBytes));
    src_->read(0, prefix, n);
    const size_t len = header_length({prefix, n}, size);
    std::vector<uint8_t> bytes(len);
    src_->read(0, bytes.data(), len);
    header_ = decode_header(bytes);
    deltas_ = DeltaState(header_.vcpu_count);
    offset_ = len;
}

void TraceReader::fail(TraceErrorCode code, const std::string& what) {
    error_.emplace(code, what);
    done_ = true;
    throw *error_;
}

void TraceReader::end_with_tail(const std::string& note) {
    truncated_ = true;
    tail_note_ = note;
    done_ = true;
}

bool TraceReader::next(Event& out) {
    if (error_) throw *error_;
    try {
        return next_record(out);
    } catch (const TraceError& e) {
        if (!error_) error_.emplace(e);  // a failed read; fail() has stored its own error
        done_ = true;
        throw;
    }
}

bool TraceReader::next_record(Event& out) {
    for (;;) {
        if (done_) return false;
        if (!in_chunk_) {
            if (!load_chunk()) return false;
            continue;
        }
        const auto where = [&] {
            return "chunk " + std::to_string(chunks_ - 1) + " at offset " + std::to_string(chunk_offset_);
        };
        if (pos_ == payload_.size()) {
            if (chunk_seen_ != chunk_records_)
                fail(TraceErrorCode::CorruptRecord,
                     where() + ": declares " + std::to_string(chunk_records_) +
                         " records, the payload holds " + std::to_string(chunk_seen_));
            in_chunk_ = false;
            continue;
        }
        const uint64_t record_offset = chunk_offset_ + kChunkHeaderBytes + pos_;
        if (chunk_seen_ == chunk_records_)
            fail(TraceErrorCode::CorruptRecord,
                 where() + ": bytes after the " + std::to_string(chunk_records_) +
                     " records it declares, at offset " + std::to_string(record_offset));
        const uint8_t* p = payload_.data() + pos_;
        const char* why = "";
        const RecordStatus status = decode_record(p, payload_.data() + payload_.size(), deltas_, out, &why);
        pos_ = static_cast<size_t>(p - payload_.data());
        ++chunk_seen_;
        if (status == RecordStatus::Corrupt)
            fail(TraceErrorCode::CorruptRecord,
                 where() + ": record " + std::to_string(chunk_seen_ - 1) + " at offset " +
                     std::to_string(record_offset) + ": " + why);
        if (status == RecordStatus::Skipped) {
            ++skipped_;
            continue;
        }
        ++events_;
        return true;
    }
}

bool TraceReader::load_chunk() {
    const uint64_t size = src_->size();
    const uint64_t remaining = size - offset_;
    const std::string where = "chunk " + std::to_string(chunks_) + " at offset " + std::to_string(offset_);
    if (remaining == 0) {
        end_with_tail("the file ends after " +
                      (chunks_ == 0 ? std::string("the header")
                                    : "data chunk " + std::to_string(chunks_ - 1)) +
                      " at offset " + std::to_string(offset_) +
                      " without the end chunk; 0 bytes dropped");
        return false;
    }
    if (remaining < kChunkHeaderBytes) {
        end_with_tail("the file ends inside the header of " + where + " (" +
                      std::to_string(remaining) + " of " + std::to_string(kChunkHeaderBytes) +
                      " bytes); " + std::to_string(remaining) + " bytes dropped");
        return false;
    }
    uint8_t hb[kChunkHeaderBytes];
    src_->read(offset_, hb, sizeof hb);
    const uint32_t m = get_u32(hb);
    if (m != kChunkMarker && m != kEndMarker)
        fail(TraceErrorCode::CorruptChunk, where + ": bad chunk marker " + hex32(m));
    ChunkHeader ch;
    if (!decode_chunk_header(hb, ch))
        fail(TraceErrorCode::CorruptChunk, where + ": chunk-header CRC mismatch");
    const bool is_end = ch.marker == kEndMarker;
    if (ch.index != chunks_)
        fail(TraceErrorCode::CorruptChunk, where + ": index " + std::to_string(ch.index) +
                                               ", expected " + std::to_string(chunks_));
    if (is_end && (ch.payload_len != kEndPayloadBytes || ch.record_count != 0))
        fail(TraceErrorCode::CorruptChunk, where + ": end chunk with payload length " +
                                               std::to_string(ch.payload_len) + " and record count " +
                                               std::to_string(ch.record_count));
    if (!is_end && ch.payload_len > kMaxChunkPayload)
        fail(TraceErrorCode::CorruptChunk, where + ": payload length " + std::to_string(ch.payload_len) +
                                               " over the cap of " + std::to_string(kMaxChunkPayload));
    if (!is_end && ch.record_count > ch.payload_len / kMinRecordBytes)
        fail(TraceErrorCode::CorruptChunk, where + ": " + std::to_string(ch.record_count) +
                                               " records cannot fit in " +
                                               std::to_string(ch.payload_len) + " payload bytes");
    if (ch.payload_len > remaining - kChunkHeaderBytes) {
        const uint64_t have = remaining - kChunkHeaderBytes;
        end_with_tail("the file ends inside " + std::string(is_end ? "the end " : "") + where +
                      " (payload " + std::to_string(have) + " of " + std::to_string(ch.payload_len) +
                      " bytes); " + std::to_string(remaining) + " bytes dropped");
        return false;
    }
    payload_.resize(ch.payload_len);
    src_->read(offset_ + kChunkHeaderBytes, payload_.data(), payload_.size());
    const uint32_t crc = crc32c(payload_.data(), payload_.size());
    if (crc != ch.payload_crc)
        fail(TraceErrorCode::CorruptChunk, where + ": payload CRC mismatch (stored " +
                                               hex32(ch.payload_crc) + ", computed " + hex32(crc) + ")");
    chunk_offset_ = offset_;
    offset_ += kChunkHeaderBytes + ch.payload_len;
    if (is_end) {
        const uint64_t total = get_u64(payload_.data());
        if (total != records_)
            fail(TraceErrorCode::CorruptChunk, where + ": the end chunk counts " + std::to_string(total) +
                                                   " records, the data chunks hold " +
                                                   std::to_string(records_));
        if (offset_ != size)
            fail(TraceErrorCode::CorruptChunk, where + ": " + std::to_string(size - offset_) +
                                                   " bytes after the end chunk");
        payload_.clear();
        done_ = true;
        return false;
    }
    ++chunks_;
    records_ += ch.record_count;
    in_chunk_ = true;
    pos_ = 0;
    chunk_records_ = ch.record_count;
    chunk_seen_ = 0;
    deltas_.reset();
    return true;
}

// ---- Whole-file reads -----------------------------------------------------------------------

namespace {

TraceReadResult collect(TraceReader& reader) {
    TraceReadResult result;
    result.header = reader.header();
    Event e;
    while (reader.next(e)) result.events.push_back(e);
    result.truncated_tail = reader.truncated_tail();
    result.tail_note = reader.tail_note();
    result.chunks = reader.chunks();
    result.skipped_records = reader.skipped_records();
    return result;
}

}  // namespace

TraceReadResult read_trace(const std::string& path) {
    TraceReader reader(path);
    return collect(reader);
}

TraceReadResult read_trace_bytes(std::span<const uint8_t> bytes) {
    TraceReader reader = TraceReader::from_bytes(bytes);
    return collect(reader);
}

}  // namespace emu::trace
