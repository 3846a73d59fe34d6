// SPDX-License-Identifier: Apache-2.0
// What lives here: RunConfig, everything `unroll train` was asked to do (data, model, trainer, output),
// as one JSON-able value stored in every checkpoint (extra/run) so eval, predict, plot and --resume can
// rebuild the same data and model from the file alone; and the helpers that build them.
#pragma once
#include "models/cell.h"
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "io/checkpoint.h"
#include "io/datasets.h"
#include "train/baselines.h"
#include "train/forecast_model.h"
#include "train/trainer.h"

namespace unroll::cli {

struct DataConfig {
  std::string dataset = "magnet";  // magnet | nottem | csv
  std::string file;                // csv only
  std::string column;              // csv only
  int64_t length = 0;              // magnet samples; 0 = the generator's default
  double noise = -1;               // magnet noise (volts); < 0 = the generator's default
  uint64_t data_seed = 1;          // magnet generator seed
  int64_t history = 16;
  int64_t horizon = 1;
  std::string scaler = "min_max";  // min_max | z_score | none
  double train_fraction = 0.7;     // csv only (built-in data use their standard split)
  double validation_fraction = 0.15;
  // --period: the seasonal period of the seasonal-naive baseline; 0 = the dataset's own (nottem: 12), else
  // one detected on the training split (train/baselines.h detect_period), else none.
  int64_t period = 0;
  // csv: the identity of the data a run started on (Note [Data identity] in apps/run_config.cpp); empty / 0
  // in checkpoints written before unroll recorded it.
  std::string file_hash;  // FNV-1a 64 of the file's bytes, 16 hex digits
  int64_t file_bytes = 0;

  nlohmann::json to_json() const;
  static DataConfig from_json(const nlohmann::json& j);
  void validate() const;  // DataError/UsageError naming the bad option
};

struct RunConfig {
  DataConfig data;
  ForecastModelConfig model;  // model.history is kept equal to data.history
  TrainerConfig trainer;
  // No --epochs on CSV data: the budget is chosen from the data when the run starts (fit_training_budget).
  bool auto_budget = false;
  // No --history on CSV data: the history is chosen on the validation split (choose_history).
  bool auto_history = false;
  // What was chosen from the data when the run started, and why ({"budget": {...}}); in report.json.
  nlohmann::json choices = nlohmann::json::object();

  nlohmann::json to_json() const;
  static RunConfig from_json(const nlohmann::json& j);
  void validate() const;
};

// "lstm", "lstm (residual)", "lstm + AR highway (residual)": how tables name the model.
std::string model_label(const ForecastModelConfig& m);

// The least-squares AR a highway starts from; a tiny ridge (1e-8) when the windows are collinear.
LinearAR fit_ar_for_highway(const std::vector<double>& series, const WindowSet& train);

// The budget of a run without --epochs (run.auto_budget): a cap of 20 epochs' steps, at least
// kMinBudgetSteps and at most kMaxBudgetSteps (so it scales with the data), as whole epochs; the cosine
// follows the cap; early stopping after max(10, cap / 5) epochs without a better validation loss (unless
// --patience is given), evaluating the best weights (best.h5). Recorded in run.choices["budget"]. Called
// once when a run starts.
inline constexpr int64_t kBudgetEpochs = 20, kMinBudgetSteps = 4000, kMaxBudgetSteps = 20000;
void fit_training_budget(RunConfig& run, const PreparedData& data);
// The history of a run without --history (run.auto_history): the AR order with the best validation RMSE
// (train/baselines.h choose_ar_order, on the data windowed with the current history), clamped to
// [kMinAutoHistory, kMaxAutoHistory] (the network can ignore lags it has, not use ones it lacks; the cap
// bounds the time per step). Sets run.data.history and run.model.history, records run.choices["history"].
// Called once when a run starts, before its data is loaded.
inline constexpr int64_t kMinAutoHistory = 8, kMaxAutoHistory = 32;
void choose_history(RunConfig& run, const std::string& data_dir);
// One line saying why training stopped: the early stop, the budget cap, or --epochs.
std::string stop_reason(const RunConfig& run, const TrainResult& result);

// Robust inputs (Note [Robust inputs] in train/forecast_model.h): sets run.model.despike to
// despike_sigmas x robust_step_std of the training split of `data` (0 when despike_sigmas is 0). Called
// once when a run starts; a resumed run keeps the threshold saved in its checkpoint.
void fit_despike_threshold(RunConfig& run, const PreparedData& data);

// A cell's one spelling is its registry name (rnn_tanh, lstm, gru, gru_lbr, ...), which checkpoints store;
// this also maps the short "rnn" -> "rnn_tanh" and the older "gru-lbr" -> "gru_lbr", other names as given.
// The cells `unroll gradcheck` (and `unroll bench`) know: the built-in ones plus the example custom cell
// "cifg" (examples/cifg_cell.h), registered the way a user registers their own. Training uses the
// built-in cells only (a checkpoint must be rebuildable from its config alone).
const CellRegistry& cli_cells();
std::string cell_name(const std::string& model);

// Where nottem.csv is looked for: $UNROLL_DATA_DIR, else share/unroll beside an installed command, else
// the source tree's data/.
std::string default_data_dir();

struct LoadedData {
  PreparedData data;
  int64_t seasonal_period = 0;  // --period, else the built-in dataset's own, else 0 (detect)
  std::string source;
  std::string file_hash;  // csv: what was read (fnv1a_hex) and its size
  int64_t file_bytes = 0;
};
// csv data with a recorded file_hash must match it (DataError naming what differs).
LoadedData load_data(const DataConfig& config, const std::string& data_dir);
// The seasonal period the baselines use and why (given with --period, the dataset's own, detected on the
// training split, or none): records run.choices["period"]. load_data already put a given (or the
// dataset's) period in loaded.seasonal_period; a detected one is left to evaluate_baselines, which finds
// the same and says so. Called once a
// run's data is loaded (new and resumed runs alike: it depends only on the data and --period).
void choose_period(RunConfig& run, const LoadedData& loaded);

// A new run: records the absolute path, size and hash of its CSV in `run` (no-op for built-in data).
void pin_data_file(DataConfig& data, const LoadedData& loaded);

// Where a saved run's CSV is now (Note [Data identity]): `given` (--data) when not empty, else the
// recorded path, else a file of the same name beside the checkpoint, else the recorded path relative
// to the working directory. Sets data.file to it; returns a note for the user ("" when nothing to say).
std::string locate_data_file(DataConfig& data, const std::string& checkpoint_path, const std::string& given = {});
// The same windows over another CSV column with a given (saved) scaler: every window is a test window.
LoadedData load_csv_for_eval(const std::string& file, const std::string& column, const WindowSpec& spec,
                             const Scaler& scaler);

// A checkpoint written by `unroll train`: its RunConfig (from extra/run) and the model rebuilt from it.
struct LoadedRun {
  Checkpoint checkpoint;
  RunConfig run;
  std::unique_ptr<ForecastModel> model;
  Scaler scaler;
};
LoadedRun load_run(const std::string& checkpoint_path);

// The test-split evaluation every command shares: model vs baselines.
struct Evaluation {
  std::vector<int64_t> targets;  // series index of each window's target
  std::vector<double> prediction, truth;  // scaled
  double rmse = 0, mae = 0;
  BaselineReport baselines;
};
Evaluation evaluate(Trainer& trainer, const PreparedData& data, const WindowSet& windows, int64_t seasonal_period);

}  // namespace unroll::cli
