// Runs the asi-emu binary as a child process and captures what it printed and how it ended.
#pragma once
#include <cstdint>
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
// json_field as a number; a missing key fails the current test and gives ~0.
uint64_t json_number(const std::string& json, const std::string& key);
// The text of per_vcpu.<k> in `run --json` (its counters are flat), "" when absent.
std::string per_vcpu_json(const std::string& json, unsigned k);
// One counter of per_vcpu.<k>; a missing vCPU or key fails the current test.
uint64_t vcpu_counter(const std::string& json, unsigned k, const std::string& key);

// The last `max` characters of a child's output, for failure messages.
std::string tail(const std::string& text, size_t max = 3000);

// A file's bytes ("" when it cannot be read).
std::string read_file(const std::string& path);
// A path in the test temp directory, unique to this process.
std::string temp_path(const std::string& name);

}  // namespace testutil
