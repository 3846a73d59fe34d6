// SPDX-License-Identifier: Apache-2.0
// What lives here: train_on_task and its evaluation (sequence_training.h).
#include "train/sequence_training.h"

#include <algorithm>
#include <cmath>

#include "autodiff/backward.h"
#include "graph/check.h"

namespace unroll {

namespace {
constexpr uint64_t kValidationSalt = 0x9e3779b97f4a7c15ULL;
constexpr int64_t kSetChunk = 250;
}  // namespace

SequenceTrainConfig memory_budget(int64_t steps, int64_t batch, double lr, double clip, uint64_t seed) {
  SequenceTrainConfig tc;
  tc.steps = steps;
  tc.batch = batch;
  tc.optimizer.lr = lr;
  tc.optimizer.clip_norm = clip;
  tc.schedule.kind = "cosine";
  tc.schedule.min_lr = lr / 10;
  tc.seed = seed;
  return tc;
}

std::vector<SequenceBatch> make_task_set(const SequenceTask& task, int64_t rows, uint64_t seed) {
  Rng rng(seed);
  std::vector<SequenceBatch> set;
  for (int64_t done = 0; done < rows; done += kSetChunk) set.push_back(task.batch(std::min(kSetChunk, rows - done), rng));
  return set;
}

TaskScore evaluate_on_task(SequenceModel& model, const SequenceTask& task, const std::vector<SequenceBatch>& batches) {
  Tape tape;
  const NoGradGuard no_grad(tape);
  TaskScore total;
  int64_t rows = 0;
  for (const SequenceBatch& b : batches) {
    tape.reset();
    const int64_t n = b.x.shape()[1];
    const Var out = model.forward(tape, tape.constant(b.x), task.mode());
    total.loss += task.loss(out, b).value().at(0) * static_cast<double>(n);
    total.metric += task.metric(out.value(), b) * static_cast<double>(n);
    rows += n;
  }
  UNROLL_CHECK(rows > 0, UsageError, "evaluate_on_task: no sequences to score");
  return {total.loss / static_cast<double>(rows), total.metric / static_cast<double>(rows)};
}

SequenceTrainResult train_on_task(SequenceModel& model, const SequenceTask& task, const SequenceTrainConfig& config,
                                  const std::function<void(int64_t, const TaskScore&)>& progress) {
  UNROLL_CHECK(config.steps >= 1 && config.batch >= 1 && config.test_rows >= 1 && config.validation_rows >= 1,
               UsageError, "train_on_task: steps, batch, test_rows and validation_rows must be positive");
  Optimizer optimizer(model.named_parameters(), config.optimizer);
  ScheduleConfig sc = config.schedule;
  sc.base_lr = config.optimizer.lr;
  if (sc.kind == "cosine") sc.total_steps = std::max<int64_t>(1, config.steps - sc.warmup_steps);
  const Schedule schedule(sc);
  Rng data(config.seed);
  const std::vector<SequenceBatch> validation = make_task_set(task, config.validation_rows, config.seed ^ kValidationSalt);
  SequenceTrainResult result;
  Tape tape;
  model.train();
  for (int64_t step = 1; step <= config.steps; ++step) {
    tape.reset();
    const SequenceBatch b = task.batch(config.batch, data);
    const Var loss = task.loss(model.forward(tape, tape.constant(b.x), task.mode()), b);
    if (!std::isfinite(loss.value().at(0))) {
      result.diverged = true;
      break;
    }
    optimizer.zero_grad();
    backward(loss);
    optimizer.step(schedule.lr(step));
    result.steps = step;
    if (config.check_every > 0 && (step % config.check_every == 0 || step == config.steps)) {
      model.eval();
      const TaskScore v = evaluate_on_task(model, task, validation);
      model.train();
      result.validation.emplace_back(step, v.loss);
      if (progress) progress(step, v);
      if (config.stop_when_solved && task.solved(v.loss, v.metric)) break;
    }
  }
  model.eval();
  if (result.diverged) {
    result.test = {NAN, NAN};
    return result;
  }
  result.test = evaluate_on_task(model, task, make_task_set(task, config.test_rows, config.test_seed));
  result.solved = task.solved(result.test.loss, result.test.metric) && std::isfinite(result.test.loss);
  return result;
}

}  // namespace unroll
