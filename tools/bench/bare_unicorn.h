// The baseline for backend-overhead figures: the same image booted on Unicorn with the same
// boot page tables and windows, and no hooks at all.
#pragma once
#include <cstdint>
#include <string>

namespace bench {

// Runs the image until it halts. Returns false if Unicorn reported an error.
bool run_bare_unicorn(const std::string& image_path, uint64_t ram_size);

}  // namespace bench
