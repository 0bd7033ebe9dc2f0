// Encoders and decoders of the trace format; the layout is documented in trace_format.h.
#include "mmu/hex.h"
#include "emu/trace/trace_format.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "emu/trace/crc32.h"

namespace emu::trace {
namespace {

using mmu::hex;

[[noreturn]] void corrupt_header(const std::string& what) {
    throw TraceError(TraceErrorCode::CorruptHeader, what);
}

}  // namespace

// ---- Primitive encodings --------------------------------------------------------------------

size_t put_varint(uint8_t* p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = static_cast<uint8_t>(v | 0x80);
        v >>= 7;
    }
    p[n++] = static_cast<uint8_t>(v);
    return n;
}

bool get_varint(const uint8_t*& p, const uint8_t* end, uint64_t& v) {
    uint64_t value = 0;
    const uint8_t* q = p;
    for (size_t i = 0; i < kMaxVarintBytes; ++i) {
        if (q == end) return false;
        const uint8_t b = *q++;
        if (i == kMaxVarintBytes - 1 && b > 1) return false;  // more than 64 bits
        value |= uint64_t{b & 0x7Fu} << (7 * i);
        if ((b & 0x80) == 0) {
            if (b == 0 && i > 0) return false;  // overlong
            v = value;
            p = q;
            return true;
        }
    }
    return false;
}

// ---- File header ----------------------------------------------------------------------------

std::vector<uint8_t> encode_header(const TraceHeader& h) {
    if (h.vcpu_count == 0 || h.vcpu_count > kMaxVcpus)
        throw std::invalid_argument("trace header: vcpu_count " + std::to_string(h.vcpu_count) +
                                    " outside 1.." + std::to_string(kMaxVcpus));
    if (h.config.size() > kMaxHeaderString || h.cpu_profile.size() > kMaxHeaderString)
        throw std::invalid_argument("trace header: configuration or CPU profile string longer "
                                    "than " + std::to_string(kMaxHeaderString) + " bytes");
    const size_t len = kMinHeaderBytes + h.config.size() + h.cpu_profile.size();
    std::vector<uint8_t> out(len, 0);
    uint8_t* p = out.data();
    std::memcpy(p, kMagic, sizeof kMagic);
    put_u32(p + 8, kFormatVersion);
    put_u32(p + 12, static_cast<uint32_t>(len));
    put_u64(p + 16, h.image_hash);
    put_u32(p + 24, h.vcpu_count);
    size_t off = 28;
    for (const std::string* s : {&h.config, &h.cpu_profile}) {
        put_u32(p + off, static_cast<uint32_t>(s->size()));
        off += 4;
        std::copy(s->begin(), s->end(), p + off);
        off += s->size();
    }
    put_u32(p + off, crc32c(p, off));
    return out;
}

size_t header_length(std::span<const uint8_t> prefix, uint64_t file_size) {
    const size_t have = std::min(prefix.size(), size_t{kHeaderPrefixBytes});
    if (have < sizeof kMagic) {
        if (std::memcmp(prefix.data(), kMagic, have) != 0)
            throw TraceError(TraceErrorCode::NotATrace, "the file does not start with the trace magic");
        throw TraceError(TraceErrorCode::TruncatedHeader,
                         "the file is " + std::to_string(file_size) + " bytes, shorter than the magic");
    }
    if (std::memcmp(prefix.data(), kMagic, sizeof kMagic) != 0)
        throw TraceError(TraceErrorCode::NotATrace, "the file does not start with the trace magic");
    if (have < kHeaderPrefixBytes)
        throw TraceError(TraceErrorCode::TruncatedHeader,
                         "the file is " + std::to_string(file_size) + " bytes, it ends inside the header");
    const uint32_t version = get_u32(prefix.data() + 8);
    if (version_major(version) != kFormatMajor)
        throw TraceError(TraceErrorCode::UnsupportedVersion,
                         "format version " + std::to_string(version_major(version)) + "." +
                             std::to_string(version_minor(version)) + ", this reader reads " +
                             std::to_string(kFormatMajor) + ".x");
    const uint32_t len = get_u32(prefix.data() + 12);
    if (len < kMinHeaderBytes || len > kMaxHeaderBytes)
        corrupt_header("header length " + std::to_string(len) + " outside " +
                       std::to_string(kMinHeaderBytes) + ".." + std::to_string(kMaxHeaderBytes));
    if (file_size < len)
        throw TraceError(TraceErrorCode::TruncatedHeader,
                         "the header is " + std::to_string(len) + " bytes, the file " +
                             std::to_string(file_size));
    return len;
}

TraceHeader decode_header(std::span<const uint8_t> header) {
    const uint8_t* p = header.data();
    const size_t len = header.size();
    if (len < kMinHeaderBytes || len != get_u32(p + 12)) corrupt_header("header length mismatch");
    const uint32_t stored = get_u32(p + len - 4);
    const uint32_t computed = crc32c(p, len - 4);
    if (stored != computed)
        corrupt_header("header CRC mismatch (stored " + hex(stored) + ", computed " + hex(computed) + ")");
    TraceHeader h;
    h.version = get_u32(p + 8);
    h.image_hash = get_u64(p + 16);
    h.vcpu_count = get_u32(p + 24);
    if (h.vcpu_count == 0 || h.vcpu_count > kMaxVcpus)
        corrupt_header("vCPU count " + std::to_string(h.vcpu_count) + " outside 1.." +
                       std::to_string(kMaxVcpus));
    size_t off = 28;
    const size_t fields_end = len - 4;
    for (std::string* s : {&h.config, &h.cpu_profile}) {
        if (fields_end - off < 4) corrupt_header("header strings overrun the header");
        const uint32_t n = get_u32(p + off);
        off += 4;
        if (n > fields_end - off) corrupt_header("header string length " + std::to_string(n) + " overruns the header");
        s->assign(reinterpret_cast<const char*>(p + off), n);
        off += n;
    }
    // Bytes in [off, fields_end) are fields of a later minor version: skipped.
    return h;
}

// ---- Chunks ---------------------------------------------------------------------------------

void encode_chunk_header(const ChunkHeader& h, uint8_t* out) {
    put_u32(out + 0, h.marker);
    put_u32(out + 4, h.index);
    put_u32(out + 8, h.payload_len);
    put_u32(out + 12, h.record_count);
    put_u32(out + 16, h.payload_crc);
    put_u32(out + 20, crc32c(out, 20));
}

bool decode_chunk_header(const uint8_t* in, ChunkHeader& out) {
    if (get_u32(in + 20) != crc32c(in, 20)) return false;
    out.marker = get_u32(in + 0);
    out.index = get_u32(in + 4);
    out.payload_len = get_u32(in + 8);
    out.record_count = get_u32(in + 12);
    out.payload_crc = get_u32(in + 16);
    return true;
}

// ---- Records --------------------------------------------------------------------------------

void DeltaState::reset() {
    std::fill(icount.begin(), icount.end(), 0);
    std::fill(rip.begin(), rip.end(), 0);
}

void encode_record(const Event& e, DeltaState& st, std::vector<uint8_t>& out) {
    uint8_t body[kMaxRecordBody];
    size_t n = 0;
    body[n++] = static_cast<uint8_t>(e.kind);
    n += put_varint(body + n, e.vcpu);
    n += put_varint(body + n, zigzag(e.icount - st.icount[e.vcpu]));
    n += put_varint(body + n, zigzag(e.rip - st.rip[e.vcpu]));
    st.icount[e.vcpu] = e.icount;
    st.rip[e.vcpu] = e.rip;
    uint8_t mask = 0;
    for (int i = 0; i < 6; ++i)
        if (e.a[i] != 0) mask |= static_cast<uint8_t>(1u << i);
    body[n++] = mask;
    for (int i = 0; i < 6; ++i)
        if (e.a[i] != 0) n += put_varint(body + n, zigzag(e.a[i]));
    uint8_t prefix[kMaxVarintBytes];
    const size_t pn = put_varint(prefix, n);
    out.insert(out.end(), prefix, prefix + pn);
    out.insert(out.end(), body, body + n);
}

RecordStatus decode_record(const uint8_t*& p, const uint8_t* end, DeltaState& st, Event& out,
                           const char** why) {
    auto corrupt = [&](const char* what) {
        *why = what;
        return RecordStatus::Corrupt;
    };
    uint64_t body_len = 0;
    if (!get_varint(p, end, body_len)) return corrupt("bad record length");
    if (body_len == 0) return corrupt("empty record");
    if (body_len > static_cast<uint64_t>(end - p)) return corrupt("record overruns the chunk payload");
    const uint8_t* q = p;
    const uint8_t* body_end = p + body_len;
    p = body_end;
    const uint8_t kind = *q++;
    uint64_t vcpu = 0, dicount = 0, drip = 0;
    if (!get_varint(q, body_end, vcpu)) return corrupt("bad vCPU field");
    if (vcpu >= st.vcpu_count()) return corrupt("vCPU number not below the header's vCPU count");
    if (!get_varint(q, body_end, dicount) || !get_varint(q, body_end, drip))
        return corrupt("bad icount or rip delta");
    const uint64_t icount = st.icount[vcpu] + unzigzag(dicount);
    const uint64_t rip = st.rip[vcpu] + unzigzag(drip);
    st.icount[vcpu] = icount;
    st.rip[vcpu] = rip;
    if (!is_known_kind(kind)) return RecordStatus::Skipped;
    if (q == body_end) return corrupt("missing argument mask");
    const uint8_t mask = *q++;
    if (mask & 0xC0) return corrupt("reserved argument-mask bits set");
    Event e;
    e.icount = icount;
    e.rip = rip;
    e.vcpu = static_cast<uint32_t>(vcpu);
    e.kind = static_cast<EventKind>(kind);
    for (int i = 0; i < 6; ++i) {
        if ((mask & (1u << i)) == 0) continue;
        uint64_t z = 0;
        if (!get_varint(q, body_end, z)) return corrupt("bad argument");
        e.a[i] = unzigzag(z);
    }
    // Bytes in [q, body_end) are fields of a later minor version: skipped.
    out = e;
    return RecordStatus::Event;
}

}  // namespace emu::trace
