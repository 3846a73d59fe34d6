// SPDX-License-Identifier: Apache-2.0
// What lives here: what the commands print and write about a model's quality: the metrics JSON
// (report.json / eval.json), the model-vs-baselines table, forecast CSV files, and the gnuplot plots.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/run_config.h"
#include "io/output_files.h"

namespace unroll::cli {

// {"test_rmse", "test_mae", "windows", "baselines": {...}} (scaled units, as in the paper).
nlohmann::json metrics_json(const Evaluation& e);
// The small table: model, persistence, AR(history), AR(p) chosen on validation, seasonal-naive (given or
// detected period) with RMSE and MAE, each fit's note, and the verdict against the best baseline.
std::string comparison_table(const Evaluation& e, const std::string& model_label, int64_t history);
// index (series position of the target), prediction, target: original units.
std::string forecast_csv(const Evaluation& e, const Scaler& scaler);
// forecast_csv written atomically to path.
void write_forecast_csv(const std::string& path, const Evaluation& e, const Scaler& scaler);

// Runs `gnuplot SCRIPT` inside folder dir (no shell; scripts name their files relative to dir), with
// stdin from /dev/null and its output captured. The script writes each PNG of `outputs` (names in dir) to
// temporary_name(png); on success those are renamed over the PNGs, on failure removed. Returns "" on
// success, otherwise one line saying why (gnuplot not installed, its exit code and first output).
std::string run_gnuplot(const std::string& dir, const std::string& script, const std::vector<std::string>& outputs);
// The same for any tool: `tool args...` (found on PATH, no shell) inside dir, writing each of `outputs` to
// its temporary_name; `missing` is the line returned when the tool is not installed (`unroll graph` runs
// Graphviz's dot this way).
std::string run_tool(const std::string& tool, const std::vector<std::string>& args, const std::string& dir,
                     const std::vector<std::string>& outputs, const std::string& missing);

// Writes DIR/loss.png (train and validation loss per epoch) from history and DIR/forecast.png from
// DIR/forecast.csv. Returns "" on success, otherwise why not (gnuplot missing or failing).
std::string make_plots(const std::string& dir, const nlohmann::json& history);

}  // namespace unroll::cli
