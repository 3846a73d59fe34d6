// SPDX-License-Identifier: Apache-2.0
// What lives here: float64 finite-difference gradient checks of every cell (Elman tanh and relu, LSTM with
// and without peepholes, both GRU forms, the CIFG example cell) with respect to the parameters, the inputs
// and the initial states, unrolled over 1, 2 and 3 steps; plus each cell's step written out by hand.
#include <fmt/format.h>

#include <cmath>

#include "autodiff/gradcheck.h"
#include "examples/cifg_cell.h"
#include "models/cells.h"
#include "ops/ops.h"
#include "test_helpers.h"

using namespace unroll;
using unroll::testing::random_tensor;

namespace {

constexpr int64_t kBatch = 2, kInput = 3, kHidden = 4;

std::unique_ptr<Cell> make_cell(const std::string& name, Rng& rng) {
  CellRegistry registry = builtin_cells();
  examples::register_cifg(registry);
  std::unique_ptr<Cell> cell = registry.create(name, kInput, kHidden, rng);
  cell->to(DType::f64);
  return cell;
}

// Unrolls `cell` over x [T, B, I] from the given state; the output stacks every h_t and, for two-state
// cells, the final c, so the Jacobian covers all of them (no scalarising sum).
Var unroll_cell(Cell& cell, Var x, std::vector<Var> state) {
  const int64_t T = x.shape()[0];
  const Var px = cell.project_inputs(reshape(x, Shape{T * kBatch, kInput}));
  const std::shared_ptr<SequenceContext> seq = cell.open_sequence(x.tape(), false);  // as models::Recurrent
  std::vector<Var> rows;
  for (int64_t t = 0; t < T; ++t) {
    state = cell.step(slice(px, 0, t * kBatch, kBatch), state, *seq);
    rows.push_back(state[0]);
  }
  if (state.size() > 1) rows.push_back(state[1]);
  return concat(rows, 0);
}

// Worst gradcheck over T = 1, 2, 3 (each a full Jacobian); every one must pass.
GradcheckReport check_cell(const std::string& name) {
  Rng rng(2026);
  std::unique_ptr<Cell> cell = make_cell(name, rng);
  GradcheckReport worst;
  int64_t worst_T = 1;
  for (int64_t T = 1; T <= 3; ++T) {
    std::vector<Tensor> inputs{random_tensor({T, kBatch, kInput}, rng)};
    std::vector<std::string> names{"x"};
    for (int s = 0; s < cell->state_count(); ++s) {
      inputs.push_back(random_tensor({kBatch, kHidden}, rng, -0.8, 0.8));
      names.push_back(s == 0 ? "h0" : "c0");
    }
    GradcheckOptions options;
    options.input_names = names;
    const GradcheckReport report = gradcheck(
        [&](Tape&, const std::vector<Var>& in) {
          return unroll_cell(*cell, in[0], std::vector<Var>(in.begin() + 1, in.end()));
        },
        inputs, cell->parameters(), options);
    INFO(name, " T=", T, ": ", report.summary());
    CHECK(report.ok);
    CHECK_FALSE(report.directional);
    // every parameter and input was really checked (one worst entry each)
    CHECK(report.worst_per_input.size() == inputs.size() + cell->parameters().size());
    if (T == 1 || report.worst.badness > worst.worst.badness) {
      worst = report;
      worst_T = T;
    }
  }
  MESSAGE(fmt::format("cell {}: worst over T=1,2,3 is at T={}: {}", name, worst_T, worst.summary()));
  return worst;
}

}  // namespace

TEST_CASE("gradcheck cell rnn_tanh") { check_cell("rnn_tanh"); }
TEST_CASE("gradcheck cell rnn_relu") { check_cell("rnn_relu"); }
TEST_CASE("gradcheck cell lstm") { check_cell("lstm"); }
TEST_CASE("gradcheck cell lstm_peephole") { check_cell("lstm_peephole"); }
TEST_CASE("gradcheck cell gru (cho form)") { check_cell("gru"); }
TEST_CASE("gradcheck cell gru_lbr (linear before reset)") { check_cell("gru_lbr"); }
TEST_CASE("gradcheck cell cifg (custom example)") { check_cell("cifg"); }

// The gradcheck above must be able to fail: a cell whose step() breaks the chain rule (its gradient flows
// through a detached copy) is caught.
TEST_CASE("gradcheck cell catches a wrong gradient") {
  struct BrokenCell : ElmanCell {
    using ElmanCell::ElmanCell;
    std::vector<Var> step(Var px, const std::vector<Var>& state, SequenceContext& seq) override {
      const std::vector<Var> h = ElmanCell::step(px, state, seq);
      return {h[0] + square(detach(state[0]))};  // forward depends on h, backward ignores that path
    }
  };
  Rng rng(5);
  BrokenCell cell(kInput, kHidden, rng);
  cell.to(DType::f64);
  const GradcheckReport report = gradcheck(
      [&](Tape&, const std::vector<Var>& in) { return unroll_cell(cell, in[0], {in[1]}); },
      {random_tensor({2, kBatch, kInput}, rng), random_tensor({kBatch, kHidden}, rng)}, cell.parameters(),
      GradcheckOptions{.input_names = {"x", "h0"}});
  CHECK_FALSE(report.ok);
}

// Each cell's step against its formula evaluated by hand with scalar loops (float64).
namespace {
double sig(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// pre[b][k] = sum_j w[k][j] v[b][j] + bias[k]
std::vector<std::vector<double>> affine_rows(const Tensor& w, const Tensor& bias, const Tensor& v) {
  const int64_t rows = w.shape()[0], cols = w.shape()[1], B = v.shape()[0];
  std::vector<std::vector<double>> out(static_cast<size_t>(B), std::vector<double>(static_cast<size_t>(rows)));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t k = 0; k < rows; ++k) {
      double s = bias.at(k);
      for (int64_t j = 0; j < cols; ++j) s += w.at(k * cols + j) * v.at(b * cols + j);
      out[static_cast<size_t>(b)][static_cast<size_t>(k)] = s;
    }
  return out;
}
}  // namespace

TEST_CASE("cell steps match their formulas") {
  Rng rng(11);
  const Tensor x = random_tensor({kBatch, kInput}, rng), h = random_tensor({kBatch, kHidden}, rng),
               c = random_tensor({kBatch, kHidden}, rng);
  const int64_t H = kHidden;
  for (const std::string name : {"rnn_tanh", "rnn_relu", "lstm", "lstm_peephole", "gru", "gru_lbr", "cifg"}) {
    INFO(name);
    std::unique_ptr<Cell> cell = make_cell(name, rng);
    Tape tape;
    std::vector<Var> state{tape.constant(h)};
    if (cell->state_count() == 2) state.push_back(tape.constant(c));
    const std::vector<Var> got = cell->step(cell->project_inputs(tape.constant(x)), state);
    const auto gx = affine_rows(cell->w_ih().value, cell->b_ih().value, x);
    const auto gh = affine_rows(cell->w_hh().value, cell->b_hh().value, h);
    const auto peep = [&](const char* p, int64_t k) {
      Parameter* w = cell->find_parameter(p);
      return w ? w->value.at(k) : 0.0;
    };
    for (int64_t b = 0; b < kBatch; ++b)
      for (int64_t k = 0; k < H; ++k) {
        const auto X = [&](int gate) { return gx[b][static_cast<size_t>(gate * H + k)]; };
        const auto U = [&](int gate) { return gh[b][static_cast<size_t>(gate * H + k)]; };
        const double hv = h.at(b * H + k), cv = c.at(b * H + k);
        double h_new = 0, c_new = 0;
        if (name == "rnn_tanh") h_new = std::tanh(X(0) + U(0));
        if (name == "rnn_relu") h_new = std::max(0.0, X(0) + U(0));
        if (name == "lstm" || name == "lstm_peephole") {
          c_new = sig(X(1) + U(1) + peep("w_cf", k) * cv) * cv + sig(X(0) + U(0) + peep("w_ci", k) * cv) * std::tanh(X(2) + U(2));
          h_new = sig(X(3) + U(3) + peep("w_co", k) * c_new) * std::tanh(c_new);
        }
        if (name == "gru_lbr") {
          const double r = sig(X(0) + U(0)), z = sig(X(1) + U(1)), n = std::tanh(X(2) + r * U(2));
          h_new = (1 - z) * n + z * hv;
        }
        if (name == "gru") {
          // n = tanh(W_in x + b_in + W_hn (r * h) + b_hn): recompute W_hn (r*h) by hand
          const Tensor& w = cell->w_hh().value;
          std::vector<double> r(static_cast<size_t>(H));
          for (int64_t j = 0; j < H; ++j) r[static_cast<size_t>(j)] = sig(gx[b][static_cast<size_t>(j)] + gh[b][static_cast<size_t>(j)]);
          double u = cell->b_hh().value.at(2 * H + k);
          for (int64_t j = 0; j < H; ++j) u += w.at((2 * H + k) * H + j) * r[static_cast<size_t>(j)] * h.at(b * H + j);
          const double z = sig(X(1) + U(1)), n = std::tanh(X(2) + u);
          h_new = (1 - z) * hv + z * n;
        }
        if (name == "cifg") {
          const double f = sig(X(0) + U(0));
          c_new = f * cv + (1 - f) * std::tanh(X(1) + U(1));
          h_new = sig(X(2) + U(2)) * std::tanh(c_new);
        }
        CHECK(got[0].value().at(b * H + k) == doctest::Approx(h_new).epsilon(1e-12));
        if (cell->state_count() == 2) CHECK(got[1].value().at(b * H + k) == doctest::Approx(c_new).epsilon(1e-12));
      }
  }
}
