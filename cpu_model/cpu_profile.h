// CPU profiles for the leak oracle (`--cpu-profile`): which speculative paths the modelled
// CPU has. A profile changes which rules apply, never the emulation.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace cpu_model {

struct CpuProfile {
    std::string name;
    std::string description;
    // L1 Terminal Fault (Intel SA-00161): a not-present PTE's frame number can be used
    // speculatively to load from the L1D, so a not-present restricted entry must not name a
    // sensitive frame (rule R6; Linux inverts such entries).
    bool l1tf_vulnerable = false;
};

const std::vector<CpuProfile>& cpu_profiles();
std::optional<CpuProfile> find_cpu_profile(const std::string& name);

}  // namespace cpu_model
