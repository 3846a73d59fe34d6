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

namespace {

// Note [Cho weights cut once per tape]: the Cho form multiplies by w_hh's r,z rows [2H, H] and its n rows
// [H, H] separately. Slicing them at every time step copied all of w_hh and b_hh per step and gave each
// copy its own gradient buffer. Instead the four slices are recorded once per tape epoch, directly after
// the parameter nodes of w_hh and b_hh (the first step of the epoch records all six nodes in a row), and
// every later step finds them there by position, each checked (op, input, start, length, and the
// requires_grad a fresh slice would get now, e.g. not one recorded under a NoGradGuard). All steps then
// share them: their gradients add up across steps and reach w_hh and b_hh in one slice backward. When
// the pattern is not there (w_hh's node was recorded earlier by other code), each step slices anew, as
// before: slower, equally correct. models::Recurrent records them before the first step through
// begin_sequence(), so a recompute segment's steps (Note [Recompute segments]) find them too.
struct ChoWeights {
  Var w_rz, b_rz;  // [2H, H], [2H]
  Var w_n, b_n;    // [H, H], [H]
};

bool is_slice_of(const Tape& tape, NodeId id, NodeId input, int64_t start, int64_t length) {
  if (id >= tape.size()) return false;
  const Node& n = tape.node(id);
  return n.op == OpKind::slice && n.n_inputs == 1 && tape.input_id(n, 0) == input && n.attrs.i[0] == 0 &&
         n.attrs.i[1] == start && n.attrs.i[2] == length &&
         n.requires_grad == (tape.grad_enabled() && tape.node(input).requires_grad);
}

ChoWeights cho_weights(Tape& tape, Parameter& w_hh_param, Parameter& b_hh_param, int64_t H) {
  const size_t before = tape.size();
  const Var w_hh = tape.param(w_hh_param), b_hh = tape.param(b_hh_param);
  const NodeId w = w_hh.id(), b = b_hh.id();
  const bool recorded_now = tape.size() == before + 2;  // both nodes are new: the epoch's first step
  if (!recorded_now && b == w + 1 && is_slice_of(tape, b + 1, w, 0, 2 * H) && is_slice_of(tape, b + 2, b, 0, 2 * H) &&
      is_slice_of(tape, b + 3, w, 2 * H, H) && is_slice_of(tape, b + 4, b, 2 * H, H)) {
    const uint64_t epoch = tape.epoch();
    return {Var(&tape, b + 1, epoch), Var(&tape, b + 2, epoch), Var(&tape, b + 3, epoch), Var(&tape, b + 4, epoch)};
  }
  ChoWeights cut;  // recorded in this order, so that the check above finds them in later steps
  cut.w_rz = slice(w_hh, 0, 0, 2 * H);
  cut.b_rz = slice(b_hh, 0, 0, 2 * H);
  cut.w_n = slice(w_hh, 0, 2 * H, H);
  cut.b_n = slice(b_hh, 0, 2 * H, H);
  return cut;
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

void GruCell::begin_sequence(Tape& tape) {
  if (form_ == Form::cho) cho_weights(tape, w_hh(), b_hh(), hidden_size());
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
  const ChoWeights w = cho_weights(px.tape(), this->w_hh(), this->b_hh(), hidden_size());
  const std::vector<Var> rz = chunk(linear(h, w.w_rz, w.b_rz), 1, 2);
  const Var r = sigmoid(x[0] + rz[0]);
  const Var z = sigmoid(x[1] + rz[1]);
  const Var n = tanh(x[2] + linear(r * h, w.w_n, w.b_n));
  return {h + z * (n - h)};  // (1 - z) h + z n
}

}  // namespace unroll
