// SPDX-License-Identifier: Apache-2.0
// What lives here: apps/run_folder.h.
#include "apps/run_folder.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

#include "graph/check.h"
#include "graph/json_bounds.h"
#include "io/output_files.h"

namespace unroll::cli {

const std::vector<std::string> kRunFiles = {"checkpoint.h5", "best.h5",  "report.json",  "forecast.csv", "loss.png",
                                            "forecast.png",  "loss.dat", "plots.gp",     "eval.json"};
const std::vector<std::string> kDerivedRunFiles = {"report.json", "forecast.csv", "loss.png", "forecast.png",
                                                   "loss.dat",    "plots.gp",     "eval.json"};

std::vector<std::string> existing_run_files(const std::string& dir) {
  std::vector<std::string> found = existing_entries(dir, kRunFiles);
  std::error_code ec;
  std::vector<std::string> rotated;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string(), prefix = "checkpoint.h5.";
    if (name.size() > prefix.size() && name.rfind(prefix, 0) == 0 &&
        std::all_of(name.begin() + static_cast<std::ptrdiff_t>(prefix.size()), name.end(), ::isdigit))
      rotated.push_back(name);
  }
  std::sort(rotated.begin(), rotated.end());
  found.insert(found.end(), rotated.begin(), rotated.end());
  return found;
}

void remove_files(const std::string& dir, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    const std::filesystem::path p = std::filesystem::path(dir) / n;
    std::error_code ec;
    if (!std::filesystem::is_directory(std::filesystem::symlink_status(p, ec))) std::filesystem::remove(p, ec);
    UNROLL_CHECK(!ec, IoError, "{}: cannot remove it: {}", p.string(), ec.message());
  }
}

void clear_earlier_outputs(const std::string& dir, const std::vector<std::string>& found, bool overwrite,
                           const std::string& command, const std::string& option, const std::string& hint) {
  if (found.empty()) return;
  if (!overwrite) {
    std::string list;
    for (size_t i = 0; i < found.size() && i < 4; ++i) list += (i ? ", " : "") + found[i];
    if (found.size() > 4) list += fmt::format(" and {} more", found.size() - 4);
    throw UsageError(fmt::format("{}: {} {} already holds the outputs of an earlier run ({}) (hint: {}--overwrite "
                                 "replaces them, or choose another {})",
                                 command, option, dir, list, hint, option));
  }
  for (const auto& n : found) {
    const std::filesystem::path p = std::filesystem::path(dir) / n;
    std::error_code ec;
    std::filesystem::remove_all(p, ec);
    UNROLL_CHECK(!ec, IoError, "{}: --overwrite cannot remove {}: {}", command, p.string(), ec.message());
  }
}

nlohmann::json read_run_json(const std::string& path, const std::string& command) {
  std::error_code ec;
  // A FIFO or device would block the read or never end: only a regular file is read.
  UNROLL_CHECK(std::filesystem::is_regular_file(path, ec), IoError, "{}: cannot read {} (not a regular file)", command,
               path);
  const JsonBounds bounds;
  const auto size = std::filesystem::file_size(path, ec);
  UNROLL_CHECK(!ec && size <= bounds.max_bytes, DataError, "{}: {} is larger than the {} bytes a run's JSON may have",
               command, path, bounds.max_bytes);
  std::ifstream in(path, std::ios::binary);
  UNROLL_CHECK(in.good(), IoError, "{}: cannot read {}", command, path);
  std::ostringstream text;
  text << in.rdbuf();
  return parse_bounded_json(text.str(), fmt::format("{}: {}", command, path), bounds);
}

}  // namespace unroll::cli
