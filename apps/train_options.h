// SPDX-License-Identifier: Apache-2.0
// What lives here: the options of `unroll train` as parsed (TrainOptions, with the defaults every dataset
// starts from) and with_dataset_defaults, the one place where a built-in dataset's tuned defaults
// (apps/dataset_defaults.cpp) replace those the user did not give.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace unroll::cli {

struct TrainOptions {
  // data
  std::string dataset = "magnet", data_file, column, data_dir, scaler = "min_max";
  int64_t length = 0, history = 16, horizon = 1, period = 0;
  double noise = -1, train_fraction = 0.7, val_fraction = 0.15;
  uint64_t data_seed = 1;
  // model
  std::string model = "lstm", cell_file;  // cell_file: a cell from equations instead of --model
  int hidden = 128, layers = 1;
  double dropout = 0;
  // trainer
  int64_t epochs = 8, batch = 64, patience = 0, warmup = 0, step_size = 1000;
  // lr 0.012 with the cosine: chosen on magnet's validation RMSE (the grid: apps/dataset_defaults.cpp)
  double lr = 0.012, weight_decay = 0, clip = 1.0, momentum = 0, gamma = 0.5;
  bool nesterov = false, residual = true, highway = false;
  double despike = 0;  // robust inputs, in robust standard deviations of one-step changes (0 = off; magnet: 20)
  std::string loss = "mse";
  double huber_delta = 0.02;
  // The cosine's horizon: 0 = follow --epochs (with_dataset_defaults resolves it, so the run config and
  // the checkpoint store it); --resume with more --epochs continues at the final rate (docs/training.md).
  std::string optimizer = "adam", schedule = "cosine";
  int64_t decay_epochs = 0;
  uint64_t seed = 1;
  int keep_last = 0;
  int ensemble = 0;  // --ensemble K: K member runs, seeds seed..seed+K-1 (apps/ensemble.h); 0 = one run
  // run
  std::string out = "runs/latest", resume;
  bool detect_anomaly = false, quiet = false, no_plot = false, overwrite = false;
  // Set by with_dataset_defaults for CSV data without --epochs: the budget follows the data
  // (apps/run_config.h fit_training_budget).
  bool auto_budget = false;
  bool auto_history = false;  // CSV data without --history: chosen on validation (choose_history)
};

// o with the tuned defaults of its built-in dataset (magnet, nottem) for every option `given` says the
// user did not set (given("--epochs") is true when --epochs was on the command line), and the cosine's
// horizon resolved: --decay-epochs when given, else the run's epochs.
TrainOptions with_dataset_defaults(const TrainOptions& o, const std::function<bool(const char* flag)>& given);

}  // namespace unroll::cli
