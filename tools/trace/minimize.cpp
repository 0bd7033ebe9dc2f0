#include "tools/trace/minimize.h"

#include <stdexcept>

namespace tools {
namespace {

uint64_t indexed_count(const std::vector<emu::Event>& events) {
    uint64_t n = 0;
    for (const emu::Event& e : events) n += !is_auxiliary(e);
    return n;
}

}  // namespace

MinimizeResult minimize(const LoadedTrace& input, unsigned max_replays) {
    MinimizeResult out;
    const ReplayResult first = replay(input);
    if (first.violations.empty()) throw std::runtime_error("the trace has no violation to keep");
    out.rule = first.violations.front().rule;
    out.events_before = indexed_count(input.events);
    out.replays = 1;

    // 1. Drop everything after the violating event.
    std::vector<emu::Event> events;
    uint64_t index = 0;
    for (const emu::Event& e : input.events) {
        events.push_back(e);
        if (!is_auxiliary(e) && index++ == first.violations.front().event_index) break;
    }

    auto still_fails = [&](const std::vector<emu::Event>& candidate) {
        LoadedTrace t{input.header, candidate, false, ""};
        ++out.replays;
        const ReplayResult r = replay(t);
        return !r.violations.empty() && r.violations.front().rule == out.rule;
    };

    // 2. ddmin over the indexed events (power-on state and the last event stay).
    std::vector<size_t> removable;
    for (size_t i = 0; i + 1 < events.size(); ++i)
        if (!is_auxiliary(events[i]) && events[i].kind != emu::EventKind::VcpuState) removable.push_back(i);
    size_t granularity = 2;
    while (!removable.empty() && out.replays < max_replays) {
        const size_t chunk = (removable.size() + granularity - 1) / granularity;
        bool progressed = false;
        for (size_t start = 0; start < removable.size() && out.replays < max_replays; start += chunk) {
            const size_t end = std::min(removable.size(), start + chunk);
            std::vector<bool> drop(events.size(), false);
            for (size_t k = start; k < end; ++k) drop[removable[k]] = true;
            std::vector<emu::Event> candidate;
            std::vector<size_t> remap(events.size(), SIZE_MAX);
            for (size_t i = 0; i < events.size(); ++i)
                if (!drop[i]) {
                    remap[i] = candidate.size();
                    candidate.push_back(events[i]);
                }
            if (!still_fails(candidate)) continue;
            std::vector<size_t> next;
            for (size_t k = 0; k < removable.size(); ++k)
                if (k < start || k >= end) next.push_back(remap[removable[k]]);
            events.swap(candidate);
            removable.swap(next);
            granularity = std::max<size_t>(granularity - 1, 2);
            progressed = true;
            break;
        }
        if (!progressed) {
            if (granularity >= removable.size()) break;
            granularity = std::min(removable.size(), granularity * 2);
        }
    }
    out.trace = LoadedTrace{input.header, events, false, ""};
    out.events_after = indexed_count(events);
    return out;
}

}  // namespace tools
