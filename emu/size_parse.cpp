#include "emu/size_parse.h"

#include <cctype>

namespace emu {

std::optional<uint64_t> parse_size(std::string_view text) {
    if (text.empty()) return std::nullopt;
    uint64_t value = 0;
    size_t i = 0;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
        if (__builtin_mul_overflow(value, 10, &value) ||
            __builtin_add_overflow(value, static_cast<uint64_t>(text[i] - '0'), &value))
            return std::nullopt;
    }
    if (i == 0) return std::nullopt;
    uint64_t shift = 0;
    if (i < text.size()) {
        switch (std::toupper(static_cast<unsigned char>(text[i]))) {
            case 'K': shift = 10; break;
            case 'M': shift = 20; break;
            case 'G': shift = 30; break;
            default: return std::nullopt;
        }
        ++i;
        const std::string_view rest = text.substr(i);
        if (rest == "iB" || rest == "B") i = text.size();  // "MiB", "MB"
    }
    if (i != text.size()) return std::nullopt;
    if (shift && value > (UINT64_MAX >> shift)) return std::nullopt;
    return value << shift;
}

}  // namespace emu
