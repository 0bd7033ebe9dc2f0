#include "emu/cli/verdict_json.h"

#include <string>

namespace emu::cli {

void write_verdict_json(JsonWriter& j, uint64_t violation_count, const cpu_model::OracleMetrics& m,
                        const std::vector<cpu_model::Violation>& violations) {
    j.field("verdict", violation_count ? "violation" : "clean");
    j.field("violations", violation_count);
    for (int r = 1; r <= 6; ++r) j.field((std::string("R") + std::to_string(r)).c_str(), m.violations_by_rule[r]);
    j.field("page_table_writes", m.pte_writes);
    j.field("cr3_flushes_needed", m.cr3_flush.needed);
    j.field("cr3_flushes_redundant", m.cr3_flush.redundant);
    j.field("invlpg_needed", m.invlpg.needed);
    j.field("invlpg_redundant", m.invlpg.redundant);
    j.field("invpcid_needed", m.invpcid.needed);
    j.field("invpcid_redundant", m.invpcid.redundant);
    j.field("restricted_space_entries", m.asi_entries);
    if (violations.empty()) return;
    const cpu_model::Violation& v = violations.front();
    j.begin_object("first_violation");
    j.field("rule", cpu_model::rule_name(v.rule));
    j.field("vcpu", static_cast<uint64_t>(v.vcpu));
    j.field("pcid", static_cast<uint64_t>(v.pcid));
    j.field("va", v.va);
    j.field("frame", v.frame);
    j.field("rip", v.rip);
    j.field("event_index", v.event_index);
    j.end_object();
}

}  // namespace emu::cli
