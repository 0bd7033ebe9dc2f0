// Chrome trace-event JSON for Perfetto / chrome://tracing (DESIGN 6, `asi-emu export`): one
// track per vCPU with slices for restricted and unrestricted intervals, instants for
// flushes and violations, and counters of allocated pages by sensitivity. Timestamps are
// instruction counts (shown as microseconds).
#pragma once
#include <string>

#include "tools/trace/replay.h"

namespace tools {

std::string export_chrome_json(const LoadedTrace& trace, const ReplayResult& verdict);

}  // namespace tools
