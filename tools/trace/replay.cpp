#include "tools/trace/replay.h"

#include <stdexcept>

#include "emu/oracle_inputs.h"
#include "emu/trace/trace_reader.h"
#include "emu/trace/trace_writer.h"

namespace tools {

LoadedTrace load_trace(const std::string& path) {
    emu::trace::TraceReadResult r = emu::trace::read_trace(path);
    return LoadedTrace{r.header, std::move(r.events), r.truncated_tail, r.tail_note};
}

void save_trace(const std::string& path, const emu::trace::TraceHeader& header, const std::vector<emu::Event>& events) {
    emu::trace::TraceWriter w(path, header);
    for (const emu::Event& e : events) w.on_event(e);
    w.close();
}

bool is_auxiliary(const emu::Event& e) {
    return e.kind == emu::EventKind::TableSnapshot || e.kind == emu::EventKind::TableEntry ||
           e.kind == emu::EventKind::FrameContent;
}

static std::string config_value(const std::string& config, const std::string& key) {
    const std::string needle = key + "=";
    size_t pos = 0;
    while ((pos = config.find(needle, pos)) != std::string::npos) {
        if (pos == 0 || config[pos - 1] == ' ') {
            const size_t start = pos + needle.size();
            if (key == "append") return config.substr(start);  // the last field, may hold spaces
            return config.substr(start, config.find(' ', start) - start);
        }
        pos += needle.size();
    }
    return "";
}

std::optional<std::string> recorded_image_path(const emu::trace::TraceHeader& header) {
    std::string v = config_value(header.config, "image");
    if (v.empty()) return std::nullopt;
    return v;
}

uint64_t recorded_ram_size(const emu::trace::TraceHeader& header) {
    const std::string v = config_value(header.config, "mem");
    try {
        return v.empty() ? (256ull << 20) : std::stoull(v);
    } catch (...) {
        return 256ull << 20;
    }
}

ReplayResult replay(const LoadedTrace& trace, const std::optional<std::string>& profile_override) {
    const std::string name = profile_override.value_or(trace.header.cpu_profile.empty() ? "default" : trace.header.cpu_profile);
    auto profile = cpu_model::find_cpu_profile(name);
    if (!profile) throw std::invalid_argument("unknown CPU profile " + name);
    emu::RecordedOracleInputs inputs;
    cpu_model::LeakOracle oracle(recorded_ram_size(trace.header), trace.header.vcpu_count, *profile, inputs, inputs);
    for (const emu::Event& e : trace.events)
        if (!inputs.consume(e)) oracle.process(e);
    ReplayResult r;
    r.violations = oracle.violations();
    r.violation_count = oracle.violation_count();
    r.metrics = oracle.metrics();
    r.events = oracle.events_processed();
    r.profile = name;
    return r;
}

}  // namespace tools
