// SPDX-License-Identifier: Apache-2.0
// What lives here: what the `unroll` command says about itself, generated from its own subcommand and
// option tables so neither can miss one: the help of every subcommand on one page (`unroll --help-all`,
// which help2man turns into the man page, cmake/cli_docs.cmake) and the bash completion script (printed
// by the hidden `unroll --bash-completion`, installed as share/bash-completion/completions/unroll).
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace unroll::cli {

// The app's help, then each visible subcommand's in a section of its own: a "*unroll <name>*" line (a
// help2man section heading) and the subcommand's help with its "Options:" heading as "Options of unroll
// <name>:" (help2man would otherwise file them under the top-level OPTIONS).
std::string help_all(const CLI::App& app);

// A bash script defining the completion function _unroll for `unroll`: subcommands and top-level options
// first, then the chosen subcommand's options; after an option that takes a value, file names.
std::string bash_completion(const CLI::App& app);

}  // namespace unroll::cli
