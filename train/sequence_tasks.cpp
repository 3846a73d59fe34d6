// SPDX-License-Identifier: Apache-2.0
// What lives here: the adding and copy-memory tasks and SequenceModel (sequence_tasks.h).
#include "train/sequence_tasks.h"

#include <cmath>

#include "graph/check.h"
#include "models/sequence_modes.h"
#include "ops/ops.h"
#include "train/loss.h"

namespace unroll {

namespace {

class AddingTask : public SequenceTask {
 public:
  explicit AddingTask(int64_t steps) : steps_(steps) {}
  std::string name() const override { return "adding"; }
  TaskMode mode() const override { return TaskMode::many_to_one; }
  int input_size() const override { return 2; }
  int output_size() const override { return 1; }
  int64_t steps() const override { return steps_; }

  SequenceBatch batch(int64_t rows, Rng& rng) const override {
    const int64_t T = steps_, half = T / 2;
    SequenceBatch b;
    b.x = Tensor::zeros(Shape{T, rows, 2}, DType::f32);
    b.values = Tensor::zeros(Shape{rows, 1}, DType::f32);
    float* x = b.x.data<float>();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t t = 0; t < T; ++t) x[(t * rows + r) * 2] = static_cast<float>(rng.uniform());
      // one marker in [0, T/2), one in [T/2, T)
      const int64_t first = static_cast<int64_t>(rng.below(static_cast<uint64_t>(half)));
      const int64_t second = half + static_cast<int64_t>(rng.below(static_cast<uint64_t>(T - half)));
      x[(first * rows + r) * 2 + 1] = 1;
      x[(second * rows + r) * 2 + 1] = 1;
      b.values.data<float>()[r] = x[(first * rows + r) * 2] + x[(second * rows + r) * 2];
    }
    return b;
  }
  Var loss(Var output, const SequenceBatch& b) const override {
    return mse_loss(output, output.tape().constant(b.values));
  }
  double metric(const Tensor& output, const SequenceBatch& b) const override {
    double total = 0;
    for (int64_t i = 0; i < output.numel(); ++i) total += (output.at(i) - b.values.at(i)) * (output.at(i) - b.values.at(i));
    return total / static_cast<double>(output.numel());
  }
  std::string loss_name() const override { return "MSE"; }
  std::string metric_name() const override { return "MSE"; }
  bool higher_is_better() const override { return false; }
  double chance_loss() const override { return 1.0 / 6.0; }  // Var(u1 + u2), predicting the mean 1
  double chance_metric() const override { return 1.0 / 6.0; }
  bool solved(double /*loss*/, double metric) const override { return metric < 0.01; }
  std::string solved_rule() const override { return "test MSE < 0.01 (chance 0.167)"; }

 private:
  int64_t steps_;
};

class CopyTask : public SequenceTask {
 public:
  CopyTask(int64_t gap, int alphabet, int recall) : gap_(gap), alphabet_(alphabet), recall_(recall) {}
  std::string name() const override { return "copy"; }
  TaskMode mode() const override { return TaskMode::many_to_many_synced; }
  int input_size() const override { return alphabet_ + 2; }
  int output_size() const override { return alphabet_; }
  int64_t steps() const override { return 2 * recall_ + gap_ + 1; }

  // t in [0, k): symbols; [k, k + gap): blanks; k + gap: delimiter; the last k steps: blanks, recalled.
  SequenceBatch batch(int64_t rows, Rng& rng) const override {
    const int64_t T = steps(), I = input_size(), k = recall_;
    SequenceBatch b;
    b.x = Tensor::zeros(Shape{T, rows, I}, DType::f32);
    b.classes.assign(static_cast<size_t>(k * rows), 0);
    float* x = b.x.data<float>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t t = 0; t < T; ++t) {
        int64_t symbol = 0;  // blank
        if (t < k) {
          const int64_t c = static_cast<int64_t>(rng.below(static_cast<uint64_t>(alphabet_)));
          b.classes[static_cast<size_t>(t * rows + r)] = c;
          symbol = 1 + c;
        } else if (t == k + gap_) {
          symbol = alphabet_ + 1;
        }
        x[(t * rows + r) * I + symbol] = 1;
      }
    return b;
  }
  // The last k steps of output [T, B, A] as [k * B, A] rows, step-major like b.classes.
  Var recalled(Var output) const {
    const int64_t B = output.shape()[1];
    return reshape(slice(output, 0, steps() - recall_, recall_), Shape{recall_ * B, alphabet_});
  }
  Var loss(Var output, const SequenceBatch& b) const override { return cross_entropy_loss(recalled(output), b.classes); }
  double metric(const Tensor& output, const SequenceBatch& b) const override {
    const int64_t B = output.shape()[1], first = (steps() - recall_) * B * alphabet_;
    int64_t correct = 0;
    for (size_t i = 0; i < b.classes.size(); ++i) {
      const int64_t row = first + static_cast<int64_t>(i) * alphabet_;
      int64_t best = 0;
      for (int64_t c = 1; c < alphabet_; ++c)
        if (output.at(row + c) > output.at(row + best)) best = c;
      correct += best == b.classes[i];
    }
    return static_cast<double>(correct) / static_cast<double>(b.classes.size());
  }
  std::string loss_name() const override { return "cross-entropy"; }
  std::string metric_name() const override { return "accuracy"; }
  bool higher_is_better() const override { return true; }
  double chance_loss() const override { return std::log(static_cast<double>(alphabet_)); }
  double chance_metric() const override { return 1.0 / alphabet_; }
  bool solved(double /*loss*/, double metric) const override { return metric > 0.9; }
  std::string solved_rule() const override { return "recall accuracy > 0.9"; }

 private:
  int64_t gap_;
  int alphabet_, recall_;
};

}  // namespace

const std::vector<std::string>& sequence_task_names() {
  static const std::vector<std::string> names = {"adding", "copy"};
  return names;
}

std::unique_ptr<SequenceTask> make_sequence_task(const TaskSpec& spec) {
  UNROLL_CHECK(spec.gap >= 1 && spec.gap <= 100000, UsageError, "task {}: gap must be in [1, 100000], got {}",
               spec.name, spec.gap);
  if (spec.name == "adding") {
    UNROLL_CHECK(spec.gap >= 2, UsageError, "task adding: gap (the sequence length) must be at least 2, got {}",
                 spec.gap);
    return std::make_unique<AddingTask>(spec.gap);
  }
  if (spec.name == "copy") {
    UNROLL_CHECK(spec.alphabet >= 2 && spec.alphabet <= 1000 && spec.recall >= 1 && spec.recall <= 1000, UsageError,
                 "task copy: alphabet must be in [2, 1000] and recall in [1, 1000], got {} and {}", spec.alphabet,
                 spec.recall);
    return std::make_unique<CopyTask>(spec.gap, spec.alphabet, spec.recall);
  }
  throw UsageError(fmt::format("unknown task '{}' (hint: adding or copy)", spec.name));
}

SequenceModel::SequenceModel(const RecurrentConfig& rnn, int output_size, Rng& rng, const CellRegistry& registry) {
  rnn_ = &register_module("rnn", std::make_unique<Recurrent>(rnn, rng, registry));
  head_ = &register_module("head", std::make_unique<Linear>(rnn.output_size(), output_size, rng));
}

Var SequenceModel::forward(Tape& tape, Var x, TaskMode mode) {
  return mode == TaskMode::many_to_one ? many_to_one(tape, *rnn_, *head_, x) : many_to_many_synced(tape, *rnn_, *head_, x);
}

}  // namespace unroll
