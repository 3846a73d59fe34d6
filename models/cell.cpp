// SPDX-License-Identifier: Apache-2.0
// What lives here: the Cell base (parameters, initialisation, checks, input projection) and the registry.
#include "models/cell.h"

#include <algorithm>

#include <fmt/ranges.h>

#include "models/cells.h"
#include "models/init.h"
#include "ops/ops.h"
#include "ops/weight_packs.h"

namespace unroll {

// ---- SequenceContext (Note [Sequence context]) ----

SequenceContext::SequenceContext(Tape& tape) : tape_(&tape) {}
SequenceContext::~SequenceContext() = default;

void SequenceContext::pack_weights() { packs_ = std::make_unique<WeightPacks>(*tape_); }

// ---- Cell ----

Cell::Cell(int input_size, int hidden_size, int gates, Rng& rng, const nlohmann::json& options)
    : input_(input_size), hidden_(hidden_size), gates_(gates) {
  UNROLL_CHECK(input_size > 0 && hidden_size > 0 && gates > 0, UsageError,
               "cell: sizes must be positive, got input_size {}, hidden_size {}, {} gates", input_size, hidden_size,
               gates);
  UNROLL_CHECK(options.is_object() || options.is_null(), UsageError,
               "cell: options must be a JSON object, got {} (hint: pass {{}} for defaults)", options.dump());
  const std::string scheme = options.is_object() ? options.value("init", std::string("uniform")) : "uniform";
  const int64_t rows = int64_t{gates} * hidden_size;
  Tensor w_ih = Tensor::empty(Shape{rows, input_size}, DType::f32);
  Tensor w_hh = Tensor::empty(Shape{rows, hidden_size}, DType::f32);
  Tensor b_ih = Tensor::zeros(Shape{rows}, DType::f32);
  Tensor b_hh = Tensor::zeros(Shape{rows}, DType::f32);
  if (scheme == "uniform") {  // PyTorch's order: w_ih, w_hh, b_ih, b_hh
    init::uniform_recurrent(w_ih, hidden_size, rng);
    init::uniform_recurrent(w_hh, hidden_size, rng);
    init::uniform_recurrent(b_ih, hidden_size, rng);
    init::uniform_recurrent(b_hh, hidden_size, rng);
  } else if (scheme == "xavier") {
    init::xavier_uniform(w_ih, rng);
    init::xavier_uniform(w_hh, rng);
  } else if (scheme == "orthogonal") {
    init::xavier_uniform(w_ih, rng);
    init::orthogonal(w_hh, rng, 1.0, gates);
  } else {
    UNROLL_CHECK(false, UsageError, "cell: unknown init scheme '{}' (hint: uniform, xavier or orthogonal)", scheme);
  }
  w_ih_ = &register_parameter("w_ih", w_ih);
  w_hh_ = &register_parameter("w_hh", w_hh);
  b_ih_ = &register_parameter("b_ih", b_ih);
  b_hh_ = &register_parameter("b_hh", b_hh);
}

void Cell::check_options(const nlohmann::json& options, const std::vector<std::string>& allowed) const {
  if (!options.is_object()) return;
  for (const auto& [key, value] : options.items())
    UNROLL_CHECK(key == "init" || std::find(allowed.begin(), allowed.end(), key) != allowed.end(), UsageError,
                 "cell {}: unknown option '{}' (hint: known options are init{}{})", kind(), key,
                 allowed.empty() ? "" : ", ", fmt::join(allowed, ", "));
}

std::vector<Var> Cell::initial_state(Tape& tape, int64_t batch, DType dtype) const {
  std::vector<Var> state;
  for (int s = 0; s < state_count(); ++s) state.push_back(tape.constant(Tensor::zeros(Shape{batch, hidden_}, dtype)));
  return state;
}

Var Cell::project_inputs(Var x_seq) {
  UNROLL_CHECK(x_seq.shape().rank() == 2 && x_seq.shape()[1] == input_, ShapeError,
               "cell {}: project_inputs expects [T*B, {}], got {} (w_ih is {})", kind(), input_, x_seq.shape().str(),
               w_ih_->value.shape().str());
  Tape& tape = x_seq.tape();
  return linear(x_seq, tape.param(*w_ih_), tape.param(*b_ih_));
}

Var Cell::project_hidden(Var h) {
  Tape& tape = h.tape();
  return linear(h, tape.param(*w_hh_), tape.param(*b_hh_));
}

Var Cell::project_hidden(Var h, const SequenceContext& seq) {
  Tape& tape = h.tape();
  return linear_packed(h, seq.packs(), tape.param(*w_hh_), tape.param(*b_hh_));
}

std::shared_ptr<SequenceContext> Cell::open_sequence(Tape& tape, bool pack_weights) {
  auto seq = std::make_shared<SequenceContext>(tape);
  begin_sequence(*seq);
  if (pack_weights) seq->pack_weights();  // after begin_sequence: its nodes are shared by every step
  return seq;
}

std::vector<Var> Cell::step(Var projected_x_t, const std::vector<Var>& state) {
  const std::shared_ptr<SequenceContext> seq = open_sequence(projected_x_t.tape(), false);
  return step(projected_x_t, state, *seq);
}

void Cell::check_step(const Var& projected_x_t, const std::vector<Var>& state) const {
  UNROLL_CHECK(static_cast<int>(state.size()) == state_count(), UsageError,
               "cell {}: step got {} state tensors, expected {} (hint: start from initial_state())", kind(),
               state.size(), state_count());
  const Shape& px = projected_x_t.shape();
  UNROLL_CHECK(px.rank() == 2 && px[1] == int64_t{gates_} * hidden_, ShapeError,
               "cell {}: step expects a projected input [B, {}] (G*H = {}*{}), got {} (hint: pass rows of "
               "project_inputs(), not the raw input)",
               kind(), int64_t{gates_} * hidden_, gates_, hidden_, px.str());
  for (size_t s = 0; s < state.size(); ++s)
    UNROLL_CHECK(state[s].shape() == (Shape{px[0], hidden_}), ShapeError,
                 "cell {}: state {} has shape {}, expected [{}, {}] (batch of the input, hidden size)", kind(), s,
                 state[s].shape().str(), px[0], hidden_);
}

// ---- CellRegistry ----

void CellRegistry::register_cell(const std::string& name, CellFactory factory) {
  UNROLL_CHECK(!name.empty() && factory, UsageError, "CellRegistry: a cell needs a non-empty name and a factory");
  UNROLL_CHECK(!contains(name), UsageError,
               "CellRegistry: cell '{}' is already registered (hint: choose another name)", name);
  factories_.emplace(name, std::move(factory));
}

std::vector<std::string> CellRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, f] : factories_) out.push_back(name);
  return out;
}

std::unique_ptr<Cell> CellRegistry::create(const std::string& name, int input_size, int hidden_size, Rng& rng,
                                           const nlohmann::json& options) const {
  const auto it = factories_.find(name);
  UNROLL_CHECK(it != factories_.end(), UsageError, "CellRegistry: unknown cell '{}' (hint: known cells are {})", name,
               fmt::join(names(), ", "));
  std::unique_ptr<Cell> cell = it->second(input_size, hidden_size, rng, options);
  UNROLL_CHECK(cell != nullptr, UsageError, "CellRegistry: the factory of cell '{}' returned no cell", name);
  return cell;
}

namespace {
// options with key set to value; a conflicting value the caller gave is an error naming the cell.
nlohmann::json with_fixed(const std::string& cell, nlohmann::json options, const std::string& key,
                          const nlohmann::json& value) {
  if (options.is_null()) options = nlohmann::json::object();
  UNROLL_CHECK(options.is_object(), UsageError, "cell {}: options must be a JSON object, got {}", cell, options.dump());
  if (options.contains(key))
    UNROLL_CHECK(options[key] == value, UsageError, "cell {}: option {} = {} contradicts the cell name (it implies {})",
                 cell, key, options[key].dump(), value.dump());
  options[key] = value;
  return options;
}

template <class C>
CellFactory fixed(const std::string& cell, const std::string& key, nlohmann::json value) {
  return [cell, key, value](int in, int hidden, Rng& rng, const nlohmann::json& options) -> std::unique_ptr<Cell> {
    return std::make_unique<C>(in, hidden, rng, with_fixed(cell, options, key, value));
  };
}
}  // namespace

const CellRegistry& builtin_cells() {
  static const CellRegistry registry = [] {
    CellRegistry r;
    r.register_cell("rnn_tanh", fixed<ElmanCell>("rnn_tanh", "nonlinearity", "tanh"));
    r.register_cell("rnn_relu", fixed<ElmanCell>("rnn_relu", "nonlinearity", "relu"));
    r.register_cell("lstm", fixed<LstmCell>("lstm", "peephole", false));
    r.register_cell("lstm_peephole", fixed<LstmCell>("lstm_peephole", "peephole", true));
    r.register_cell("gru", fixed<GruCell>("gru", "form", "cho"));
    r.register_cell("gru_lbr", fixed<GruCell>("gru_lbr", "form", "linear_before_reset"));
    return r;
  }();
  return registry;
}

}  // namespace unroll
