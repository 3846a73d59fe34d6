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
  int64_t length = 0, history = 16, horizon = 1;
  double noise = -1, train_fraction = 0.7, val_fraction = 0.15;
  uint64_t data_seed = 1;
  // model
  std::string model = "lstm";
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
  // cosine over a fixed --decay-epochs (not --epochs): the schedule is a function of the step alone, so
  // --resume with more --epochs stays exact. Chosen on validation RMSE (docs/training.md).
  std::string optimizer = "adam", schedule = "cosine";
  int64_t decay_epochs = 8;
  uint64_t seed = 1;
  int keep_last = 0;
  // run
  std::string out = "runs/latest", resume;
  bool detect_anomaly = false, quiet = false, no_plot = false, overwrite = false;
};

// o with the tuned defaults of its built-in dataset (magnet, nottem) for every option `given` says the
// user did not set (given("--epochs") is true when --epochs was on the command line). CSV data: o as is.
TrainOptions with_dataset_defaults(const TrainOptions& o, const std::function<bool(const char* flag)>& given);

}  // namespace unroll::cli
