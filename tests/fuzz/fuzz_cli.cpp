// SPDX-License-Identifier: Apache-2.0
// What lives here: the libFuzzer target for the `unroll` command line's config parsing (apps/). The
// input is either a command line (arguments separated by NUL or newline bytes) parsed by the real CLI11
// front end with every subcommand registered, followed by that subcommand's validation (no training, no
// files); or, when it starts with '{', a JSON run configuration as stored in checkpoints (extra/run).
// Each must succeed or throw CLI::ParseError / unroll::Error; any other exception, a crash, a hang or a
// sanitizer report is a finding.
//
// The fuzz build (tests/fuzz/CMakeLists.txt) links it with the command's sources (apps/, instrumented).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/run_config.h"
#include "graph/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    if (!text.empty() && text[0] == '{') {
      const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) return 0;
      unroll::cli::RunConfig::from_json(j).to_json().dump();
      return 0;
    }
    std::vector<std::string> args;
    std::string current;
    for (char c : text) {
      if (c == '\0' || c == '\n') {
        args.push_back(current);
        current.clear();
      } else {
        current += c;
      }
    }
    if (!current.empty()) args.push_back(current);
    if (args.size() > 64) return 0;
    unroll::cli::parse_and_validate(args);
  } catch (const CLI::Error&) {
  } catch (const unroll::Error&) {
  } catch (const nlohmann::json::exception&) {
    std::abort();  // the run config must turn JSON type errors into unroll::DataError
  } catch (...) {
    std::abort();
  }
  return 0;
}
