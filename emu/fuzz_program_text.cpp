#include "emu/fuzz_program_text.h"

#include <cstdio>

namespace emu {

std::string describe_fuzz_program(std::span<const uint8_t> program) {
    std::string out;
    char buf[8];
    for (size_t i = 0; i < program.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%02x", program[i]);
        out += buf;
    }
    return "  bytes " + out;
}

}  // namespace emu
