// SPDX-License-Identifier: Apache-2.0
// What lives here: the list of subcommands, the Cli assembly and the top-level error handling.
#include "apps/commands.h"

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <new>

#include "apps/cli_docs.h"
#include "apps/option_checks.h"
#include "apps/signals.h"
#include "graph/check.h"
#include "graph/version.h"
#include "models/cell_equations.h"

namespace unroll::cli {

const std::vector<CommandRegistration> kCommandRegistrations = {
    register_train_command,     register_eval_command, register_predict_command, register_inspect_command,
    register_gradcheck_command, register_plot_command, register_sweep_command,
    register_bench_command,     register_graph_command, register_suite_command,  register_experiment_command,
    register_gradflow_command,  register_probe_command,
};

Cli::Cli() {
  app.require_subcommand(1);
  app.set_version_flag("--version", "unroll " UNROLL_VERSION);
  for (auto reg : kCommandRegistrations) reg(app, table);
  // apps/cli_docs.h, from the options registered above; --bash-completion is hidden (no group).
  app.add_flag_callback("--help-all", [this] {
       std::cout << help_all(app);
       throw CLI::Success();
     }, "Print this help and every subcommand's, then exit");
  app.add_flag_callback("--bash-completion", [this] {
       std::cout << bash_completion(app);
       throw CLI::Success();
     })->group("");
}

CommandEntry* Cli::chosen() {
  for (auto& e : table)
    if (e.sub->parsed()) return &e;
  return nullptr;
}

namespace {
std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}
}  // namespace

void parse_and_validate(const std::vector<std::string>& args) {
  Cli cli;
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them in reverse order
  cli.app.parse(reversed);
  if (CommandEntry* e = cli.chosen(); e && e->validate) e->validate();
}

namespace {
// A command that finished (code 0) but whose standard output failed: one line and 128 + SIGPIPE when the
// reader went away (`unroll eval --json | head -1`), else exit 2 (e.g. stdout is /dev/full).
int check_stdout(int code) {
  std::cout.flush();
  if (code != kExitOk || !stdout_failed()) return code;
  if (stdout_reader_gone()) {
    std::cerr << "unroll: standard output was closed before all output was written (broken pipe); the command "
                 "itself finished\n";
    return 128 + SIGPIPE;
  }
  std::cerr << "unroll: writing to standard output failed (is it a full disk?); the command itself finished\n";
  return kExitBadInput;
}
}  // namespace

int run_main(int argc, const char* const* argv) {
  ignore_pipe_and_file_size_signals();
  Cli cli;
  try {
    cli.app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return cli.app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return cli.app.exit(e);
  } catch (const CLI::Success&) {  // --help-all, --bash-completion: printed; did it reach the output?
    if (!std::cout.flush()) {
      std::cerr << "unroll: cannot write to standard output\n";
      return kExitBadInput;
    }
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    const CommandEntry* being_parsed = cli.chosen();
    std::cerr << "unroll: " << one_line(describe_parse_error(e, being_parsed ? being_parsed->sub->get_name() : ""))
              << " (see unroll " << (being_parsed ? being_parsed->sub->get_name() + " " : "") << "--help)\n";
    return kExitBadInput;
  }
  CommandEntry* e = cli.chosen();
  if (e == nullptr) {
    std::cerr << "unroll: no command given (see unroll --help)\n";
    return kExitBadInput;
  }
  try {
    if (e->validate) e->validate();
    return check_stdout(e->run());
  } catch (const CellEquationError& err) {  // a cell file: file:line:column, then its line with a caret inserted
    std::cerr << "unroll: " << err.one_line() << "\n";
    return kExitBadInput;
  } catch (const NumericError& err) {
    std::cerr << "unroll: " << one_line(err.what()) << "\n";
    return kExitFailedCheck;
  } catch (const Error& err) {
    std::cerr << "unroll: " << one_line(err.what()) << "\n";
    return kExitBadInput;
  } catch (const CLI::ParseError& err) {
    std::cerr << "unroll: " << one_line(err.what()) << "\n";
    return kExitBadInput;
  } catch (const std::bad_alloc&) {
    std::cerr << "unroll: out of memory (hint: use a smaller --hidden, --batch or --history, or a shorter series)\n";
    return kExitBadInput;
  } catch (const std::filesystem::filesystem_error& err) {  // a path the user gave: not a bug
    std::cerr << "unroll: " << err.path1().string() << ": " << one_line(err.code().message()) << "\n";
    return kExitBadInput;
  } catch (const std::exception& err) {
    std::cerr << "unroll: internal error: " << one_line(err.what()) << "\n";
    return kExitFailedCheck;
  }
}

}  // namespace unroll::cli
