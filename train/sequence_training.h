// SPDX-License-Identifier: Apache-2.0
// What lives here: the compact training loop of a SequenceModel on a SequenceTask (train/sequence_tasks.h):
// fresh seeded batches every step (the task generates data, so there are no epochs), Adam (or any
// train/optimizer.h optimizer) with gradient clipping and a train/schedule.h learning rate, a held-out
// validation batch checked every `check_every` steps (the run stops early once it meets the task's solved
// rule, or when the loss is not finite), and the final score on a fixed test set.
//
// Seeds: the model is initialised by the caller; training batches come from Rng(seed), the validation
// batch from Rng(seed ^ kValidationSalt) and the test set from Rng(test_seed) -- a caller comparing cells
// passes the same test_seed to all of them, so every cell is scored on the same sequences.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "train/optimizer.h"
#include "train/schedule.h"
#include "train/sequence_tasks.h"

namespace unroll {

struct SequenceTrainConfig {
  int64_t steps = 1000;       // the budget: optimizer steps at most
  int64_t batch = 32;
  OptimizerConfig optimizer;  // optimizer.lr is the schedule's base learning rate
  ScheduleConfig schedule;    // base_lr and a cosine's total_steps are set from optimizer.lr and steps
  uint64_t seed = 1;          // training batches (the model's initialisation is the caller's)
  uint64_t test_seed = 1000;  // the test set
  int64_t test_rows = 1000;
  int64_t validation_rows = 256;
  int64_t check_every = 100;  // validation every this many steps; 0 = never (no early stop)
  bool stop_when_solved = true;
};

struct TaskScore {
  double loss = 0, metric = 0;
};

struct SequenceTrainResult {
  TaskScore test;
  bool solved = false;                 // the task's rule on the test score
  bool diverged = false;               // a non-finite training loss stopped the run (test not scored: NaN)
  int64_t steps = 0;                   // optimizer steps taken
  std::vector<std::pair<int64_t, double>> validation;  // (step, validation loss) at every check
};

// The budget `unroll experiment memory` gives every run (and `unroll gradflow --train`): Adam with lr
// cosine-decayed to lr / 10 over `steps`, clipping at `clip`, training batches from `seed`.
SequenceTrainConfig memory_budget(int64_t steps, int64_t batch, double lr, double clip, uint64_t seed);

// `rows` sequences from Rng(seed) as batches of at most 250 rows (the same seed -> the same sequences).
std::vector<SequenceBatch> make_task_set(const SequenceTask& task, int64_t rows, uint64_t seed);
// Scores model on the batches under no-grad: loss and metric averaged over them, weighted by rows.
TaskScore evaluate_on_task(SequenceModel& model, const SequenceTask& task, const std::vector<SequenceBatch>& batches);

// Trains model on task. progress (optional) is called after every check with (step, validation score).
SequenceTrainResult train_on_task(SequenceModel& model, const SequenceTask& task, const SequenceTrainConfig& config,
                                  const std::function<void(int64_t, const TaskScore&)>& progress = {});

}  // namespace unroll
