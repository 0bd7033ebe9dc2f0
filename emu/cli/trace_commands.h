// The trace subcommands: replay, explain, minimize, export, dump, edit (DESIGN 6).
#pragma once
#include <CLI/CLI.hpp>

namespace emu::cli {

void add_trace_commands(CLI::App& app, int& result);

}  // namespace emu::cli
