// Runs the asi-emu binary as a child process and captures what it printed and how it ended.
#pragma once
#include <string>
#include <vector>

namespace testutil {

struct ProcessResult {
    int exit_code = -1;  // -1: killed by a signal
    int signal = 0;
    std::string out;
    std::string err;
};

ProcessResult run_process(const std::vector<std::string>& argv, int timeout_seconds = 300);
ProcessResult run_asi_emu(const std::vector<std::string>& args, int timeout_seconds = 300);
std::string test_image(const std::string& name);  // path of a test image built by CMake

// The guest kernel this build produced, and whether it exists.
const std::string& guest_image();
bool have_guest();
// The raw text of `"key": value` in asi-emu's --json output ("" when absent).
std::string json_field(const std::string& json, const std::string& key);

}  // namespace testutil
