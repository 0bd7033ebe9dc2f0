// The trace file format (DESIGN 6): the event stream (emu/events.h) plus what is needed to
// re-check it. This comment is the one description of the byte layout.
//
// All integers are little-endian. "varint" is unsigned LEB128 (7 bits per byte, low group
// first, bit 7 = more follows), at most 10 bytes, canonical (no trailing 0x80 00 groups); a
// reader rejects overlong or overflowing varints. zz(x) is the ZigZag map of x taken as a
// two's-complement int64: 0,-1,1,-2,... -> 0,1,2,3,..., i.e. (x << 1) ^ -(x >> 63).
//
// File  = FileHeader DataChunk* EndChunk
//
// FileHeader (version 1.0, 40 bytes + the two strings):
//   off  size  field
//   0    8     magic "ASITRACE"
//   8    4     version = major << 16 | minor (this code: 1.0 = 0x00010000)
//   12   4     header_len: bytes of the whole FileHeader including header_crc, 40..1 MiB
//   16   8     image_hash: content hash of the guest image
//   24   4     vcpu_count, 1..4096
//   28   4     config_len, then config_len bytes: the configuration string
//   ..   4     profile_len, then profile_len bytes: the CPU profile name
//   ..   ..    (later minor versions append fields here; a reader skips them)
//   hl-4 4     header_crc: CRC-32C (crc32.h) of bytes [0, header_len - 4)
// The header CRC covers every header field. A reader checks, in this order: magic
// (NotATrace), major version (UnsupportedVersion), header_len range (CorruptHeader), file
// long enough (TruncatedHeader), CRC and field ranges (CorruptHeader). So a corrupted magic,
// version or header_len is caught before the CRC and named by that check instead; a
// header_len corrupted upwards past the end of the file reads as TruncatedHeader.
//
// Chunk header (24 bytes), then payload_len bytes of payload:
//   0    4     marker: "CHNK" for a data chunk, "TEND" for the end chunk
//   4    4     index: data chunks are numbered 0, 1, 2, ...; the end chunk carries the
//              number of data chunks
//   8    4     payload_len: data chunk <= 16 MiB; end chunk exactly 8
//   12   4     record_count: data chunk <= payload_len / 5; end chunk 0
//   16   4     payload_crc: CRC-32C of the payload
//   20   4     header_crc: CRC-32C of bytes 0..19 of this chunk header
// End chunk payload: uint64 total number of records in all data chunks. The writer writes it
// on close(); nothing may follow it. A file that ends without one ends in a truncated tail:
// the reader returns every complete data chunk and reports the bytes of the incomplete one.
// Because the chunk header has its own CRC, a corrupted payload_len is never mistaken for a
// truncated tail: a complete chunk header that fails its CRC, marker, index or length checks,
// or a payload that fails its CRC, is CorruptChunk.
//
// Data chunk payload = record_count records, each:
//   varint body_len (>= 1, within the payload), then body_len bytes of body:
//     u8     kind (emu::EventKind)
//     varint vcpu (< vcpu_count)
//     varint zz(icount - prev_icount[vcpu])   (64-bit wrapping difference)
//     varint zz(rip    - prev_rip[vcpu])
//     -- kind-specific tail; for every kind in is_known_kind():
//     u8     arg_mask: bit i set iff a[i] != 0 (bits 6, 7 zero)
//     varint zz(a[i]) for each set bit i, in increasing i
//     -- any further body bytes: fields of a later minor version, skipped by this reader
// prev_icount/prev_rip start at 0 for every vCPU at the start of each chunk (a chunk decodes
// on its own) and are updated by every record, including records of unknown kinds.
//
// Forward compatibility within a major version: the record prefix (kind, vcpu, the two
// deltas) is the same for every kind. A reader decodes the prefix of a record whose kind it
// does not know, updates the delta state and skips the rest of the body; the streaming reader
// counts such records in skipped_records(). New kinds and new trailing fields need a minor
// version bump; anything else (a different prefix, new chunk markers) needs a major bump.
//
// Determinism: every byte is written field by field from the event stream and the header;
// there are no timestamps, pointers or padding. Chunk boundaries depend only on the event
// stream and the writer's chunk size, so the same stream gives the same file, byte for byte.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "emu/events.h"
#include "emu/trace/trace_error.h"

namespace emu::trace {

// ---- File header ----------------------------------------------------------------------------
inline constexpr uint8_t kMagic[8] = {'A', 'S', 'I', 'T', 'R', 'A', 'C', 'E'};
inline constexpr uint16_t kFormatMajor = 1;
inline constexpr uint16_t kFormatMinor = 0;
constexpr uint32_t make_version(uint16_t major, uint16_t minor) {
    return uint32_t{major} << 16 | minor;
}
constexpr uint16_t version_major(uint32_t version) { return static_cast<uint16_t>(version >> 16); }
constexpr uint16_t version_minor(uint32_t version) { return static_cast<uint16_t>(version); }
inline constexpr uint32_t kFormatVersion = make_version(kFormatMajor, kFormatMinor);

inline constexpr size_t kHeaderPrefixBytes = 16;  // magic, version, header_len
inline constexpr size_t kMinHeaderBytes = 40;     // both strings empty
inline constexpr size_t kMaxHeaderBytes = size_t{1} << 20;
inline constexpr size_t kMaxHeaderString = size_t{64} << 10;  // what the writer accepts
inline constexpr uint32_t kMaxVcpus = 4096;

struct TraceHeader {
    uint32_t version = kFormatVersion;  // the writer always writes kFormatVersion
    uint64_t image_hash = 0;
    std::string config;       // e.g. "mem=268435456 seed=7 append=... cpus=1"
    std::string cpu_profile;  // CPU profile name
    uint32_t vcpu_count = 1;
    bool operator==(const TraceHeader&) const = default;
};

// The whole FileHeader for `h` (version kFormatVersion whatever h.version says). Throws
// std::invalid_argument for vcpu_count outside 1..kMaxVcpus or a string over kMaxHeaderString.
std::vector<uint8_t> encode_header(const TraceHeader& h);

// Checks the first min(file_size, kHeaderPrefixBytes) bytes of a file of `file_size` bytes and
// returns header_len. Throws TraceError: NotATrace, UnsupportedVersion, CorruptHeader (length
// out of range) or TruncatedHeader (the file is shorter than the prefix or header_len).
size_t header_length(std::span<const uint8_t> prefix, uint64_t file_size);

// Decodes a complete FileHeader (exactly header_len bytes, as checked by header_length).
// Throws TraceError(CorruptHeader) for a CRC mismatch or a field out of range.
TraceHeader decode_header(std::span<const uint8_t> header);

// ---- Chunks ---------------------------------------------------------------------------------
constexpr uint32_t marker(char a, char b, char c, char d) {
    return uint32_t{uint8_t(a)} | uint32_t{uint8_t(b)} << 8 | uint32_t{uint8_t(c)} << 16 |
           uint32_t{uint8_t(d)} << 24;
}
inline constexpr uint32_t kChunkMarker = marker('C', 'H', 'N', 'K');
inline constexpr uint32_t kEndMarker = marker('T', 'E', 'N', 'D');
inline constexpr size_t kChunkHeaderBytes = 24;
inline constexpr size_t kEndPayloadBytes = 8;
inline constexpr size_t kMaxChunkPayload = size_t{16} << 20;
inline constexpr size_t kDefaultChunkBytes = size_t{64} << 10;

struct ChunkHeader {
    uint32_t marker = kChunkMarker;
    uint32_t index = 0;
    uint32_t payload_len = 0;
    uint32_t record_count = 0;
    uint32_t payload_crc = 0;
};

// Writes the 24-byte chunk header, header_crc included.
void encode_chunk_header(const ChunkHeader& h, uint8_t* out);
// Reads a 24-byte chunk header; false if its header_crc does not match.
bool decode_chunk_header(const uint8_t* in, ChunkHeader& out);

// ---- Records --------------------------------------------------------------------------------
inline constexpr size_t kMinRecordBytes = 5;   // body_len, kind, vcpu, two 1-byte deltas
inline constexpr size_t kMaxRecordBody = 87;   // 1 + 5 + 10 + 10 + 1 + 6 * 10
inline constexpr size_t kMaxRecordBytes = 1 + kMaxRecordBody;

// The kinds this version encodes with the argument tail; others are skipped when read.
// When emu::EventKind grows, add the kind here and bump kFormatMinor.
constexpr bool is_known_kind(uint8_t kind) { return kind >= 1 && kind <= 18; }

// Per-vCPU delta base: the icount and rip of the vCPU's previous record in this chunk.
struct DeltaState {
    explicit DeltaState(uint32_t vcpu_count) : icount(vcpu_count), rip(vcpu_count) {}
    void reset();
    uint32_t vcpu_count() const { return static_cast<uint32_t>(icount.size()); }
    std::vector<uint64_t> icount, rip;
};

// Appends one length-prefixed record. Precondition: is_known_kind(e.kind) and
// e.vcpu < st.vcpu_count() (the writer checks both).
void encode_record(const Event& e, DeltaState& st, std::vector<uint8_t>& out);

enum class RecordStatus : uint8_t { Event, Skipped, Corrupt };
// Decodes the record at p (p < end) and advances p past it. Event: `out` holds it. Skipped: a
// kind this version does not know (the delta state is updated). Corrupt: *why says what.
RecordStatus decode_record(const uint8_t*& p, const uint8_t* end, DeltaState& st, Event& out,
                           const char** why);

// ---- Primitive encodings --------------------------------------------------------------------
inline void put_u32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void put_u64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint32_t get_u32(const uint8_t* p) {
    return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
inline uint64_t get_u64(const uint8_t* p) {
    return uint64_t{get_u32(p)} | uint64_t{get_u32(p + 4)} << 32;
}
constexpr uint64_t zigzag(uint64_t x) { return (x << 1) ^ (0 - (x >> 63)); }
constexpr uint64_t unzigzag(uint64_t z) { return (z >> 1) ^ (0 - (z & 1)); }
inline constexpr size_t kMaxVarintBytes = 10;
// Writes v at p (room for kMaxVarintBytes); returns the number of bytes written.
size_t put_varint(uint8_t* p, uint64_t v);
// Reads a canonical varint from [p, end); advances p. False if it is cut off, overlong or
// overflows 64 bits.
bool get_varint(const uint8_t*& p, const uint8_t* end, uint64_t& v);

}  // namespace emu::trace
