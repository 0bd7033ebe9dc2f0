// Parses sizes such as "256M", "1G", "65536", "64K" (binary multiples).
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace emu {

std::optional<uint64_t> parse_size(std::string_view text);

}  // namespace emu
