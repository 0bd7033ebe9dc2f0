// CRC-32C, table-driven, slicing-by-8: table[k][b] is the CRC register after byte b followed
// by k zero bytes, so eight input bytes are folded in with eight independent lookups. Bytes
// are assembled explicitly, so the result does not depend on host byte order.
#include "emu/trace/crc32.h"

#include <array>

namespace emu::trace {
namespace {

constexpr uint32_t kReflectedPoly = 0x82F63B78u;

using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables make_tables() {
    Tables t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int bit = 0; bit < 8; ++bit) c = (c >> 1) ^ (kReflectedPoly & (0u - (c & 1u)));
        t[0][i] = c;
    }
    for (size_t k = 1; k < 8; ++k)
        for (size_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFFu];
    return t;
}

constexpr Tables kTables = make_tables();
static_assert(kTables[0][1] == 0xF26B8303u, "CRC-32C table");

}  // namespace

uint32_t crc32c(const void* data, size_t len, uint32_t crc) {
    const auto* p = static_cast<const uint8_t*>(data);
    const auto& t = kTables;
    uint32_t c = ~crc;
    while (len >= 8) {
        const uint32_t lo = c ^ (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
                                 uint32_t{p[3]} << 24);
        c = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^
            t[4][lo >> 24] ^ t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len-- > 0) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFFu];
    return ~c;
}

}  // namespace emu::trace
