// What lives here: the list of subcommands, the Cli assembly and the top-level error handling.
#include "apps/commands.h"

#include <algorithm>
#include <iostream>

#include "apps/option_checks.h"
#include "graph/check.h"

namespace unroll::cli {

const std::vector<CommandRegistration> kCommandRegistrations = {
    register_train_command,     register_eval_command, register_predict_command, register_inspect_command,
    register_gradcheck_command, register_plot_command, register_sweep_command,
    register_bench_command,
};

Cli::Cli() {
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(UNROLL_VERSION));
  for (auto reg : kCommandRegistrations) reg(app, table);
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

int run_main(int argc, const char* const* argv) {
  Cli cli;
  try {
    cli.app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return cli.app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return cli.app.exit(e);
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
    return e->run();
  } catch (const NumericError& err) {
    std::cerr << "unroll: " << one_line(err.what()) << "\n";
    return kExitFailedCheck;
  } catch (const Error& err) {
    std::cerr << "unroll: " << one_line(err.what()) << "\n";
    return kExitBadInput;
  } catch (const CLI::ParseError& err) {
    std::cerr << "unroll: " << one_line(err.what()) << "\n";
    return kExitBadInput;
  } catch (const std::exception& err) {
    std::cerr << "unroll: internal error: " << one_line(err.what()) << "\n";
    return kExitFailedCheck;
  }
}

}  // namespace unroll::cli
