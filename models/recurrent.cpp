// What lives here: the sequence driver (see Note [Recurrent layout] and Note [Variable lengths] in
// recurrent.h), its config's JSON form, and truncated BPTT.
#include "models/recurrent.h"

#include <algorithm>

#include "ops/ops.h"

namespace unroll {

// ---- RecurrentConfig ----

void RecurrentConfig::validate() const {
  UNROLL_CHECK(!cell.empty(), UsageError, "RecurrentConfig: cell is empty (hint: e.g. \"lstm\")");
  UNROLL_CHECK(input_size > 0, UsageError, "RecurrentConfig: input_size must be positive, got {}", input_size);
  UNROLL_CHECK(hidden_size > 0, UsageError, "RecurrentConfig: hidden_size must be positive, got {}", hidden_size);
  UNROLL_CHECK(layers > 0, UsageError, "RecurrentConfig: layers must be positive, got {}", layers);
  UNROLL_CHECK(dropout >= 0 && dropout < 1, UsageError, "RecurrentConfig: dropout {} is outside [0, 1)", dropout);
  UNROLL_CHECK(cell_options.is_object(), UsageError, "RecurrentConfig: cell_options must be a JSON object, got {}",
               cell_options.dump());
}

void to_json(nlohmann::json& j, const RecurrentConfig& c) {
  j = nlohmann::json{{"cell", c.cell},           {"input_size", c.input_size},
                     {"hidden_size", c.hidden_size}, {"layers", c.layers},
                     {"bidirectional", c.bidirectional}, {"dropout", c.dropout},
                     {"cell_options", c.cell_options}};
  if (!c.fused) j["fused"] = false;  // the default is omitted: configs written before the key stay identical
}

void from_json(const nlohmann::json& j, RecurrentConfig& c) {
  UNROLL_CHECK(j.is_object(), DataError, "RecurrentConfig: expected a JSON object, got {}", j.dump());
  static const char* const kKeys[] = {"cell", "input_size", "hidden_size", "layers", "bidirectional", "dropout",
                                      "cell_options", "fused"};
  for (const auto& [key, value] : j.items())
    UNROLL_CHECK(std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys), DataError,
                 "RecurrentConfig: unknown key '{}' (hint: known keys are cell, input_size, hidden_size, layers, "
                 "bidirectional, dropout, cell_options, fused)",
                 key);
  const RecurrentConfig defaults;
  try {
    c.cell = j.value("cell", defaults.cell);
    c.input_size = j.value("input_size", defaults.input_size);
    c.hidden_size = j.value("hidden_size", defaults.hidden_size);
    c.layers = j.value("layers", defaults.layers);
    c.bidirectional = j.value("bidirectional", defaults.bidirectional);
    c.dropout = j.value("dropout", defaults.dropout);
    c.cell_options = j.value("cell_options", defaults.cell_options);
    c.fused = j.value("fused", defaults.fused);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(fmt::format("RecurrentConfig: a field has the wrong type in {} ({})", j.dump(), e.what()));
  }
}

// ---- Recurrent ----

Recurrent::Recurrent(const RecurrentConfig& config, Rng& rng, const CellRegistry& registry) : config_(config) {
  config_.validate();
  const int D = config_.directions();
  for (int l = 0; l < config_.layers; ++l)
    for (int d = 0; d < D; ++d) {
      const int in = l == 0 ? config_.input_size : config_.output_size();
      std::unique_ptr<Cell> cell = registry.create(config_.cell, in, config_.hidden_size, rng, config_.cell_options);
      UNROLL_CHECK(cell->input_size() == in && cell->hidden_size() == config_.hidden_size, UsageError,
                   "Recurrent: cell '{}' was asked for input {} and hidden {} but has {} and {}", config_.cell, in,
                   config_.hidden_size, cell->input_size(), cell->hidden_size());
      cells_.push_back(cell.get());
      register_module(fmt::format("l{}{}", l, d == 1 ? "_reverse" : ""), std::move(cell));
    }
}

RecurrentOutput Recurrent::forward(Tape& tape, Var x, const std::vector<Var>& initial_states,
                                   const std::vector<int64_t>& lengths, Rng* rng) {
  const int L = config_.layers, D = config_.directions(), H = config_.hidden_size, S = state_count();
  UNROLL_CHECK(&x.tape() == &tape, UsageError, "Recurrent: x was recorded on another tape (or an old epoch)");
  UNROLL_CHECK(x.shape().rank() == 3 && x.shape()[2] == config_.input_size && x.shape()[0] > 0, ShapeError,
               "Recurrent: input must be [T, B, {}] (time-major, T >= 1), got {} (hint: batch-first data needs a "
               "transpose to [T, B, I])",
               config_.input_size, x.shape().str());
  const DType dtype = cells_.front()->w_ih().value.dtype();
  UNROLL_CHECK(x.dtype() == dtype, DTypeError,
               "Recurrent: input is {} but the parameters are {} (hint: convert the model with to(DType) or the "
               "input with Tensor::to)",
               dtype_name(x.dtype()), dtype_name(dtype));
  const int64_t T = x.shape()[0], B = x.shape()[1];
  const Shape state_shape{int64_t{L} * D, B, H};
  UNROLL_CHECK(initial_states.empty() || static_cast<int>(initial_states.size()) == S, UsageError,
               "Recurrent: got {} initial state tensors, cell '{}' has {} state kinds (hint: pass none for zeros)",
               initial_states.size(), config_.cell, S);
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

  // Note [Variable lengths]: keep[t] = 1 where t < length, and its complement, as constants [B, 1].
  std::vector<Var> keep, hold;
  if (masked)
    for (int64_t t = 0; t < T; ++t) {
      Tensor m = Tensor::empty(Shape{B, 1}, dtype), n = Tensor::empty(Shape{B, 1}, dtype);
      for (int64_t b = 0; b < B; ++b) {
        m.set(b, t < lengths[static_cast<size_t>(b)] ? 1.0 : 0.0);
        n.set(b, 1.0 - m.at(b));
      }
      keep.push_back(tape.constant(m));
      hold.push_back(tape.constant(n));
    }

  RecurrentOutput result;
  std::vector<std::vector<Var>> finals(static_cast<size_t>(S));  // per kind: L*D pieces [1, B, H]
  Var layer_in = x;                                              // [T, B, in_l]
  for (int l = 0; l < L; ++l) {
    // Per direction either the fused op's h sequence seq[d] [T, B, H], or the graph path's steps outs[d][t].
    std::vector<Var> seq(static_cast<size_t>(D));
    std::vector<std::vector<Var>> outs(static_cast<size_t>(D), std::vector<Var>(static_cast<size_t>(T)));  // [B, H]
    for (int d = 0; d < D; ++d) {
      Cell& cell = *cells_[static_cast<size_t>(l * D + d)];
      const ScopeGuard scope(tape, fmt::format("l{}{}", l, d == 1 ? "_reverse" : ""));
      std::vector<Var> state;
      if (initial_states.empty()) {
        state = cell.initial_state(tape, B, dtype);
      } else {
        for (int s = 0; s < S; ++s)
          state.push_back(reshape(slice(initial_states[static_cast<size_t>(s)], 0, l * D + d, 1), Shape{B, H}));
      }
      const std::optional<RnnKind> fused = cell.fused_kind();
      if (config_.fused && fused && dtype == DType::f32 && !masked) {
        // Note [Fused fast path]: one op for the whole sequence; h_T is y's last processed row.
        const Var c0 = S == 2 ? state[1] : Var();
        const Var packed = rnn_sequence(*fused, layer_in, state[0], c0, tape.param(cell.w_ih()), tape.param(cell.w_hh()),
                                        tape.param(cell.b_ih()), tape.param(cell.b_hh()), d == 1);
        seq[d] = S == 2 ? slice(packed, 0, 0, T) : packed;  // [T, B, H]
        finals[0].push_back(slice(seq[d], 0, d == 0 ? T - 1 : 0, 1));
        if (S == 2) finals[1].push_back(slice(packed, 0, T, 1));
        continue;
      }
      const int64_t in = layer_in.shape()[2];
      const Var px = cell.project_inputs(reshape(layer_in, Shape{T * B, in}));  // [T*B, G*H]
      for (int64_t k = 0; k < T; ++k) {
        const int64_t t = d == 0 ? k : T - 1 - k;
        std::vector<Var> next = cell.step(slice(px, 0, t * B, B), state);
        if (masked) {  // exact for 0/1 masks: next*1 + old*0 == next
          const Var m = keep[static_cast<size_t>(t)], n = hold[static_cast<size_t>(t)];
          for (int s = 0; s < S; ++s) state[s] = next[s] * m + state[s] * n;
          outs[d][t] = state[0] * m;
        } else {
          state = std::move(next);
          outs[d][t] = state[0];
        }
      }
      for (int s = 0; s < S; ++s) finals[s].push_back(reshape(state[s], Shape{1, B, H}));
    }
    const bool all_fused = std::all_of(seq.begin(), seq.end(), [](const Var& v) { return v.defined(); });
    Var layer_out;  // [T, B, D*H]
    std::vector<Var> steps;
    if (all_fused) {
      layer_out = D == 1 ? seq[0] : concat(seq, 2);
      if (l + 1 == L)
        for (int64_t t = 0; t < T; ++t) steps.push_back(reshape(slice(layer_out, 0, t, 1), Shape{B, int64_t{D} * H}));
    } else {
      for (int d = 0; d < D; ++d)  // a fused direction beside a graph one: cut its sequence into steps
        if (seq[d].defined())
          for (int64_t t = 0; t < T; ++t) outs[d][t] = reshape(slice(seq[d], 0, t, 1), Shape{B, H});
      std::vector<Var> rows;
      for (int64_t t = 0; t < T; ++t) {
        const Var step = D == 1 ? outs[0][t] : concat({outs[0][t], outs[1][t]}, 1);  // [B, D*H]
        steps.push_back(step);
        rows.push_back(reshape(step, Shape{1, B, int64_t{D} * H}));
      }
      layer_out = T == 1 ? rows[0] : concat(rows, 0);
    }
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

// ---- TruncatedBptt ----

TruncatedBptt::TruncatedBptt(Recurrent& model, int k) : model_(model), k_(k) {
  UNROLL_CHECK(k > 0, UsageError, "TruncatedBptt: k must be positive, got {}", k);
  UNROLL_CHECK(!model.config().bidirectional, UsageError,
               "TruncatedBptt: the model is bidirectional (hint: truncated BPTT carries state forward in time, "
               "which a reverse direction cannot)");
}

RecurrentOutput TruncatedBptt::forward(Tape& tape, Var x, Rng* rng) {
  UNROLL_CHECK(x.shape().rank() == 3, ShapeError, "TruncatedBptt: input must be [T, B, I], got {}", x.shape().str());
  const int64_t T = x.shape()[0], B = x.shape()[1];
  std::vector<Var> init;
  if (!state_.empty()) {
    UNROLL_CHECK(state_[0].shape()[1] == B, ShapeError,
                 "TruncatedBptt: batch {} differs from the carried state's batch {} (state shape {}; hint: call "
                 "reset() when the batch changes)",
                 B, state_[0].shape()[1], state_[0].shape().str());
    for (const Tensor& s : state_) init.push_back(tape.constant(s));
  }
  RecurrentOutput result, chunk_result;
  std::vector<Var> pieces;
  for (int64_t start = 0; start < T; start += k_) {
    const int64_t len = std::min<int64_t>(k_, T - start);
    chunk_result = model_.forward(tape, len == T ? x : slice(x, 0, start, len), init, {}, rng);
    pieces.push_back(chunk_result.output);
    result.steps.insert(result.steps.end(), chunk_result.steps.begin(), chunk_result.steps.end());
    init.clear();
    for (const Var& s : chunk_result.final_states) init.push_back(detach(s));  // the cut
  }
  result.output = pieces.size() == 1 ? pieces[0] : concat(pieces, 0);
  result.final_states = chunk_result.final_states;
  state_.clear();
  for (const Var& s : chunk_result.final_states) state_.push_back(s.value().clone());  // survives tape.reset()
  return result;
}

}  // namespace unroll
