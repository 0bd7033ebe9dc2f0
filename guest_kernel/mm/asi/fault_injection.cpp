#include "mm/asi/fault_injection.h"

namespace asi {
namespace {

constexpr const char* kNames[] = {
    "none", "unmap-no-flush", "flush-wrong-pcid", "global-restricted", "map-before-zero",
    "free-table-before-flush", "shootdown-local-only", "shootdown-skip-inside", "shootdown-skip-outside",
};
constexpr uint32_t kCount = sizeof(kNames) / sizeof(kNames[0]);

constinit Bug g_bug = Bug::kNone;

}  // namespace

const char* bug_name(Bug bug) {
    const uint32_t i = static_cast<uint32_t>(bug);
    return i < kCount ? kNames[i] : "?";
}

bool parse_bug(StringView name, Bug* out) {
    for (uint32_t i = 0; i < kCount; ++i) {
        if (name.equals(kNames[i])) {
            *out = static_cast<Bug>(i);
            return true;
        }
    }
    return false;
}

Bug injected_bug() { return g_bug; }
void set_injected_bug(Bug bug) { g_bug = bug; }

}  // namespace asi
