// The oracle's verdict in --json output, shared by `run` and `replay`.
#pragma once
#include <vector>

#include "cpu_model/leak_oracle.h"
#include "emu/cli/json_writer.h"

namespace emu::cli {

void write_verdict_json(JsonWriter& j, uint64_t violation_count, const cpu_model::OracleMetrics& metrics,
                        const std::vector<cpu_model::Violation>& violations);

}  // namespace emu::cli
