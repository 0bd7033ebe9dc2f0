// Cutting a trace down to what its first violation needs (DESIGN 6, `asi-emu minimize`):
// everything after the violating event goes, then delta debugging (ddmin) removes groups of
// events as long as a replay still reports the same rule first. Auxiliary records (table
// snapshots, zero checks) are kept: they only answer the oracle's questions.
#pragma once
#include <cstdint>

#include "tools/trace/replay.h"

namespace tools {

struct MinimizeResult {
    LoadedTrace trace;
    cpu_model::Rule rule{};
    uint64_t events_before = 0;  // indexed events in the input
    uint64_t events_after = 0;
    unsigned replays = 0;
};

// Throws std::runtime_error when the trace has no violation to keep.
MinimizeResult minimize(const LoadedTrace& input, unsigned max_replays = 400);

}  // namespace tools
