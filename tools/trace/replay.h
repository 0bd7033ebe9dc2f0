// Re-running the leak oracle on a recorded trace, without emulating (DESIGN 6). The same
// oracle code as a live run, fed the same events, so a replay reproduces the live verdict;
// another CPU profile re-evaluates it.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "cpu_model/leak_oracle.h"
#include "emu/events.h"
#include "emu/trace/trace_format.h"

namespace tools {

struct LoadedTrace {
    emu::trace::TraceHeader header;
    std::vector<emu::Event> events;  // every record, auxiliary ones included
    bool truncated_tail = false;
    std::string tail_note;
};

// Throws emu::trace::TraceError.
LoadedTrace load_trace(const std::string& path);
void save_trace(const std::string& path, const emu::trace::TraceHeader& header, const std::vector<emu::Event>& events);

// Auxiliary records feed the oracle's readers and carry no index of their own.
bool is_auxiliary(const emu::Event& e);

struct ReplayResult {
    std::vector<cpu_model::Violation> violations;
    uint64_t violation_count = 0;
    cpu_model::OracleMetrics metrics;
    uint64_t events = 0;  // indexed (non-auxiliary) events
    std::string profile;
};

// Throws std::invalid_argument for an unknown profile.
ReplayResult replay(const LoadedTrace& trace, const std::optional<std::string>& profile_override = std::nullopt);

// The image path recorded in the header's configuration, if any.
std::optional<std::string> recorded_image_path(const emu::trace::TraceHeader& header);
uint64_t recorded_ram_size(const emu::trace::TraceHeader& header);

}  // namespace tools
