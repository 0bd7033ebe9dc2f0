#include "emu/cli/trace_commands.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "emu/cli/json_writer.h"
#include "emu/cli/verdict_json.h"
#include "emu/elf_loader.h"
#include "emu/exit_codes.h"
#include "emu/trace/trace_error.h"
#include "emu/violation_report.h"
#include "tools/trace/chrome_export.h"
#include "tools/trace/minimize.h"
#include "tools/trace/replay.h"

namespace emu::cli {
namespace {

struct TraceOptions {
    std::string file;
    std::string cpu_profile;
    std::string image;
    std::string output;
    std::string format = "chrome";
    uint64_t violation = 1;
    std::vector<uint64_t> drop;
    bool json = false;
};

// The guest's code for symbols and disassembly: --image, else the image the trace names,
// used only when its hash matches the one recorded.
struct CodeSource {
    std::optional<ElfImage> image;
    std::vector<uint8_t> file;
    CodeView view() const { return image ? CodeView(&*image, file) : CodeView(); }
};

CodeSource load_code(const tools::LoadedTrace& trace, const std::string& explicit_image) {
    CodeSource c;
    const std::string path = explicit_image.empty() ? tools::recorded_image_path(trace.header).value_or("") : explicit_image;
    if (path.empty()) return c;
    try {
        c.file = read_file_bytes(path);
        ElfImage img = parse_elf(c.file, 1ull << 40);
        if (img.content_hash != trace.header.image_hash) {
            spdlog::warn("{} is not the image this trace was recorded with (hash differs): no symbols", path);
            return CodeSource{};
        }
        c.image = std::move(img);
    } catch (const std::exception& e) {
        spdlog::warn("cannot read the image for symbols: {}", e.what());
    }
    return c;
}

int with_trace(const TraceOptions& o, const std::function<int(const tools::LoadedTrace&)>& body) {
    try {
        tools::LoadedTrace t = tools::load_trace(o.file);
        if (t.truncated_tail) spdlog::warn("trace {} ends in a truncated chunk ({}); using what precedes it", o.file, t.tail_note);
        return body(t);
    } catch (const trace::TraceError& e) {
        spdlog::error("bad trace {}: {}", o.file, e.what());
        return kExitBadInput;
    } catch (const std::invalid_argument& e) {
        spdlog::error("{}", e.what());
        return kExitBadInput;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return kExitInternalError;
    }
}

std::optional<std::string> profile_override(const TraceOptions& o) {
    return o.cpu_profile.empty() ? std::nullopt : std::optional<std::string>(o.cpu_profile);
}

int replay_command(const TraceOptions& o) {
    return with_trace(o, [&](const tools::LoadedTrace& t) {
        const tools::ReplayResult r = tools::replay(t, profile_override(o));
        const CodeSource code = load_code(t, o.image);
        for (size_t i = 0; i < r.violations.size() && i < 3; ++i)
            spdlog::error("violation {} of {}:\n{}", i + 1, r.violation_count, format_violation(r.violations[i], code.view()));
        spdlog::info("replayed {} events with CPU profile {}", r.events, r.profile);
        spdlog::info("{}", oracle_metrics_text(r.metrics));
        if (r.violation_count) spdlog::error("{}", verdict_line(r.violation_count, r.violations));
        else spdlog::info("{}", verdict_line(0, r.violations));
        if (o.json) {
            JsonWriter j;
            j.begin_object();
            j.field("trace", o.file);
            j.field("cpu_profile", r.profile);
            j.field("events", r.events);
            write_verdict_json(j, r.violation_count, r.metrics, r.violations);
            j.end_object();
            std::fputs(j.str().c_str(), stdout);
        }
        return r.violation_count ? kExitOracleViolation : kExitOk;
    });
}

int explain_command(const TraceOptions& o) {
    return with_trace(o, [&](const tools::LoadedTrace& t) {
        const tools::ReplayResult r = tools::replay(t, profile_override(o));
        if (r.violations.empty()) {
            std::printf("no violation in %s: %s\n", o.file.c_str(), verdict_line(0, r.violations).c_str());
            return kExitOk;
        }
        if (o.violation == 0 || o.violation > r.violations.size()) {
            spdlog::error("--violation {}: the trace has {} stored violation(s)", o.violation, r.violations.size());
            return kExitBadInput;
        }
        const CodeSource code = load_code(t, o.image);
        std::printf("violation %llu of %llu\n%s", static_cast<unsigned long long>(o.violation),
                    static_cast<unsigned long long>(r.violation_count),
                    format_violation(r.violations[o.violation - 1], code.view()).c_str());
        return kExitOracleViolation;
    });
}

int minimize_command(const TraceOptions& o) {
    return with_trace(o, [&](const tools::LoadedTrace& t) {
        const tools::MinimizeResult m = tools::minimize(t);
        tools::save_trace(o.output, m.trace.header, m.trace.events);
        const tools::ReplayResult check = tools::replay(m.trace);
        const bool same = !check.violations.empty() && check.violations.front().rule == m.rule;
        std::printf("minimized %s: %llu -> %llu events (%u replays); first violation still %s: %s\n", o.file.c_str(),
                    static_cast<unsigned long long>(m.events_before), static_cast<unsigned long long>(m.events_after),
                    m.replays, cpu_model::rule_name(m.rule), same ? "yes" : "NO");
        return same ? kExitOracleViolation : kExitInternalError;
    });
}

int export_command(const TraceOptions& o) {
    return with_trace(o, [&](const tools::LoadedTrace& t) {
        const tools::ReplayResult r = tools::replay(t, profile_override(o));
        std::ofstream out(o.output);
        out << tools::export_chrome_json(t, r);
        if (!out) {
            spdlog::error("cannot write {}", o.output);
            return kExitBadInput;
        }
        spdlog::info("wrote {} (open it in Perfetto or chrome://tracing)", o.output);
        return kExitOk;
    });
}

int dump_command(const TraceOptions& o) {
    return with_trace(o, [&](const tools::LoadedTrace& t) {
        std::printf("# trace %s: image hash %016llx, %u vCPU(s), profile %s\n# config: %s\n", o.file.c_str(),
                    static_cast<unsigned long long>(t.header.image_hash), t.header.vcpu_count, t.header.cpu_profile.c_str(),
                    t.header.config.c_str());
        uint64_t index = 0;
        for (const Event& e : t.events) {
            if (tools::is_auxiliary(e)) {
                std::printf("      vCPU %u @%llu   %s\n", e.vcpu, static_cast<unsigned long long>(e.icount), describe_event(e).c_str());
                continue;
            }
            std::printf("#%-6llu vCPU %u @%llu %s: %s\n", static_cast<unsigned long long>(index++), e.vcpu,
                        static_cast<unsigned long long>(e.icount), event_kind_name(e.kind), describe_event(e).c_str());
        }
        return kExitOk;
    });
}

int edit_command(const TraceOptions& o) {
    return with_trace(o, [&](const tools::LoadedTrace& t) {
        const std::set<uint64_t> drop(o.drop.begin(), o.drop.end());
        std::vector<Event> kept;
        uint64_t index = 0, dropped = 0;
        for (const Event& e : t.events) {
            if (!tools::is_auxiliary(e) && drop.count(index++)) {
                ++dropped;
                continue;
            }
            kept.push_back(e);
        }
        tools::save_trace(o.output, t.header, kept);
        std::printf("wrote %s: dropped %llu event(s)\n", o.output.c_str(), static_cast<unsigned long long>(dropped));
        return kExitOk;
    });
}

}  // namespace

void add_trace_commands(CLI::App& app, int& result) {
    auto opts = std::make_shared<TraceOptions>();
    auto common = [&](CLI::App* c) {
        c->add_option("trace", opts->file, "Trace file written by `run --trace`")->required()->check(CLI::ExistingFile);
    };
    CLI::App* replay = app.add_subcommand("replay", "Re-run the leak oracle on a trace, without emulating");
    common(replay);
    replay->add_option("--cpu-profile", opts->cpu_profile, "Judge with another CPU profile (default: the recorded one)")
        ->check(CLI::IsMember({"default", "l1tf"}));
    replay->add_option("--image", opts->image, "The guest image, for symbols (default: the recorded one)");
    replay->add_flag("--json", opts->json, "Print the verdict as JSON on stdout");
    replay->callback([opts, &result] { result = replay_command(*opts); });

    CLI::App* explain = app.add_subcommand("explain", "Print the causal chain of a violation in a trace");
    common(explain);
    explain->add_option("--violation", opts->violation, "Which violation (1 = the first)");
    explain->add_option("--cpu-profile", opts->cpu_profile, "CPU profile")->check(CLI::IsMember({"default", "l1tf"}));
    explain->add_option("--image", opts->image, "The guest image, for symbols (default: the recorded one)");
    explain->callback([opts, &result] { result = explain_command(*opts); });

    CLI::App* minimize = app.add_subcommand("minimize", "Cut a trace to what its first violation needs");
    common(minimize);
    minimize->add_option("-o,--output", opts->output, "Output trace")->required();
    minimize->callback([opts, &result] { result = minimize_command(*opts); });

    CLI::App* exporter = app.add_subcommand("export", "Write a trace as Chrome trace-event JSON (Perfetto)");
    common(exporter);
    exporter->add_option("--format", opts->format, "Output format")->check(CLI::IsMember({"chrome"}));
    exporter->add_option("-o,--output", opts->output, "Output JSON file")->required();
    exporter->add_option("--cpu-profile", opts->cpu_profile, "CPU profile")->check(CLI::IsMember({"default", "l1tf"}));
    exporter->callback([opts, &result] { result = export_command(*opts); });

    CLI::App* dump = app.add_subcommand("dump", "Print every event of a trace with its index");
    common(dump);
    dump->callback([opts, &result] { result = dump_command(*opts); });

    CLI::App* edit = app.add_subcommand("edit", "Write a copy of a trace without some events (by index, as `dump` shows)");
    common(edit);
    edit->add_option("--drop", opts->drop, "Event indices to drop")->required();
    edit->add_option("-o,--output", opts->output, "Output trace")->required();
    edit->callback([opts, &result] { result = edit_command(*opts); });
}

}  // namespace emu::cli
