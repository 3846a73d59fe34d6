// SPDX-License-Identifier: Apache-2.0
// What lives here: how the `unroll` command is put together. Each subcommand lives in its own
// apps/cmd_*.cpp and is added by one register_* function listed in kCommandRegistrations
// (apps/commands.cpp): to add a subcommand (e.g. `unroll bench`), write apps/cmd_bench.cpp with
// `void register_bench_command(CLI::App&, CommandTable&)` and add it to that list. Registration only
// declares options; parsing and running are separate, so tests/fuzz/fuzz_cli.cpp can parse and validate
// any command line without training anything.
//
// Exit codes (Note [Exit codes]): 0 success; 1 a failed check (gradcheck failure, a diverged training
// run, a numeric fault); 2 bad usage or bad input (unknown flag, bad value, unreadable or malformed
// CSV/checkpoint, an output path or folder that cannot be written, sizes beyond the machine's memory, out
// of memory), always with one line "unroll: <reason>" on stderr; 128+signal after SIGINT/SIGTERM stopped
// `unroll train` (a checkpoint was saved; the message says how to resume), and 141 (128+SIGPIPE) when
// standard output was closed by its reader (`unroll train | head -1`: train stops like on a signal).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace unroll::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailedCheck = 1;
inline constexpr int kExitBadInput = 2;

struct CommandEntry {
  CLI::App* sub = nullptr;
  std::function<void()> validate;  // checks the parsed options (throws unroll::Error); no side effects
  std::function<int()> run;        // does the work; returns the exit code
};
using CommandTable = std::vector<CommandEntry>;

using CommandRegistration = void (*)(CLI::App& app, CommandTable& table);
extern const std::vector<CommandRegistration> kCommandRegistrations;

void register_train_command(CLI::App& app, CommandTable& table);
void register_eval_command(CLI::App& app, CommandTable& table);
void register_predict_command(CLI::App& app, CommandTable& table);
void register_inspect_command(CLI::App& app, CommandTable& table);
void register_gradcheck_command(CLI::App& app, CommandTable& table);
void register_plot_command(CLI::App& app, CommandTable& table);
void register_sweep_command(CLI::App& app, CommandTable& table);
void register_bench_command(CLI::App& app, CommandTable& table);
void register_graph_command(CLI::App& app, CommandTable& table);
void register_suite_command(CLI::App& app, CommandTable& table);
void register_experiment_command(CLI::App& app, CommandTable& table);
void register_gradflow_command(CLI::App& app, CommandTable& table);
void register_probe_command(CLI::App& app, CommandTable& table);

// The whole front end: builds the app with every registered command.
struct Cli {
  CLI::App app{"unroll: recurrent neural networks on a tape-based autodiff engine", "unroll"};
  CommandTable table;
  Cli();
  // The entry chosen by the last parse (nullptr when none).
  CommandEntry* chosen();
};

// Parses and runs; maps exceptions to exit codes with one line on stderr. argv[0] is the program name.
int run_main(int argc, const char* const* argv);

// Parses args (without the program name) and runs only `validate` of the chosen command. Throws
// CLI::ParseError or unroll::Error; used by the fuzz target and tests.
void parse_and_validate(const std::vector<std::string>& args);

}  // namespace unroll::cli
