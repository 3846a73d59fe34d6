// SPDX-License-Identifier: Apache-2.0
// What lives here: Recurrent, the sequence driver that unrolls any registered cell over time, with stacked
// layers, both directions, dropout between layers, initial/final states and variable-length batches;
// RecurrentConfig (stored in checkpoints as JSON); and TruncatedBptt, the stateful wrapper that carries
// the state across consecutive batches and cuts the graph every k steps.
//
// Note [Recurrent layout]: children are named "l0", "l0_reverse", "l1", ... so parameter paths read
// "l0/w_ih", "l1_reverse/b_hh" (PyTorch's weight_ih_l0, bias_hh_l1_reverse; tests/fixtures/README.md).
// Layer k reads in_k = input_size (k = 0) or D*hidden_size features. States are [L*D, B, H] with index
// layer*D + direction, like PyTorch.
//
// Note [Variable lengths]: with lengths, sequence b's state stops changing after step lengths[b]-1 (the
// update is h = h_old + m_t * (h_new - h_old) with a constant 0/1 mask m_t [B, 1]); the reverse direction
// starts from the initial state at t = lengths[b]-1, so it begins at each sequence's own last element;
// outputs are exactly zero for t >= lengths[b] (PyTorch's pad_packed_sequence); final states are taken at
// each sequence's own end. The fused path does the same per row inside its step loop (Note [Masked step
// loop] in ops/rnn_step_loop.cpp) and is tested equal to this, values and gradients.
//
// How each layer and direction runs -- the fused op, graph steps, the batch split or recomputed segments
// -- is chosen in one place: choose_strategy in models/strategies/strategies.h. Whichever runs, the
// outputs, states and steps are the same tensors at the same t.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/rng.h"
#include "graph/tape.h"
#include "models/cell.h"
#include "models/module.h"
#include "models/strategies/strategies.h"

namespace unroll {

/// The shape of a Recurrent: cell name, sizes, layers, directions, dropout (stored in checkpoints as JSON).
struct RecurrentConfig {
  std::string cell = "lstm";  ///< a CellRegistry name
  int input_size = 1;
  int hidden_size = 1;
  int layers = 1;
  bool bidirectional = false;
  double dropout = 0;  ///< between layers (on every layer's output but the last), training mode only
  nlohmann::json cell_options = nlohmann::json::object();
  /// Note [Equation cell]: when not empty, the cell's equations (docs/cells.md): every layer's cell is made
  /// from this text under the name `cell`, and the registry is not asked, so a checkpoint's config alone
  /// rebuilds the model. JSON key "cell_equations", written only when not empty.
  std::string cell_equations = {};
  /// Note [Fused fast path] (models/cell.h): stock cells run each layer and direction as one fused op
  /// (rnn_sequence) in float32, variable lengths included. false forces the per-step graph everywhere (the
  /// reference). JSON key "fused", written only when false, so configs without it read as true.
  bool fused = true;

  int directions() const { return bidirectional ? 2 : 1; }
  int output_size() const { return directions() * hidden_size; }
  void validate() const;  ///< throws UsageError naming the bad field
};
void to_json(nlohmann::json& j, const RecurrentConfig& c);
void from_json(const nlohmann::json& j, RecurrentConfig& c);  ///< missing fields take the defaults above

/// What Recurrent::forward returns.
struct RecurrentOutput {
  Var output;                      ///< [T, B, D*H]; [forward H | reverse H]; zeros past each length
  std::vector<Var> final_states;   ///< one per state kind (h, then c for LSTM): [L*D, B, H]
  std::vector<Var> steps;          ///< T entries [B, D*H]: output's rows per step (also zero past length)
};

/// The sequence driver: unrolls any registered cell over time with stacked layers, both directions,
/// dropout between layers, initial and final states and variable-length batches (Note [Recurrent layout],
/// Note [Variable lengths] at the top of models/recurrent.h). forward() records the whole unrolled graph
/// on a Tape; backward() on a loss of it is backpropagation through time.
class Recurrent : public Module {
 public:
  Recurrent(const RecurrentConfig& config, Rng& rng, const CellRegistry& registry = builtin_cells());

  /// x [T, B, I]. initial_states: empty (zeros) or one [L*D, B, H] per state kind. lengths: empty (all T) or
  /// B values in [1, T]. rng: needed only when dropout > 0 in training mode.
  RecurrentOutput forward(Tape& tape, Var x, const std::vector<Var>& initial_states = {},
                          const std::vector<int64_t>& lengths = {}, Rng* rng = nullptr);

  /// Note [Recompute segments] (models/strategies/recompute.cpp): k > 0 keeps states every k steps and
  /// recomputes the rest in backward; kRecomputeSqrt picks k = ceil(sqrt(T)) per call; 0 (the default)
  /// switches it off. A runtime choice, not part of the model: it is not saved in checkpoints and does not
  /// change any value or gradient.
  static constexpr int64_t kRecomputeSqrt = -1;
  void set_recompute(int64_t k);
  int64_t recompute() const { return recompute_; }

  /// Note [Fused fast path]: which float32 engine runs a fused layer -- the step loop (the default;
  /// docs/performance.md compares them) or oneDNN's RNN primitive. A runtime choice like set_recompute: not
  /// saved, and both are tested against the graph path. A variable-length batch runs the step loop whichever
  /// is set: the primitive cannot mask (Note [Masked step loop] in ops/rnn_step_loop.cpp).
  void set_engine(RnnEngine engine);
  RnnEngine engine() const { return engine_; }
  /// Note [Graph batch split] (models/strategies/batch_split.cpp): on the graph path, a cell whose
  /// rows_independent() is true runs each OpenMP thread's block of batch rows on a tape of its own (on by
  /// default). A runtime choice like set_engine: not saved; float64 values are the same bits either way,
  /// float32 within rounding.
  void set_batch_split(bool on) { batch_split_ = on; }
  bool batch_split() const { return batch_split_; }

  const RecurrentConfig& config() const { return config_; }
  int state_count() const { return cells_.front()->state_count(); }
  /// The cell of layer `layer`, direction `direction` (0 forward, 1 reverse).
  Cell& cell(int layer, int direction = 0) { return *cells_.at(static_cast<size_t>(layer * config_.directions() + direction)); }

 private:
  RecurrentConfig config_;
  std::vector<Cell*> cells_;  ///< owned as children, index layer*D + direction
  int64_t recompute_ = 0;
  RnnEngine engine_ = RnnEngine::step_loop;
  bool batch_split_ = true;
  strategies::SplitWorkspacePool split_pool_;  ///< Note [Graph batch split]: the block tapes

  strategies::DirectionOutput run_direction(const strategies::DirectionInput& in);
};

/// Truncated backpropagation through time: forward() runs the sequence in chunks of k steps, starting each
/// chunk from the previous chunk's final state detached (the graph is cut every k steps), and keeps the
/// last state (copied out of the tape: value().clone()) so the next call continues from it, even after the
/// tape has been reset. Unidirectional models only (a reverse pass cannot be carried forward in time).
class TruncatedBptt {
 public:
  TruncatedBptt(Recurrent& model, int k);

  /// x [T, B, I] continuing the previous batch (same B); returns the outputs of all T steps.
  RecurrentOutput forward(Tape& tape, Var x, Rng* rng = nullptr);
  void reset() { state_.clear(); }  ///< start the next batch from zeros
  const std::vector<Tensor>& state() const { return state_; }  ///< [L, B, H] per state kind; empty after reset
  int k() const { return k_; }

 private:
  Recurrent& model_;
  int k_;
  std::vector<Tensor> state_;
};

}  // namespace unroll
