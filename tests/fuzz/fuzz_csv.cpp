// SPDX-License-Identifier: Apache-2.0
// What lives here: the libFuzzer target for the CSV reader (io/csv.h). Any input must either parse into a
// consistent table of finite numbers or throw an unroll::Error subclass (DataError, UsageError, IoError);
// anything else — another exception, a crash, a sanitizer report, a broken invariant — is a finding.
// The first byte picks the delimiter and whether a column is selected by name, so one corpus covers them.
// Build (the fuzz runner does this): clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined
//   -I<src> tests/fuzz/fuzz_csv.cpp io/csv.cpp -lfmt
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "graph/check.h"
#include "io/csv.h"

namespace {

void check_table(const unroll::CsvTable& t) {
  if (t.rows() <= 0 || t.columns.size() != t.names.size()) std::abort();
  int64_t previous_line = 1;
  for (int64_t line : t.lines) {
    if (line <= previous_line) std::abort();  // data rows start after the header, strictly increasing
    previous_line = line;
  }
  for (const auto& column : t.columns) {
    if (static_cast<int64_t>(column.size()) != t.rows()) std::abort();
    for (double v : column) {
      if (!(v - v == 0)) std::abort();  // finite
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  unroll::CsvOptions options;
  const char delimiters[4] = {',', ';', '\t', '|'};
  options.delimiter = delimiters[mode & 3];
  std::vector<std::string> columns;
  if (mode & 4) columns = {"value"};
  if (mode & 8) columns.push_back("time");

  // The stream path must agree with the in-memory path: a table, or the same message.
  std::string memory_result, stream_result;
  try {
    const unroll::CsvTable table = unroll::parse_csv(text, "fuzz.csv", columns, options);
    check_table(table);
    memory_result = "ok";
  } catch (const unroll::Error& e) {
    memory_result = e.what();
  }
  try {
    std::istringstream in{std::string(text)};
    check_table(unroll::read_csv(in, "fuzz.csv", columns, options));
    stream_result = "ok";
  } catch (const unroll::Error& e) {
    stream_result = e.what();
  }
  if (memory_result != stream_result) std::abort();
  return 0;
}
