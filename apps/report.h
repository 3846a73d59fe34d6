// What lives here: what the commands print and write about a model's quality: the metrics JSON
// (report.json / eval.json), the model-vs-baselines table, forecast CSV files, and the gnuplot plots.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "apps/run_config.h"

namespace unroll::cli {

// {"test_rmse", "test_mae", "windows", "baselines": {...}} (scaled units, as in the paper).
nlohmann::json metrics_json(const Evaluation& e);
// The small table: model, persistence, AR(history) [, seasonal-naive] with RMSE and MAE.
std::string comparison_table(const Evaluation& e, const std::string& model_label, int64_t history);
// index (series position of the target), prediction, target: original units.
void write_forecast_csv(const std::string& path, const Evaluation& e, const Scaler& scaler);
// Atomically (temp + rename) writes text to path; IoError naming the file on failure.
void write_text_file(const std::string& path, const std::string& text);

// Writes DIR/loss.png (train and validation loss per epoch) from history and DIR/forecast.png from
// DIR/forecast.csv. Returns "" on success, otherwise why not (gnuplot missing or failing).
std::string make_plots(const std::string& dir, const nlohmann::json& history);
// A wait status of gnuplot in words: "gnuplot is not installed (not found on PATH)", "... exit code 1", "...
// killed by signal 11 (Segmentation fault)".
std::string describe_gnuplot_status(int status);

}  // namespace unroll::cli
