// SPDX-License-Identifier: Apache-2.0
// What lives here: Trainer, the training loop for a ForecastModel on PreparedData: seeded shuffled batches,
// an optimizer step per batch with a learning-rate schedule, validation each epoch, early stopping on
// validation loss, metric history, and atomic checkpoints of the last and the best state.
//
// Note [Exact resume]: everything that decides the next update is in the checkpoint: parameters,
// optimizer slots and step count, the dropout Rng state, the schedule config, the shuffle seed and the
// data cursor (epoch, position inside the epoch), and the running sums of a half-finished epoch. The
// shuffled order of an epoch is a pure function of (seed, epoch) (io/datasets.h BatchStream), so
// "train N epochs" and "train k, save, load in a fresh process, train N - k" give the same bits, also when
// the save happened in the middle of an epoch (SIGINT). Wall-clock times are never saved (reports only).
//
// Note [Stopping]: the loop polls `TrainerHooks::stop_flag` (a sig_atomic_t the command's signal handler
// sets; the trainer installs no handler and owns no global) after every step: it finishes that step, saves
// checkpoint.h5 atomically and returns `interrupted`. A non-finite loss returns `diverged` before the
// update, leaving the last good checkpoint untouched. With a Communicator of several ranks the stop flag
// is agreed every step (the largest value over ranks), so every rank stops after the same step.
#pragma once
#include <csignal>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "graph/rng.h"
#include "graph/tape.h"
#include "io/checkpoint.h"
#include "io/datasets.h"
#include "train/forecast_model.h"
#include "train/optimizer.h"
#include "train/schedule.h"

namespace unroll {

class Communicator;

struct TrainerConfig {
  int64_t epochs = 10;          // total epochs of the run (a resumed run counts from its start)
  int64_t batch_size = 64;
  uint64_t seed = 1;            // shuffle order and dropout
  OptimizerConfig optimizer;    // optimizer.lr is the schedule's base learning rate
  // kind, warm-up, ...; base_lr (= optimizer.lr) and a cosine's total_steps (epochs x batches - warm-up)
  // are filled in when the run starts and then saved: a resumed run with more epochs keeps the original
  // cosine length, so only epoch-independent schedules resume bit-identically to a longer straight run.
  ScheduleConfig schedule;
  // A cosine's length in epochs (total_steps = decay_epochs x batches - warm-up); 0 = `epochs`. A fixed
  // length (what `unroll train` sets) keeps the schedule a function of the step alone, so a run resumed
  // with more --epochs is bit-identical to a straight run of that many epochs (Note [Exact resume]);
  // after decay_epochs the learning rate stays at min_lr.
  int64_t decay_epochs = 0;
  int64_t cosine_epochs() const { return decay_epochs > 0 ? decay_epochs : epochs; }  // the cosine's length in use
  int64_t patience = 0;         // stop after this many epochs without a better validation loss; 0 = never
  // The training loss: "mse" or "huber" (train/huber_loss.h, robust to isolated outliers in the targets,
  // delta in scaled units). Validation, early stopping, best.h5 and every report stay MSE/RMSE.
  std::string loss = "mse";
  double huber_delta = 0.02;
  bool detect_anomaly = false;  // Tape::set_anomaly_detection on the training tape
  std::string out_dir;          // where checkpoint.h5 and best.h5 go; "" = save nothing
  int keep_last = 0;            // SaveOptions::keep_last for checkpoint.h5

  nlohmann::json to_json() const;
  static TrainerConfig from_json(const nlohmann::json& j);  // DataError naming a bad field
  void validate_loss() const;  // UsageError for an unknown loss or a delta that is not positive
};

enum class TrainStatus { completed, early_stopped, interrupted, diverged };
const char* train_status_name(TrainStatus s);

// What the progress callbacks see (the caller computes rates and ETAs from its own clock).
struct StepInfo {
  int64_t epoch = 0;           // 1-based
  int64_t epochs = 0;
  int64_t step_in_epoch = 0;   // 1-based
  int64_t steps_per_epoch = 0;
  int64_t global_step = 0;
  double loss = 0;             // this batch
  double epoch_loss = 0;       // mean over the epoch so far
  double lr = 0;
};

struct EpochInfo {
  int64_t epoch = 0;  // 1-based
  int64_t epochs = 0;
  double train_loss = 0, val_loss = 0;  // val_loss NaN when there is no validation split
  double lr = 0;
  bool improved = false;
  int64_t global_step = 0;
};

struct TrainerHooks {
  const volatile std::sig_atomic_t* stop_flag = nullptr;  // non-zero: stop after the current step
  std::function<void(const StepInfo&)> on_step;
  std::function<void(const EpochInfo&)> on_epoch;
};

struct TrainResult {
  TrainStatus status = TrainStatus::completed;
  std::string message;        // one line for the user (how to resume, where it diverged, ...)
  int64_t epochs_run = 0;     // completed epochs of the whole run
  int64_t global_step = 0;
  double best_val_loss = 0;   // NaN when never validated
  int64_t best_epoch = 0;
  nlohmann::json history;     // [{epoch, train_loss, val_loss, lr, step}]
  int stop_value = 0;         // interrupted: the stop flag's value agreed over ranks (the signal number)
};

class Trainer {
 public:
  // The model's parameters are updated in place. run_config is stored in every checkpoint (under extra)
  // so a command can rebuild the data and model from the file alone.
  Trainer(ForecastModel& model, const PreparedData& data, TrainerConfig config, nlohmann::json run_config = {});

  // Continue from a checkpoint written by this trainer (parameters, optimizer, rng, schedule, progress).
  // config.epochs may differ from the saved run's (it counts from the run's start).
  void resume(const Checkpoint& ckpt);

  TrainResult fit(const TrainerHooks& hooks = {});

  // Data-parallel training and evaluation over `comm`'s ranks (Note [Data parallel] in
  // train/data_parallel.h); every rank runs the same calls. Null or one rank: this process alone. Only
  // the ranks whose config has an out_dir save anything (`unroll train` gives one to rank 0 alone).
  void set_communicator(Communicator* comm) { comm_ = comm; }

  // The full training state as a checkpoint (what fit() saves).
  Checkpoint checkpoint() const;

  // Predictions (scaled units) for every window of `windows`, in order, in eval mode with no gradient.
  std::vector<double> predict(const WindowSet& windows);
  double evaluate_mse(const WindowSet& windows);  // mean squared error of predict() (scaled)

  const TrainerConfig& config() const { return config_; }
  const TrainerProgress& progress() const { return progress_; }
  Optimizer& optimizer() { return optimizer_; }

 private:
  void save(const std::string& file, const Checkpoint& ckpt, bool rotate);
  double best_val_from_history(int64_t* best_epoch, int64_t* since_best) const;

  ForecastModel& model_;
  const PreparedData& data_;
  TrainerConfig config_;
  nlohmann::json run_config_;
  Optimizer optimizer_;
  Rng rng_;
  TrainerProgress progress_;
  double partial_loss_sum_ = 0;  // the current epoch's running loss (for a mid-epoch resume)
  int64_t partial_loss_count_ = 0;
  bool checkpoint_on_disk_ = false;  // resumed from one, or saved one: a NaN stop keeps it
  Tape tape_;
  Communicator* comm_ = nullptr;
};

}  // namespace unroll
