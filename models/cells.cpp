// SPDX-License-Identifier: Apache-2.0
// What lives here: the built-in cells' step() functions (formulas in cells.h). Gate blocks are cut from
// the [B, G*H] pre-activations with chunk(); everything is an ordinary recorded op.
#include "models/cells.h"

#include "models/init.h"
#include "ops/ops.h"

namespace unroll {

// ---- ElmanCell: h' = act(px + W_hh h + b_hh) ----

ElmanCell::ElmanCell(int input_size, int hidden_size, Rng& rng, const nlohmann::json& options)
    : Cell(input_size, hidden_size, 1, rng, options) {
  const std::string act = options.is_object() ? options.value("nonlinearity", std::string("tanh")) : "tanh";
  UNROLL_CHECK(act == "tanh" || act == "relu", UsageError,
               "cell rnn: unknown nonlinearity '{}' (hint: tanh or relu)", act);
  relu_ = act == "relu";
  check_options(options, {"nonlinearity"});
}

std::vector<Var> ElmanCell::step(Var px, const std::vector<Var>& state, SequenceContext& seq) {
  check_step(px, state);
  const Var pre = px + project_hidden(state[0], seq);  // [B, H]
  return {relu_ ? relu(pre) : tanh(pre)};
}

// ---- LstmCell ----

LstmCell::LstmCell(int input_size, int hidden_size, Rng& rng, const nlohmann::json& options)
    : Cell(input_size, hidden_size, 4, rng, options) {
  peephole_ = options.is_object() && options.value("peephole", false);
  check_options(options, {"peephole", "forget_bias"});
  if (options.is_object() && options.contains("forget_bias")) {
    UNROLL_CHECK(options["forget_bias"].is_number(), UsageError, "cell {}: forget_bias must be a number, got {}",
                 kind(), options["forget_bias"].dump());
    // The f block of b_ih takes the value and that of b_hh is zeroed, so the gate's total bias is the value.
    init::lstm_forget_bias(b_ih().value, hidden_size, options["forget_bias"].get<double>());
    init::lstm_forget_bias(b_hh().value, hidden_size, 0.0);
  }
  if (peephole_) {
    const auto peep = [&](const char* name) {
      Tensor w = Tensor::empty(Shape{hidden_size}, DType::f32);
      init::uniform_recurrent(w, hidden_size, rng);
      return &register_parameter(name, w);
    };
    w_ci_ = peep("w_ci");
    w_cf_ = peep("w_cf");
    w_co_ = peep("w_co");
  }
}

std::vector<Var> LstmCell::step(Var px, const std::vector<Var>& state, SequenceContext& seq) {
  check_step(px, state);
  const Var c = state[1];                                // [B, H]
  const Var gates = px + project_hidden(state[0], seq);  // [B, 4H]: i, f, g, o
  if (!peephole_) {
    // c' = s(f) c + s(i) tanh(g), h' = s(o) tanh(c') as two fused ops (ops/recurrent_gates.cpp, tested
    // equal to the composed formulas that the peephole path below spells out).
    const Var c_new = lstm_cell_state(gates, c);
    return {lstm_hidden(gates, c_new), c_new};
  }
  const std::vector<Var> g = chunk(gates, 1, 4);  // [B, H] each
  Tape& tape = px.tape();
  const Var i = g[0] + c * tape.param(*w_ci_);  // [B, H] * [H]
  const Var f = g[1] + c * tape.param(*w_cf_);
  const Var c_new = sigmoid(f) * c + sigmoid(i) * tanh(g[2]);
  const Var o = g[3] + c_new * tape.param(*w_co_);
  const Var h_new = sigmoid(o) * tanh(c_new);
  return {h_new, c_new};
}

// ---- GruCell ----

namespace {

// Note [Cho weights cut once per sequence]: the Cho form multiplies by w_hh's r,z rows [2H, H] and its n
// rows [H, H] separately. Slicing them at every time step copied all of w_hh and b_hh per step and gave
// each copy its own gradient buffer. Instead begin_sequence() records the four slices once, into the
// sequence's context (Note [Sequence context] in cell.h), and every step of the sequence uses them -- a
// recompute segment's replay too, as it gets the same context. Their gradients add up across steps and
// reach w_hh and b_hh in one slice backward; being recorded before the context packs its weights, they
// are packed for the steps' products (Note [Packed weights] in ops/weight_packs.h). A step that records
// gradients while the context's slices carry none (cut under a NoGradGuard), or whose context holds no
// cut, slices anew: slower, equally correct.
struct ChoWeights {
  Var w_rz, b_rz;  // [2H, H], [2H]
  Var w_n, b_n;    // [H, H], [H]
};

ChoWeights cut_cho_weights(Tape& tape, Parameter& w_hh_param, Parameter& b_hh_param, int64_t H) {
  const Var w_hh = tape.param(w_hh_param), b_hh = tape.param(b_hh_param);
  return {slice(w_hh, 0, 0, 2 * H), slice(b_hh, 0, 0, 2 * H), slice(w_hh, 0, 2 * H, H), slice(b_hh, 0, 2 * H, H)};
}

}  // namespace

GruCell::GruCell(int input_size, int hidden_size, Rng& rng, const nlohmann::json& options)
    : Cell(input_size, hidden_size, 3, rng, options) {
  const std::string form = options.is_object() ? options.value("form", std::string("cho")) : "cho";
  UNROLL_CHECK(form == "cho" || form == "linear_before_reset", UsageError,
               "cell gru: unknown form '{}' (hint: cho or linear_before_reset)", form);
  form_ = form == "cho" ? Form::cho : Form::linear_before_reset;
  check_options(options, {"form"});
}

void GruCell::begin_sequence(SequenceContext& seq) {
  if (form_ != Form::cho) return;
  const ChoWeights cut = cut_cho_weights(seq.tape(), w_hh(), b_hh(), hidden_size());
  seq.nodes = {cut.w_rz, cut.b_rz, cut.w_n, cut.b_n};
}

std::vector<Var> GruCell::step(Var px, const std::vector<Var>& state, SequenceContext& seq) {
  check_step(px, state);
  const Var h = state[0];  // [B, H]
  if (form_ == Form::linear_before_reset) {
    // r = s(x_r + h_r), z = s(x_z + h_z), n = tanh(x_n + r * h_n), h' = (1 - z) n + z h, as one fused op
    // (ops/recurrent_gates.cpp; tested equal to the composed formulas) over W_h{r,z,n} h + b_h{r,z,n}.
    return {gru_lbr_update(px, project_hidden(h, seq), h)};
  }
  const std::vector<Var> x = chunk(px, 1, 3);  // W_i{r,z,n} x + b_i{r,z,n}
  // Cho form: r and z from the first 2H rows of w_hh; the candidate sees W_hn (r * h) + b_hn.
  Tape& tape = px.tape();
  const bool cut = seq.nodes.size() == 4 && (!tape.grad_enabled() || seq.nodes[0].requires_grad());
  const ChoWeights w = cut ? ChoWeights{seq.nodes[0], seq.nodes[1], seq.nodes[2], seq.nodes[3]}
                           : cut_cho_weights(tape, this->w_hh(), this->b_hh(), hidden_size());
  const std::vector<Var> rz = chunk(linear_packed(h, seq.packs(), w.w_rz, w.b_rz), 1, 2);
  const Var r = sigmoid(x[0] + rz[0]);
  const Var z = sigmoid(x[1] + rz[1]);
  const Var n = tanh(x[2] + linear_packed(r * h, seq.packs(), w.w_n, w.b_n));
  return {h + z * (n - h)};  // (1 - z) h + z n
}

}  // namespace unroll
