// SPDX-License-Identifier: Apache-2.0
// What lives here: Recurrent, the sequence driver (Note [Recurrent layout] and Note [Variable lengths] in
// recurrent.h): forward checks its arguments, runs each layer and direction with the strategy
// choose_strategy picks (models/strategies/strategies.h), and joins the directions and layers.
// RecurrentConfig is in recurrent_config.cpp, TruncatedBptt in truncated_bptt.cpp.
#include "models/recurrent.h"

#include <algorithm>
#include <cmath>

#include "models/strategies/steps.h"
#include "ops/ops.h"

namespace unroll {

using strategies::DirectionInput;
using strategies::DirectionOutput;
using strategies::LengthMasks;
using strategies::Strategy;

namespace {

// Checks forward's arguments against the config (dtype: the parameters', S: the state kinds); returns
// whether some sequence is shorter than T.
bool check_forward(const RecurrentConfig& config, DType dtype, int S, const Tape& tape, const Var& x,
                   const std::vector<Var>& initial_states, const std::vector<int64_t>& lengths) {
  UNROLL_CHECK(&x.tape() == &tape, UsageError, "Recurrent: x was recorded on another tape (or an old epoch)");
  UNROLL_CHECK(x.shape().rank() == 3 && x.shape()[2] == config.input_size && x.shape()[0] > 0, ShapeError,
               "Recurrent: input must be [T, B, {}] (time-major, T >= 1), got {} (hint: batch-first data needs a "
               "transpose to [T, B, I])",
               config.input_size, x.shape().str());
  UNROLL_CHECK(x.dtype() == dtype, DTypeError,
               "Recurrent: input is {} but the parameters are {} (hint: convert the model with to(DType) or the "
               "input with Tensor::to)",
               dtype_name(x.dtype()), dtype_name(dtype));
  const int64_t T = x.shape()[0], B = x.shape()[1];
  const Shape state_shape{int64_t{config.layers} * config.directions(), B, config.hidden_size};
  UNROLL_CHECK(initial_states.empty() || static_cast<int>(initial_states.size()) == S, UsageError,
               "Recurrent: got {} initial state tensors, cell '{}' has {} state kinds (hint: pass none for zeros)",
               initial_states.size(), config.cell, S);
  for (size_t s = 0; s < initial_states.size(); ++s)
    UNROLL_CHECK(initial_states[s].shape() == state_shape, ShapeError,
                 "Recurrent: initial state {} has shape {}, expected {} ([layers*directions, batch, hidden])", s,
                 initial_states[s].shape().str(), state_shape.str());
  UNROLL_CHECK(lengths.empty() || static_cast<int64_t>(lengths.size()) == B, ShapeError,
               "Recurrent: got {} lengths for a batch of {} (hint: one length per sequence, or none)", lengths.size(), B);
  bool masked = false;
  for (size_t b = 0; b < lengths.size(); ++b) {
    UNROLL_CHECK(lengths[b] >= 1 && lengths[b] <= T, ShapeError,
                 "Recurrent: length {} of sequence {} is outside [1, {}] (T = input.shape[0])", lengths[b], b, T);
    masked = masked || lengths[b] < T;
  }
  return masked;
}

// Note [Variable lengths]: the masks of every step, as constants on `tape`.
LengthMasks length_masks(Tape& tape, const std::vector<int64_t>& lengths, int64_t T, int64_t B, DType dtype) {
  LengthMasks masks;
  masks.lengths = lengths;
  Tensor all = Tensor::empty(Shape{T, B, 1}, dtype);
  for (int64_t t = 0; t < T; ++t) {
    Tensor m = Tensor::empty(Shape{B, 1}, dtype), n = Tensor::empty(Shape{B, 1}, dtype);
    for (int64_t b = 0; b < B; ++b) {
      m.set(b, t < lengths[static_cast<size_t>(b)] ? 1.0 : 0.0);
      n.set(b, 1.0 - m.at(b));
      all.set(t * B + b, m.at(b));
    }
    masks.keep.push_back(tape.constant(m));
    masks.hold.push_back(tape.constant(n));
  }
  masks.keep_steps = tape.constant(all);
  return masks;
}

// A layer's output [T, B, D*H] from its directions; `steps` gets its T rows [B, D*H] (for the last layer).
Var join_directions(std::vector<DirectionOutput>& dirs, int64_t T, int64_t B, int64_t H, bool last,
                    std::vector<Var>& steps) {
  const int64_t D = static_cast<int64_t>(dirs.size());
  const bool all_sequences =
      std::all_of(dirs.begin(), dirs.end(), [](const DirectionOutput& o) { return o.sequence.defined(); });
  if (all_sequences) {
    const Var layer_out = D == 1 ? dirs[0].sequence : concat({dirs[0].sequence, dirs[1].sequence}, 2);
    if (last)
      for (int64_t t = 0; t < T; ++t) steps.push_back(select(layer_out, t));  // [B, D*H]
    return layer_out;
  }
  for (DirectionOutput& o : dirs)  // a whole sequence beside a per-step direction: cut it into steps
    if (o.sequence.defined())
      for (int64_t t = 0; t < T; ++t) o.steps.push_back(select(o.sequence, t));
  std::vector<Var> rows;
  for (int64_t t = 0; t < T; ++t) {
    const auto i = static_cast<size_t>(t);
    const Var step = D == 1 ? dirs[0].steps[i] : concat({dirs[0].steps[i], dirs[1].steps[i]}, 1);  // [B, D*H]
    steps.push_back(step);
    rows.push_back(reshape(step, Shape{1, B, D * H}));
  }
  return T == 1 ? rows[0] : concat(rows, 0);
}

}  // namespace

void Recurrent::set_engine(RnnEngine engine) { engine_ = engine; }

void Recurrent::set_recompute(int64_t k) {
  UNROLL_CHECK(k >= 0 || k == kRecomputeSqrt, UsageError,
               "Recurrent: recompute segment length must be >= 0 (0 = off) or kRecomputeSqrt, got {}", k);
  recompute_ = k;
}

Recurrent::Recurrent(const RecurrentConfig& config, Rng& rng, const CellRegistry& registry) : config_(config) {
  config_.validate();
  const int D = config_.directions();
  CellRegistry from_equations;  // Note [Equation cell]: the config's own text, not the registry
  if (!config_.cell_equations.empty())
    from_equations.register_equations(config_.cell, config_.cell_equations, "cell " + config_.cell);
  const CellRegistry& cells = config_.cell_equations.empty() ? registry : from_equations;
  for (int l = 0; l < config_.layers; ++l)
    for (int d = 0; d < D; ++d) {
      const int in = l == 0 ? config_.input_size : config_.output_size();
      std::unique_ptr<Cell> cell = cells.create(config_.cell, in, config_.hidden_size, rng, config_.cell_options);
      UNROLL_CHECK(cell->input_size() == in && cell->hidden_size() == config_.hidden_size, UsageError,
                   "Recurrent: cell '{}' was asked for input {} and hidden {} but has {} and {}", config_.cell, in,
                   config_.hidden_size, cell->input_size(), cell->hidden_size());
      cells_.push_back(cell.get());
      register_module(fmt::format("l{}{}", l, d == 1 ? "_reverse" : ""), std::move(cell));
    }
}

RecurrentOutput Recurrent::forward(Tape& tape, Var x, const std::vector<Var>& initial_states,
                                   const std::vector<int64_t>& lengths, Rng* rng) {
  const int L = config_.layers, D = config_.directions(), S = state_count();
  const DType dtype = cells_.front()->w_ih().value.dtype();
  const bool masked = check_forward(config_, dtype, S, tape, x, initial_states, lengths);
  const int64_t T = x.shape()[0], B = x.shape()[1];
  const LengthMasks masks = masked ? length_masks(tape, lengths, T, B, dtype) : LengthMasks{};
  // Note [Recompute segments]: only when something will be differentiated.
  const int64_t segment = !tape.grad_enabled() ? 0
                          : recompute_ == kRecomputeSqrt
                              ? static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(T))))
                              : recompute_;

  RecurrentOutput result;
  std::vector<std::vector<Var>> finals(static_cast<size_t>(S));  // per kind: L*D pieces [1, B, H]
  Var layer_in = x;                                              // [T, B, in_l]
  for (int l = 0; l < L; ++l) {
    std::vector<DirectionOutput> dirs;
    for (int d = 0; d < D; ++d) {
      Cell& cell = *cells_[static_cast<size_t>(l * D + d)];
      const ScopeGuard scope(tape, fmt::format("l{}{}", l, d == 1 ? "_reverse" : ""));
      std::vector<Var> state;
      if (initial_states.empty()) {
        state = cell.initial_state(tape, B, dtype);
      } else {
        for (int s = 0; s < S; ++s) state.push_back(select(initial_states[static_cast<size_t>(s)], l * D + d));
      }
      dirs.push_back(run_direction(DirectionInput{tape, cell, layer_in, std::move(state), d == 1, masks, segment}));
      for (int s = 0; s < S; ++s) finals[s].push_back(dirs.back().finals[static_cast<size_t>(s)]);
    }
    std::vector<Var> steps;
    Var layer_out = join_directions(dirs, T, B, config_.hidden_size, l + 1 == L, steps);  // [T, B, D*H]
    if (l + 1 < L && config_.dropout > 0 && training()) {
      UNROLL_CHECK(rng != nullptr, UsageError,
                   "Recurrent: dropout {} between layers needs an Rng in training mode (hint: pass &rng, or eval())",
                   config_.dropout);
      layer_out = dropout(layer_out, config_.dropout, *rng, true);
    }
    if (l + 1 == L) {
      result.output = layer_out;
      result.steps = std::move(steps);
    }
    layer_in = layer_out;
  }
  for (int s = 0; s < S; ++s)
    result.final_states.push_back(finals[s].size() == 1 ? finals[s][0] : concat(finals[s], 0));
  return result;
}

// One layer and direction, by the strategy choose_strategy picks.
DirectionOutput Recurrent::run_direction(const DirectionInput& in) {
  const Strategy strategy = strategies::choose_strategy({.cell = in.cell, .dtype = in.x.dtype(),
                                                         .batch = in.x.shape()[1], .segment = in.segment,
                                                         .fused = config_.fused, .split = batch_split_,
                                                         .masked = in.masks.any()});
  switch (strategy) {
    case Strategy::fused_sequence: return strategies::run_fused_sequence(in, *in.cell.fused_kind(), engine_);
    case Strategy::program_sequence: return strategies::run_program_sequence(in);
    case Strategy::batch_split: return strategies::run_batch_split(in, split_pool_);
    case Strategy::recomputed_segments: return strategies::run_recomputed_segments(in);
    case Strategy::graph_steps: break;
  }
  return strategies::run_graph_steps(in);
}

}  // namespace unroll
