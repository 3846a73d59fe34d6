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

std::vector<Var> ElmanCell::step(Var px, const std::vector<Var>& state) {
  check_step(px, state);
  const Var pre = px + project_hidden(state[0]);  // [B, H]
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

std::vector<Var> LstmCell::step(Var px, const std::vector<Var>& state) {
  check_step(px, state);
  const Var c = state[1];                               // [B, H]
  const Var gates = px + project_hidden(state[0]);     // [B, 4H]: i, f, g, o
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

GruCell::GruCell(int input_size, int hidden_size, Rng& rng, const nlohmann::json& options)
    : Cell(input_size, hidden_size, 3, rng, options) {
  const std::string form = options.is_object() ? options.value("form", std::string("cho")) : "cho";
  UNROLL_CHECK(form == "cho" || form == "linear_before_reset", UsageError,
               "cell gru: unknown form '{}' (hint: cho or linear_before_reset)", form);
  form_ = form == "cho" ? Form::cho : Form::linear_before_reset;
  check_options(options, {"form"});
}

std::vector<Var> GruCell::step(Var px, const std::vector<Var>& state) {
  check_step(px, state);
  const Var h = state[0];  // [B, H]
  if (form_ == Form::linear_before_reset) {
    // r = s(x_r + h_r), z = s(x_z + h_z), n = tanh(x_n + r * h_n), h' = (1 - z) n + z h, as one fused op
    // (ops/recurrent_gates.cpp; tested equal to the composed formulas) over W_h{r,z,n} h + b_h{r,z,n}.
    return {gru_lbr_update(px, project_hidden(h), h)};
  }
  const std::vector<Var> x = chunk(px, 1, 3);  // W_i{r,z,n} x + b_i{r,z,n}
  // Cho form: r and z from the first 2H rows of w_hh; the candidate sees W_hn (r * h) + b_hn.
  Tape& tape = px.tape();
  const int64_t H = hidden_size();
  const Var w_hh = tape.param(this->w_hh()), b_hh = tape.param(this->b_hh());
  const std::vector<Var> rz = chunk(linear(h, slice(w_hh, 0, 0, 2 * H), slice(b_hh, 0, 0, 2 * H)), 1, 2);
  const Var r = sigmoid(x[0] + rz[0]);
  const Var z = sigmoid(x[1] + rz[1]);
  const Var n = tanh(x[2] + linear(r * h, slice(w_hh, 0, 2 * H, H), slice(b_hh, 0, 2 * H, H)));
  return {h + z * (n - h)};  // (1 - z) h + z n
}

}  // namespace unroll
