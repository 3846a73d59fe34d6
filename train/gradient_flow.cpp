// SPDX-License-Identifier: Apache-2.0
// What lives here: gradient_flow and gate_saturation (gradient_flow.h).
#include "train/gradient_flow.h"

#include <cmath>
#include <map>

#include "autodiff/backward.h"
#include "graph/check.h"
#include "ops/ops.h"

namespace unroll {

namespace {

void check_input(const char* what, const Recurrent& rnn, const Tensor& x) {
  UNROLL_CHECK(!rnn.config().bidirectional, UsageError,
               "{}: the model is bidirectional (hint: a state at step t of a reverse pass depends on later steps; "
               "probe a unidirectional model)",
               what);
  UNROLL_CHECK(x.rank() == 3 && x.shape()[0] >= 1 && x.shape()[1] >= 1 && x.shape()[2] == rnn.config().input_size,
               ShapeError, "{}: x must be [T, B, {}], got {}", what, rnn.config().input_size, x.shape().str());
}

// Runs x [T, B, I] one step at a time from zero states; states[t] are the final states after step t (one
// [L, B, H] per state kind).
std::vector<std::vector<Var>> run_stepwise(Tape& tape, Recurrent& rnn, Var x) {
  std::vector<std::vector<Var>> states;
  std::vector<Var> state;
  for (int64_t t = 0; t < x.shape()[0]; ++t) {
    state = rnn.forward(tape, slice(x, 0, t, 1), state).final_states;
    states.push_back(state);
  }
  return states;
}

double frobenius(const Tensor& g) {
  double s = 0;
  for (int64_t i = 0; i < g.numel(); ++i) s += g.at(i) * g.at(i);
  return std::sqrt(s);
}

}  // namespace

GradientFlow gradient_flow(Recurrent& rnn, Layer& head, const Tensor& x, const Tensor& target) {
  check_input("gradient_flow", rnn, x);
  const DType dtype = rnn.cell(0).w_ih().value.dtype();
  Tape tape;
  const std::vector<std::vector<Var>> states = run_stepwise(tape, rnn, tape.constant(x.to(dtype)));
  const Var h_last = select(states.back()[0], rnn.config().layers - 1);  // [B, H]
  const Var loss = mse(head.forward(h_last), tape.constant(target.to(dtype)));
  std::vector<Var> wrt;
  for (const auto& s : states) wrt.insert(wrt.end(), s.begin(), s.end());
  const std::vector<Tensor> grads = grad(loss, wrt);
  GradientFlow flow;
  const size_t kinds = states.front().size();
  for (size_t k = 0; k < kinds; ++k) flow.states.push_back(k == 0 ? "h" : kinds == 2 ? "c" : fmt::format("state{}", k));
  flow.norms.assign(kinds, {});
  for (size_t t = 0; t < states.size(); ++t)
    for (size_t k = 0; k < kinds; ++k) flow.norms[k].push_back(frobenius(grads[t * kinds + k]));
  flow.loss = loss.value().at(0);
  return flow;
}

// ---- gate saturation ----

double GateSaturation::mean_low() const {
  double s = 0;
  for (double v : low) s += v;
  return low.empty() ? 0 : s / static_cast<double>(low.size());
}
double GateSaturation::mean_high() const {
  double s = 0;
  for (double v : high) s += v;
  return high.empty() ? 0 : s / static_cast<double>(high.size());
}

nlohmann::json SaturationReport::to_json(bool per_step) const {
  nlohmann::json gs = nlohmann::json::array();
  for (const GateSaturation& g : gates) {
    nlohmann::json j = {{"gate", g.layer_gate}, {"activation", g.activation}, {"mean_low", g.mean_low()},
                        {"mean_high", g.mean_high()}};
    if (per_step) {
      j["low"] = g.low;
      j["high"] = g.high;
    }
    gs.push_back(j);
  }
  nlohmann::json j = {{"cell", cell}, {"gates", gs},
                      {"thresholds", "sigmoid: < 0.05 / > 0.95; tanh: < -0.95 / > 0.95; fractions of batch x units"}};
  if (!note.empty()) j["note"] = note;
  return j;
}

namespace {

double sigmoid_of(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// in [B, K] times w [G*H, K] (rows from `row0`, `rows` of them) + b: [B, rows], in double (row-major values).
std::vector<double> affine_rows(const std::vector<double>& in, int64_t B, int64_t K, const std::vector<double>& w,
                                const std::vector<double>& b, int64_t row0, int64_t rows) {
  std::vector<double> out(static_cast<size_t>(B * rows));
  for (int64_t r = 0; r < B; ++r)
    for (int64_t j = 0; j < rows; ++j) {
      double s = b[static_cast<size_t>(row0 + j)];
      const double* wr = w.data() + (row0 + j) * K;
      for (int64_t k = 0; k < K; ++k) s += in[static_cast<size_t>(r * K + k)] * wr[k];
      out[static_cast<size_t>(r * rows + j)] = s;
    }
  return out;
}

struct GateValues {
  const char* name;
  bool sigmoid;
  std::vector<double> values;  // after the activation, [B, H]
};

// Note [Gate formulas for probing]: the activations of a stock cell's gates at one step, from its input
// `in` [B, I], previous h [B, H] and new c (LSTM) -- the formulas of models/cells.h. A cell kind not
// listed returns nothing; this table is where a new cell's gates go.
std::vector<GateValues> gate_values(Cell& cell, const std::vector<double>& in, const std::vector<double>& h,
                                    const std::vector<double>& c_new, int64_t B) {
  const std::string kind = cell.kind();
  const int64_t H = cell.hidden_size(), I = cell.input_size();
  const std::vector<double> w_ih = cell.w_ih().value.to_vector(), w_hh = cell.w_hh().value.to_vector(),
                            b_ih = cell.b_ih().value.to_vector(), b_hh = cell.b_hh().value.to_vector();
  const auto pre = [&](int64_t block, bool with_hidden) {  // gate block's x part (+ h part)
    std::vector<double> v = affine_rows(in, B, I, w_ih, b_ih, block * H, H);
    if (with_hidden) {
      const std::vector<double> u = affine_rows(h, B, H, w_hh, b_hh, block * H, H);
      for (size_t i = 0; i < v.size(); ++i) v[i] += u[i];
    }
    return v;
  };
  const auto apply = [](std::vector<double> v, bool sigmoid) {
    for (double& e : v) e = sigmoid ? sigmoid_of(e) : std::tanh(e);
    return v;
  };
  if (kind == "rnn_tanh") return {{"h", false, apply(pre(0, true), false)}};
  if (kind == "lstm") {
    std::vector<double> tc = c_new;
    for (double& e : tc) e = std::tanh(e);
    return {{"input", true, apply(pre(0, true), true)},  {"forget", true, apply(pre(1, true), true)},
            {"cell", false, apply(pre(2, true), false)}, {"output", true, apply(pre(3, true), true)},
            {"tanh(c)", false, tc}};
  }
  if (kind == "gru" || kind == "gru_lbr") {
    const std::vector<double> r = apply(pre(0, true), true), z = apply(pre(1, true), true);
    std::vector<double> n = pre(2, false);
    if (kind == "gru_lbr") {  // n = tanh(x_n + r * (W_hn h + b_hn))
      const std::vector<double> hn = affine_rows(h, B, H, w_hh, b_hh, 2 * H, H);
      for (size_t i = 0; i < n.size(); ++i) n[i] += r[i] * hn[i];
    } else {  // n = tanh(x_n + W_hn (r * h) + b_hn)
      std::vector<double> rh(h.size());
      for (size_t i = 0; i < h.size(); ++i) rh[i] = r[i] * h[i];
      const std::vector<double> hn = affine_rows(rh, B, H, w_hh, b_hh, 2 * H, H);
      for (size_t i = 0; i < n.size(); ++i) n[i] += hn[i];
    }
    return {{"reset", true, r}, {"update", true, z}, {"candidate", false, apply(n, false)}};
  }
  return {};
}

std::vector<double> rows_of(const Tensor& t) {  // a [B, K] view's values
  return t.to_vector();
}

}  // namespace

SaturationReport gate_saturation(Recurrent& rnn, const Tensor& x) {
  check_input("gate_saturation", rnn, x);
  SaturationReport report;
  report.cell = rnn.config().cell;
  const int L = rnn.config().layers;
  const int64_t T = x.shape()[0], B = x.shape()[1];
  Tape tape;
  const NoGradGuard no_grad(tape);
  const Var xs = tape.constant(x.to(rnn.cell(0).w_ih().value.dtype()));
  const std::vector<std::vector<Var>> states = run_stepwise(tape, rnn, xs);
  std::map<std::string, size_t> index;
  for (int64_t t = 0; t < T; ++t) {
    for (int l = 0; l < L; ++l) {
      Cell& cell = rnn.cell(l);
      const std::vector<double> in =
          l == 0 ? rows_of(select(slice(xs, 0, t, 1), 0).value()) : rows_of(select(states[t][0], l - 1).value());
      const std::vector<double> h_prev = t == 0 ? std::vector<double>(static_cast<size_t>(B * cell.hidden_size()), 0.0)
                                                : rows_of(select(states[t - 1][0], l).value());
      const std::vector<double> c_new = states[t].size() > 1 ? rows_of(select(states[t][1], l).value()) : std::vector<double>{};
      for (GateValues& g : gate_values(cell, in, h_prev, c_new, B)) {
        const std::string name = fmt::format("l{}/{}", l, g.name);
        auto [it, fresh] = index.try_emplace(name, report.gates.size());
        if (fresh) report.gates.push_back({name, g.sigmoid ? "sigmoid" : "tanh", {}, {}});
        int64_t low = 0, high = 0;
        for (double v : g.values) {
          low += g.sigmoid ? v < 0.05 : v < -0.95;
          high += v > 0.95;
        }
        const double n = static_cast<double>(g.values.size());
        report.gates[it->second].low.push_back(static_cast<double>(low) / n);
        report.gates[it->second].high.push_back(static_cast<double>(high) / n);
      }
    }
  }
  if (report.gates.empty())
    report.note = fmt::format("the gates of cell '{}' are not known to the probe (known: rnn_tanh, lstm, gru, gru_lbr)",
                              report.cell);
  return report;
}

}  // namespace unroll
