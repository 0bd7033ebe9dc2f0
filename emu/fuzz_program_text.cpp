#include "emu/fuzz_program_text.h"

#include "guest_kernel/fuzz/fuzz_program.h"

namespace emu {

std::string describe_fuzz_program(std::span<const uint8_t> program) {
    fuzz_program::FuzzOp ops[fuzz_program::kFuzzMaxOps];
    const size_t n = fuzz_program::decode(program.data(), program.size(), ops, fuzz_program::kFuzzMaxOps);
    if (n == 0) return "  (no operations)";
    std::string out;
    char line[160];
    for (size_t i = 0; i < n; ++i) {
        fuzz_program::describe(ops[i], line, sizeof line);
        out += "  " + std::to_string(i) + ": " + line + (i + 1 < n ? "\n" : "");
    }
    return out;
}

}  // namespace emu
