#include "mmu/hex.h"
#include "tools/trace/chrome_export.h"

#include <cinttypes>
#include <cstdio>
#include <map>

#include "cpu_model/violation.h"
#include "guest_kernel/abi/asi_emu_abi.h"

namespace tools {
namespace {

using mmu::hex;

class Writer {
public:
    void add(const std::string& json) {
        out_ += first_ ? "\n  " : ",\n  ";
        out_ += json;
        first_ = false;
    }
    std::string finish() { return "{\"displayTimeUnit\": \"ns\", \"traceEvents\": [" + out_ + "\n]}\n"; }

private:
    std::string out_;
    bool first_ = true;
};

std::string instant(unsigned vcpu, uint64_t ts, const std::string& name, const std::string& cat, const std::string& args) {
    return "{\"name\": \"" + name + "\", \"cat\": \"" + cat + "\", \"ph\": \"i\", \"s\": \"t\", \"pid\": 1, \"tid\": " +
           std::to_string(vcpu) + ", \"ts\": " + std::to_string(ts) + ", \"args\": {" + args + "}}";
}

}  // namespace

std::string export_chrome_json(const LoadedTrace& trace, const ReplayResult& verdict) {
    Writer w;
    w.add("{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": 1, \"args\": {\"name\": \"asi-emu guest\"}}");
    for (unsigned v = 0; v < trace.header.vcpu_count; ++v)
        w.add("{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": " + std::to_string(v) +
              ", \"args\": {\"name\": \"vCPU " + std::to_string(v) + "\"}}");

    std::map<uint64_t, bool> restricted;  // root -> restricted
    struct Open {
        bool open = false;
        uint64_t start = 0;
        std::string name;
    };
    std::vector<Open> slices(trace.header.vcpu_count), parked(trace.header.vcpu_count);
    // Timestamps are each vCPU's clock (instructions + idle time), learned from its slice
    // events, so that vCPUs line up; a single-vCPU trace has clock = instruction count.
    std::vector<uint64_t> idle(trace.header.vcpu_count, 0);
    std::map<uint64_t, size_t> violation_at;  // event index -> violation
    for (size_t i = 0; i < verdict.violations.size(); ++i) violation_at.emplace(verdict.violations[i].event_index, i);
    int64_t sensitive_pages = 0, nonsensitive_pages = 0;
    uint64_t index = 0, last_ts = 0;

    auto close_slice = [&](unsigned v, uint64_t ts) {
        Open& s = slices[v];
        if (!s.open) return;
        w.add("{\"name\": \"" + s.name + "\", \"cat\": \"address-space\", \"ph\": \"X\", \"pid\": 1, \"tid\": " +
              std::to_string(v) + ", \"ts\": " + std::to_string(s.start) + ", \"dur\": " +
              std::to_string(ts >= s.start ? ts - s.start : 0) + "}");
        s.open = false;
    };
    for (const emu::Event& e : trace.events) {
        if (is_auxiliary(e)) continue;
        const uint64_t this_index = index++;
        const unsigned v = e.vcpu < slices.size() ? e.vcpu : 0;
        if (e.kind == emu::EventKind::Slice && v < idle.size() && e.a[0] >= e.icount) idle[v] = e.a[0] - e.icount;
        const uint64_t ts = e.icount + idle[v];
        last_ts = std::max(last_ts, ts);
        switch (e.kind) {
            case emu::EventKind::Cr3Load: {
                const uint64_t root = e.a[0] & ~0xfffull;
                auto it = restricted.find(root);
                const std::string name = it == restricted.end() ? "unregistered" : it->second ? "restricted" : "unrestricted";
                if (!slices[v].open || slices[v].name != name) {
                    close_slice(v, ts);
                    slices[v] = {true, ts, name};
                }
                if (!e.a[2]) w.add(instant(v, ts, "CR3 flush", "flush", "\"cr3\": \"" + hex(e.a[0]) + "\""));
                break;
            }
            case emu::EventKind::Invlpg:
                w.add(instant(v, ts, "INVLPG", "flush", "\"va\": \"" + hex(e.a[0]) + "\""));
                break;
            case emu::EventKind::Invpcid:
                w.add(instant(v, ts, "INVPCID", "flush",
                              "\"type\": " + std::to_string(e.a[0]) + ", \"pcid\": " + std::to_string(e.a[1])));
                break;
            case emu::EventKind::Tracepoint:
                if (e.a[0] == asi_abi::kTraceAddressSpaceRegister) {
                    restricted[e.a[1] & ~0xfffull] = e.a[3] == asi_abi::kSpaceRestricted;
                } else if (e.a[0] == asi_abi::kTracePageAlloc || e.a[0] == asi_abi::kTracePageFree) {
                    const int64_t pages = (e.a[2] <= 18 ? 1ll << e.a[2] : 0) * (e.a[0] == asi_abi::kTracePageAlloc ? 1 : -1);
                    (e.a[3] & asi_abi::kGfpSensitive ? sensitive_pages : nonsensitive_pages) += pages;
                    w.add("{\"name\": \"allocated pages\", \"ph\": \"C\", \"pid\": 1, \"ts\": " + std::to_string(ts) +
                          ", \"args\": {\"sensitive\": " + std::to_string(sensitive_pages) +
                          ", \"nonsensitive\": " + std::to_string(nonsensitive_pages) + "}}");
                } else if (e.a[0] == asi_abi::kTraceTlbFlush) {
                    w.add(instant(v, ts, "TLB flush (guest)", "flush", "\"cpus\": \"" + hex(e.a[4]) + "\""));
                }
                break;
            case emu::EventKind::Ipi:
                w.add(instant(v, ts, "IPI to vCPU " + std::to_string(e.a[0]), "smp", "\"vector\": \"" + hex(e.a[1]) + "\""));
                break;
            case emu::EventKind::Interrupt:
                w.add(instant(v, ts, e.a[1] == emu::kInterruptSourceTimer ? "timer interrupt" : "interrupt", "smp",
                              "\"vector\": \"" + hex(e.a[0]) + "\""));
                break;
            case emu::EventKind::Halt: {
                // Parked from the HLT to the wake-up: the clock in a1 covers the idle time.
                Open& p = parked[v];
                if (e.a[0]) {
                    p = {true, e.a[1], "parked (hlt)"};
                } else if (p.open) {
                    w.add("{\"name\": \"parked (hlt)\", \"cat\": \"smp\", \"ph\": \"X\", \"pid\": 1, \"tid\": " +
                          std::to_string(v) + ", \"ts\": " + std::to_string(p.start) + ", \"dur\": " +
                          std::to_string(e.a[1] >= p.start ? e.a[1] - p.start : 0) + "}");
                    p.open = false;
                }
                break;
            }
            default:
                break;
        }
        if (auto it = violation_at.find(this_index); it != violation_at.end()) {
            const cpu_model::Violation& x = verdict.violations[it->second];
            w.add(instant(x.vcpu < slices.size() ? x.vcpu : 0, ts, std::string("violation ") + cpu_model::rule_name(x.rule),
                          "violation",
                          "\"frame\": \"" + hex(x.frame) + "\", \"va\": \"" + hex(x.va) + "\", \"rule\": \"" +
                              cpu_model::rule_title(x.rule) + "\""));
        }
    }
    for (unsigned v = 0; v < slices.size(); ++v) close_slice(v, last_ts);
    return w.finish();
}

}  // namespace tools
