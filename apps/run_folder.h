// SPDX-License-Identifier: Apache-2.0
// What lives here: what a command that writes a run folder needs to know about the files already there
// (Note [Output files] in io/output_files.h for how each file is written and how the folder is locked):
// which files belong to a training run, refusing to mix a new run with an old one's outputs unless
// --overwrite, and which outputs go stale when a run continues.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace unroll::cli {

// The files `unroll train` writes into its folder (checkpoints first). Rotated checkpoint.h5.N files of
// --keep-last are found by existing_run_files as well.
extern const std::vector<std::string> kRunFiles;
// The outputs computed from a checkpoint (report, forecast, plots, eval.json): stale once training goes on.
extern const std::vector<std::string> kDerivedRunFiles;

// The run files in dir (kRunFiles and checkpoint.h5.N), in that order.
std::vector<std::string> existing_run_files(const std::string& dir);

// A new (not resumed) output into dir that holds `found` (files of an earlier one): without overwrite a
// UsageError "<command>: <option> DIR already holds ... (hint: <hint>--overwrite replaces them, or choose
// another <option>)"; with overwrite the files (and folders) named in found are removed first.
void clear_earlier_outputs(const std::string& dir, const std::vector<std::string>& found, bool overwrite,
                           const std::string& command, const std::string& option, const std::string& hint);

// A JSON file of a run folder (report.json, result.json, ensemble.json): IoError "<command>: cannot read
// PATH" when it is not a readable regular file; DataError when it is not valid JSON, longer or nested
// deeper than JsonBounds allows (graph/json_bounds.h: a planted file cannot overflow the stack).
nlohmann::json read_run_json(const std::string& path, const std::string& command);

// Removes the names of `names` that exist in dir (files only).
void remove_files(const std::string& dir, const std::vector<std::string>& names);

}  // namespace unroll::cli
