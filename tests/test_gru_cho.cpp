// SPDX-License-Identifier: Apache-2.0
// What lives here: the Cho-form GRU's weight slices (Note [Cho weights cut once per sequence] in
// models/cells.cpp): recorded once per sequence context and shared by every step, with the same values and
// gradients as slicing w_hh / b_hh anew at each step, also when steps mix grad and no-grad recording.
#include <algorithm>

#include "autodiff/backward.h"
#include "models/cells.h"
#include "ops/ops.h"
#include "test_helpers.h"

using namespace unroll;
using unroll::testing::random_tensor;

namespace {

constexpr int64_t kB = 2, kI = 3, kH = 4, kT = 5;

// The Cho step written out with fresh slices at every step (the definition in models/cells.h).
Var reference_step(Tape& tape, GruCell& cell, Var px, Var h) {
  const std::vector<Var> x = chunk(px, 1, 3);
  const Var w = tape.param(cell.w_hh()), b = tape.param(cell.b_hh());
  const std::vector<Var> rz = chunk(linear(h, slice(w, 0, 0, 2 * kH), slice(b, 0, 0, 2 * kH)), 1, 2);
  const Var r = sigmoid(x[0] + rz[0]), z = sigmoid(x[1] + rz[1]);
  const Var n = tanh(x[2] + linear(r * h, slice(w, 0, 2 * kH, kH), slice(b, 0, 2 * kH, kH)));
  return h + z * (n - h);
}

size_t count_slices_of(const Tape& tape, const Parameter& p) {
  size_t count = 0;
  for (NodeId id = 0; id < tape.size(); ++id) {
    const Node& n = tape.node(id);
    if (n.op == OpKind::slice && tape.node(tape.input_id(n, 0)).param == &p) ++count;
  }
  return count;
}

struct Run {
  Tensor h;                         // final state
  Tensor dw_hh, db_hh, dw_ih, dh0;  // gradients of sum(h_T * weights)
  size_t w_hh_slices = 0;
};

// Unrolls kT steps in one sequence context, opened just before step 0 and in its grad mode; steps listed
// in `no_grad_steps` are recorded under a NoGradGuard (so no gradient flows through them). `reference`
// uses reference_step instead of the cell.
Run run_steps(GruCell& cell, const Tensor& x, const Tensor& h0, const Tensor& weights, bool reference,
           std::vector<int> no_grad_steps = {}) {
  cell.w_hh().zero_grad();
  cell.b_hh().zero_grad();
  cell.w_ih().zero_grad();
  Tape tape;
  Var h = tape.leaf(h0, true);
  const Var h_leaf = h;
  const Var px = cell.project_inputs(tape.constant(x));
  std::shared_ptr<SequenceContext> seq;
  for (int t = 0; t < kT; ++t) {
    const Var px_t = slice(px, 0, t * kB, kB);
    const bool no_grad = std::find(no_grad_steps.begin(), no_grad_steps.end(), t) != no_grad_steps.end();
    const auto record = [&] {
      if (!seq && !reference) seq = cell.open_sequence(tape, false);
      return reference ? reference_step(tape, cell, px_t, h) : cell.step(px_t, {h}, *seq)[0];
    };
    if (no_grad) {
      NoGradGuard guard(tape);
      h = record();
    } else {
      h = record();
    }
  }
  Run run;
  run.h = h.value().clone();
  run.w_hh_slices = count_slices_of(tape, cell.w_hh());
  if (h.requires_grad()) {
    backward(sum(h * tape.constant(weights)));
    run.dh0 = h_leaf.grad().defined() ? h_leaf.grad().clone() : Tensor::zeros({kB, kH}, DType::f64);
  }
  run.dw_hh = cell.w_hh().grad.clone();
  run.db_hh = cell.b_hh().grad.clone();
  run.dw_ih = cell.w_ih().grad.clone();
  return run;
}

}  // namespace

TEST_CASE("gru cho: w_hh is sliced once per sequence, with the values and gradients of slicing at every step") {
  Rng rng(11);
  GruCell cell(kI, kH, rng);  // form cho (the default)
  REQUIRE(cell.form() == GruCell::Form::cho);
  cell.to(DType::f64);
  const Tensor x = random_tensor({kT * kB, kI}, rng), h0 = random_tensor({kB, kH}, rng, -0.8, 0.8);
  const Tensor weights = random_tensor({kB, kH}, rng);  // asymmetric scalarisation

  const Run shared = run_steps(cell, x, h0, weights, false);
  const Run fresh = run_steps(cell, x, h0, weights, true);
  CHECK(shared.w_hh_slices == 2);      // r,z rows and n rows, once for all kT steps
  CHECK(fresh.w_hh_slices == 2 * kT);  // the reference slices at every step
  CHECK(testing::max_abs_diff(shared.h, fresh.h) == 0.0);  // same ops on the same values
  CHECK(testing::max_scaled_diff(shared.dw_hh, fresh.dw_hh) < 1e-14);  // only the order of additions differs
  CHECK(testing::max_scaled_diff(shared.db_hh, fresh.db_hh) < 1e-14);
  CHECK(testing::max_scaled_diff(shared.dw_ih, fresh.dw_ih) < 1e-14);
  CHECK(testing::max_scaled_diff(shared.dh0, fresh.dh0) < 1e-14);
  CHECK(testing::max_abs_diff(shared.dw_hh, Tensor::zeros({3 * kH, kH}, DType::f64)) > 0.01);  // not vacuous
}

TEST_CASE("gru cho: steps recorded without gradients do not lend their slices to steps with gradients") {
  Rng rng(12);
  GruCell cell(kI, kH, rng);
  cell.to(DType::f64);
  const Tensor x = random_tensor({kT * kB, kI}, rng), h0 = random_tensor({kB, kH}, rng, -0.8, 0.8);
  const Tensor weights = random_tensor({kB, kH}, rng);
  // The context is opened under step 0's NoGradGuard, so its slices carry no gradient: later steps must
  // not use them; w_hh still gets the gradient of steps 1..4.
  const Run shared = run_steps(cell, x, h0, weights, false, {0});
  const Run fresh = run_steps(cell, x, h0, weights, true, {0});
  CHECK(testing::max_abs_diff(shared.h, fresh.h) == 0.0);
  CHECK(testing::max_scaled_diff(shared.dw_hh, fresh.dw_hh) < 1e-14);
  CHECK(testing::max_scaled_diff(shared.db_hh, fresh.db_hh) < 1e-14);
  CHECK(testing::max_abs_diff(shared.dw_hh, Tensor::zeros({3 * kH, kH}, DType::f64)) > 0.01);
  // A middle step without gradients (it uses the shared slices; no gradient flows through it).
  const Run middle = run_steps(cell, x, h0, weights, false, {2});
  const Run middle_fresh = run_steps(cell, x, h0, weights, true, {2});
  CHECK(testing::max_abs_diff(middle.h, middle_fresh.h) == 0.0);
  CHECK(testing::max_scaled_diff(middle.dw_hh, middle_fresh.dw_hh) < 1e-14);
}
