// A fuzz program (asi_emu_abi.h "In-emulator fuzzing") as readable text, one operation a
// line, decoded exactly as the guest decodes it (guest_kernel/fuzz/fuzz_program.h).
#pragma once
#include <cstdint>
#include <span>
#include <string>

namespace emu {

std::string describe_fuzz_program(std::span<const uint8_t> program);

}  // namespace emu
