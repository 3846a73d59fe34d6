// SPDX-License-Identifier: Apache-2.0
// What lives here: generated sequence tasks behind one small interface, and the model that solves them.
// A SequenceTask makes seeded batches x [T, B, I] with their targets, says which sequence mode reads them
// (models/sequence_modes.h), and owns its loss, its metric and its trivial baseline (chance level):
//   adding   (Hochreiter & Schmidhuber 1997) input [value U(0,1), marker]; one marked value in each half
//            of T = gap steps; target their sum, many-to-one. Loss and metric: MSE; chance: predicting the
//            mean 1 gives Var(u1 + u2) = 1/6. Solved: test MSE < 0.01.
//   copy     k symbols from an alphabet of A, then `gap` blanks, a delimiter, then k blank steps during
//            which the k symbols are to be recalled in order; input one-hot over A + 2 (blank 0,
//            symbols 1..A, delimiter A+1), many-to-many synced, scored on the k recall steps only.
//            Loss: cross-entropy over A classes, chance log(A); metric: recall accuracy (chance 1/A).
//            Solved: recall accuracy > 0.9.
// SequenceModel is Recurrent ("rnn") + Linear head ("head"), run in the task's mode.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "graph/rng.h"
#include "graph/tape.h"
#include "models/linear.h"
#include "models/recurrent.h"

namespace unroll {

enum class TaskMode { many_to_one, many_to_many_synced };

struct SequenceBatch {
  Tensor x;                      // [T, B, I] float32
  Tensor values;                 // regression targets [B, O] (adding); undefined otherwise
  std::vector<int64_t> classes;  // class targets of the scored steps, step-major: scored step s, row b at s*B+b
};

class SequenceTask {
 public:
  virtual ~SequenceTask() = default;
  virtual std::string name() const = 0;
  virtual TaskMode mode() const = 0;
  virtual int input_size() const = 0;
  virtual int output_size() const = 0;  // what the head emits per scored step
  virtual int64_t steps() const = 0;    // T
  // `rows` sequences drawn from rng (the same rng state -> the same bits).
  virtual SequenceBatch batch(int64_t rows, Rng& rng) const = 0;
  // output: what the mode returns ([B, O] many-to-one, [T, B, O] synced). A scalar loss on output's tape.
  virtual Var loss(Var output, const SequenceBatch& batch) const = 0;
  // The metric of output's value (MSE or accuracy) on the batch.
  virtual double metric(const Tensor& output, const SequenceBatch& batch) const = 0;
  virtual std::string loss_name() const = 0;    // "MSE", "cross-entropy"
  virtual std::string metric_name() const = 0;  // "MSE", "accuracy"
  virtual bool higher_is_better() const = 0;    // of the metric
  virtual double chance_loss() const = 0;       // the trivial baseline's expected loss
  virtual double chance_metric() const = 0;
  virtual bool solved(double loss, double metric) const = 0;
  virtual std::string solved_rule() const = 0;  // "test MSE < 0.01"
};

struct TaskSpec {
  std::string name = "adding";  // adding | copy
  int64_t gap = 50;             // adding: T; copy: the blanks between the symbols and the delimiter
  int alphabet = 8;             // copy
  int recall = 5;               // copy: k
};
// UsageError naming the bad field for an unknown task or sizes out of range.
std::unique_ptr<SequenceTask> make_sequence_task(const TaskSpec& spec);
const std::vector<std::string>& sequence_task_names();

/// Recurrent ("rnn") + Linear head ("head": D*H -> output); forward runs the task's mode.
class SequenceModel : public Module {
 public:
  SequenceModel(const RecurrentConfig& rnn, int output_size, Rng& rng, const CellRegistry& registry = builtin_cells());
  Var forward(Tape& tape, Var x, TaskMode mode);
  Recurrent& rnn() { return *rnn_; }
  Linear& head() { return *head_; }

 private:
  Recurrent* rnn_;
  Linear* head_;
};

}  // namespace unroll
