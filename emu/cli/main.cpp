// asi-emu: a full-system x86-64 emulator for studying Address Space Isolation.
#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "emu/cli/run_command.h"
#include "emu/cli/trace_commands.h"
#include "emu/exit_codes.h"

#ifndef ASI_EMU_VERSION
#define ASI_EMU_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
    auto logger = spdlog::stderr_color_mt("asi-emu");
    logger->set_pattern("asi-emu: %^%l%$: %v");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::info);
    spdlog::cfg::load_env_levels();  // SPDLOG_LEVEL

    CLI::App app{"asi-emu: an x86-64 full-system emulator with a leak oracle for Address Space Isolation"};
    app.footer(emu::kExitCodeHelp);
    app.set_version_flag("--version", std::string("asi-emu ") + ASI_EMU_VERSION);
    app.require_subcommand(1);
    std::string log_level;
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off (or SPDLOG_LEVEL)")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
    app.parse_complete_callback([&] {
        if (!log_level.empty()) spdlog::set_level(spdlog::level::from_str(log_level));
    });

    int result = emu::kExitOk;
    emu::cli::RunOptions run_options;
    emu::cli::add_run_command(app, run_options, result);
    emu::cli::RunOptions repro_options;
    emu::cli::add_fuzz_repro_command(app, repro_options, result);
    emu::cli::add_trace_commands(app, result);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return emu::kExitBadInput;
    }
    return result;
}
