#include "emu/cli/run_command.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "emu/cli/json_writer.h"
#include "emu/elf_loader.h"
#include "emu/fuzz_program_text.h"
#include "emu/cli/verdict_json.h"
#include "emu/exit_codes.h"
#include "emu/machine.h"
#include "emu/size_parse.h"
#include "emu/violation_report.h"

namespace emu::cli {
namespace {

void write_run_json(JsonWriter& j, const RunOutcome& out, const std::string& image, const std::string& error);

void print_json(const RunOutcome& out, const std::string& image, const std::string& error) {
    JsonWriter j;
    j.begin_object();
    write_run_json(j, out, image, error);
    j.end_object();
    std::fputs(j.str().c_str(), stdout);
    std::fflush(stdout);
}

void write_counters(JsonWriter& j, const RunStats& s) {
    j.field("instructions", s.instructions);
    j.field("translated_blocks_run", s.blocks);
    j.field("exceptions_delivered", s.exceptions_delivered);
    j.field("nested_faults", s.nested_faults);
    j.field("cr3_loads", s.cr3_loads);
    j.field("cr3_noflush_loads", s.cr3_noflush_loads);
    j.field("invlpg", s.invlpg);
    j.field("invpcid", s.invpcid);
    j.field("aliases_mapped", s.aliases_mapped);
    j.field("syscalls", s.syscalls);
    j.field("tracepoints", s.tracepoints);
    j.field("interrupts", s.interrupts);
    j.field("timer_interrupts", s.timer_interrupts);
    j.field("ipis_sent", s.ipis_sent);
    j.field("ipis_received", s.ipis_received);
    j.field("halts", s.halts);
    j.field("pause_exits", s.pause_exits);
    j.field("idle_ticks", s.idle);
    j.field("slices", s.slices);
    j.field("code_invalidations", s.code_invalidations);
    j.field("rip_resyncs", s.rip_resyncs);
    j.field("stale_exception_resets", s.stale_exception_resets);
}

void write_run_json(JsonWriter& j, const RunOutcome& out, const std::string& image, const std::string& error) {
    j.field("image", image);
    j.field("outcome", out.outcome);
    j.field("exit_code", static_cast<uint64_t>(out.exit_code));
    if (out.guest_value) j.field("guest_exit_value", static_cast<uint64_t>(*out.guest_value));
    else j.null_field("guest_exit_value");
    j.field("detail", error.empty() ? out.detail : error);
    j.begin_object("counters");
    write_counters(j, out.stats);
    j.field("privileged_sites_hooked", out.privileged_sites);
    j.end_object();
    j.begin_object("smp");
    j.field("vcpus", static_cast<uint64_t>(out.per_vcpu.size()));
    j.field("rounds", out.rounds);
    j.field("time_jumps", out.time_jumps);
    j.field("stopped_vcpu", static_cast<uint64_t>(out.stopped_vcpu));
    j.end_object();
    j.begin_object("per_vcpu");
    for (size_t i = 0; i < out.per_vcpu.size(); ++i) {
        j.begin_object(std::to_string(i).c_str());
        write_counters(j, out.per_vcpu[i]);
        j.end_object();
    }
    j.end_object();
    if (out.oracle_enabled) {
        j.begin_object("oracle");
        write_verdict_json(j, out.violation_count, out.oracle_metrics, out.violations);
        j.end_object();
    } else {
        j.null_field("oracle");
    }
    if (out.trace_events) j.field("trace_events", out.trace_events);
    if (!out.tlb_stats.empty()) {
        j.begin_object("tlb_stats");
        for (const auto& [pcid, st] : out.tlb_stats) {
            j.begin_object(("pcid_" + std::to_string(pcid)).c_str());
            j.field("l1_hits", st.l1_hits);
            j.field("stlb_hits", st.stlb_hits);
            j.field("misses", st.misses);
            j.field("evictions", st.evictions);
            j.end_object();
        }
        j.end_object();
    }
}

}  // namespace

std::string default_guest_image() {
    // Next to the binary first (a build tree or an install), then the path the build baked in.
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        for (const char* rel : {"guest_kernel/asi-guest.elf", "../guest_kernel/asi-guest.elf", "asi-guest.elf"}) {
            const auto p = exe.parent_path() / rel;
            if (std::filesystem::exists(p, ec)) return p.lexically_normal().string();
        }
    }
#ifdef ASI_EMU_DEFAULT_GUEST
    return ASI_EMU_DEFAULT_GUEST;
#else
    return "asi-guest.elf";
#endif
}

// The options `run` and `fuzz-repro` share.
void add_machine_options(CLI::App* run, RunOptions& o) {
    run->add_option("--mem", o.mem, "Guest RAM size, with K/M/G suffix (16M-64G)")->capture_default_str();
    run->add_option("--max-insns", o.max_insns, "Stop after this many guest instructions (0: no limit; exit 4)");
    run->add_option("--smp", o.smp, "Number of vCPUs, 1-64 (asi_emu_abi.h \"SMP\" has the boot protocol)")
        ->capture_default_str();
    run->add_option("--quantum", o.quantum,
                    "Time slice of each vCPU, in guest instructions (deterministic round robin)")
        ->capture_default_str();
    run->add_option("--seed", o.seed, "Seed for RDRAND/RDSEED and the guest's workloads")->capture_default_str();
    run->add_option("--serial", o.serial_file, "Write the guest console (COM1) to this file");
    run->add_flag("--json", o.json, "Print the outcome and counters as JSON on stdout (console goes to stderr)");
    run->add_option("--oracle", o.oracle, "The leak oracle: on (default) or off (to measure its cost)")
        ->check(CLI::IsMember({"on", "off"}));
    run->add_option("--cpu-profile", o.cpu_profile, "CPU profile for the oracle: default, l1tf")
        ->check(CLI::IsMember({"default", "l1tf"}));
    run->add_option("--trace", o.trace, "Record the event stream to this file (for replay/explain/minimize/export)");
    run->add_flag("--stop-on-violation", o.stop_on_violation, "Stop at the first oracle violation");
    run->add_flag("--tlb-stats", o.tlb_stats,
                  "Feed a finite set-associative TLB (Skylake geometry) with every translation used and report "
                  "hits and misses per PCID (slow; never changes a verdict)");
    run->add_flag("--paranoid", o.paranoid,
                  "Cross-check every #PF Unicorn raises with our page walker, and re-validate every CR3 load "
                  "(slower; a disagreement is an internal error)");
}

void add_run_command(CLI::App& app, RunOptions& o, int& result) {
    CLI::App* run = app.add_subcommand("run", "Boot a guest kernel image and report how it ended");
    run->add_option("image", o.image, "ELF64 kernel image (default: the guest this build produced)");
    run->add_option("--append", o.append, "Kernel command line, e.g. \"test=all\"");
    add_machine_options(run, o);
    run->callback([&o, &result] { result = run_command(o); });
}

void add_fuzz_repro_command(CLI::App& app, RunOptions& o, int& result) {
    CLI::App* repro = app.add_subcommand(
        "fuzz-repro", "Run one input of the in-emulator fuzzer (a fuzz program) with full logging and a trace");
    repro->add_option("input", o.fuzz_input, "The input file (e.g. a crash file the fuzzer saved)")
        ->required()
        ->check(CLI::ExistingFile);
    repro->add_option("--image", o.image, "ELF64 kernel image (default: the guest this build produced)");
    repro->add_option("--append", o.append,
                      "More kernel command line after `fuzz` (the fuzzer's ASI_FUZZ_APPEND, e.g. asi.policy=rfc)");
    add_machine_options(repro, o);
    repro->callback([&o, &result] {
        RunOptions r = o;
        r.append = "fuzz" + (o.append.empty() ? std::string() : " " + o.append);
        if (r.trace.empty()) r.trace = o.fuzz_input + ".trace";
        result = run_command(r);
    });
}

int run_command(const RunOptions& o) {
    MachineConfig config;
    config.image_path = o.image.empty() ? default_guest_image() : o.image;
    config.cmdline = o.append;
    config.max_insns = o.max_insns;
    config.seed = o.seed;
    config.oracle = o.oracle == "on";
    config.cpu_profile = o.cpu_profile;
    config.trace_path = o.trace;
    config.stop_on_violation = o.stop_on_violation;
    config.paranoid = o.paranoid;
    config.tlb_stats = o.tlb_stats;
    config.smp = o.smp;
    config.quantum = o.quantum;
    RunOutcome failed;
    failed.outcome = "bad-input";
    failed.exit_code = kExitBadInput;
    if (!o.fuzz_input.empty()) {
        try {
            config.fuzz_program = read_file_bytes(o.fuzz_input);
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            if (o.json) print_json(failed, config.image_path, e.what());
            return kExitBadInput;
        }
        spdlog::info("fuzz program {} ({} bytes):\n{}", o.fuzz_input, config.fuzz_program->size(),
                     describe_fuzz_program(*config.fuzz_program));
        if (!o.trace.empty()) spdlog::info("trace: {}", o.trace);
    }
    auto ram = parse_size(o.mem);
    if (!ram) {
        spdlog::error("bad --mem '{}': expected a size such as 256M or 1G", o.mem);
        if (o.json) print_json(failed, config.image_path, "bad --mem " + o.mem);
        return kExitBadInput;
    }
    config.ram_size = *ram;
    std::FILE* serial_file = nullptr;
    if (!o.serial_file.empty()) {
        serial_file = std::fopen(o.serial_file.c_str(), "w");
        if (!serial_file) {
            spdlog::error("cannot open --serial file {}", o.serial_file);
            if (o.json) print_json(failed, config.image_path, "cannot open " + o.serial_file);
            return kExitBadInput;
        }
        config.serial = serial_file;
    } else {
        config.serial = o.json ? stderr : stdout;
    }

    int code;
    try {
        const auto t0 = std::chrono::steady_clock::now();
        Machine machine(config);
        RunOutcome out = machine.run();
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        code = out.exit_code;
        if (out.exit_code == kExitOk || out.exit_code == kExitGuestFailure)
            spdlog::info("guest exited with value {} after {} instructions in {:.3f} s", out.guest_value.value_or(0),
                         out.stats.instructions, secs);
        else if (out.exit_code != kExitOracleViolation)
            spdlog::error("{}: {}\n{}", out.outcome, out.detail, out.register_dump);
        if (out.oracle_enabled) {
            const CodeView code(&machine.image(), machine.image_file());
            for (size_t i = 0; i < out.violations.size() && i < 3; ++i)
                spdlog::error("violation {} of {}:\n{}", i + 1, out.violation_count, format_violation(out.violations[i], code));
            spdlog::info("{}", oracle_metrics_text(out.oracle_metrics));
            if (out.violation_count) spdlog::error("{}", verdict_line(out.violation_count, out.violations));
            else spdlog::info("{}", verdict_line(0, out.violations));
        }
        if (o.json) print_json(out, config.image_path, "");
    } catch (const MachineError& e) {
        spdlog::error("{}", e.what());
        failed.exit_code = e.code();
        failed.outcome = e.code() == kExitBadInput ? "bad-input" : "internal-error";
        if (o.json) print_json(failed, config.image_path, e.what());
        code = e.code();
    }
    if (serial_file) std::fclose(serial_file);
    return code;
}

}  // namespace emu::cli
