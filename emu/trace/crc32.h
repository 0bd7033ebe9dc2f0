// CRC-32C (Castagnoli), the checksum of the trace format (trace_format.h).
//
// Parameters (the "CRC-32/ISCSI" of the CRC catalogue, RFC 3720 B.4): polynomial 0x1EDC6F41,
// processed reflected (0x82F63B78), initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF, check
// value crc32c("123456789") = 0xE3069283. Chosen over the IEEE polynomial for its larger
// Hamming distance at the chunk sizes the trace uses (it detects every 1-, 2- and 3-bit error
// in a 16 MiB chunk) and because x86 has it in hardware (SSE4.2 CRC32) should the
// table-driven (slicing-by-8) software version here ever be too slow.
#pragma once
#include <cstddef>
#include <cstdint>

namespace emu::trace {

// CRC-32C of `len` bytes at `data`. Incremental: crc32c(b, nb, crc32c(a, na)) equals the
// CRC of a followed by b; the CRC of nothing is 0.
uint32_t crc32c(const void* data, size_t len, uint32_t crc = 0);

}  // namespace emu::trace
