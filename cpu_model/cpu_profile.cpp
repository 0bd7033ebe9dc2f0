#include "cpu_model/cpu_profile.h"

namespace cpu_model {

const std::vector<CpuProfile>& cpu_profiles() {
    static const std::vector<CpuProfile> profiles = {
        {"default", "an x86-64 core with PCID and INVPCID, not affected by L1TF", false},
        {"l1tf", "an L1TF-affected Intel core (e.g. Skylake): not-present PTEs leak (R6)", true},
    };
    return profiles;
}

std::optional<CpuProfile> find_cpu_profile(const std::string& name) {
    for (const CpuProfile& p : cpu_profiles())
        if (p.name == name) return p;
    return std::nullopt;
}

}  // namespace cpu_model
