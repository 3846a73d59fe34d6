// SPDX-License-Identifier: Apache-2.0
// What lives here: the gate ops (ops/recurrent_gates.cpp) equal the same cell math composed from
// ordinary ops, in value and in every gradient, in float64 and float32.
#include "test_helpers.h"
#include "unroll.h"

using namespace unroll;
using unroll::testing::max_scaled_diff;
using unroll::testing::random_tensor;

namespace {

// Runs build(tape, leaves) -> output, then grad of sum(output * w) for a fixed random w; returns
// [output, grads...] as float64 tensors.
std::vector<Tensor> value_and_grads(const std::vector<Tensor>& inputs, DType dtype,
                                    const std::function<Var(const std::vector<Var>&)>& build) {
  Tape tape;
  std::vector<Var> leaves;
  for (const Tensor& t : inputs) leaves.push_back(tape.leaf(t.to(dtype), true));
  Var y = build(leaves);
  Rng rng(5);
  const Tensor w = random_tensor(y.shape(), rng).to(dtype);
  std::vector<Tensor> out{y.value().to(DType::f64)};
  for (const Tensor& g : grad(sum(mul(y, tape.constant(w))), leaves)) out.push_back(g.to(DType::f64));
  return out;
}

void check_same(const std::vector<Tensor>& fused, const std::vector<Tensor>& composed, double tolerance) {
  REQUIRE(fused.size() == composed.size());
  for (size_t i = 0; i < fused.size(); ++i) {
    CAPTURE(i);
    CHECK(max_scaled_diff(fused[i], composed[i]) < tolerance);
  }
}

}  // namespace

TEST_CASE("fused LSTM gate ops equal the composed LSTM step") {
  Rng rng(11);
  const int64_t batch = 3, hidden = 5;
  const std::vector<Tensor> inputs{random_tensor({batch, 4 * hidden}, rng, -3, 3), random_tensor({batch, hidden}, rng, -2, 2)};
  const auto fused = [](const std::vector<Var>& x) {
    Var c = lstm_cell_state(x[0], x[1]);
    return concat({lstm_hidden(x[0], c), c}, 1);
  };
  const auto composed = [](const std::vector<Var>& x) {
    const auto g = chunk(x[0], 1, 4);
    Var c = sigmoid(g[1]) * x[1] + sigmoid(g[0]) * tanh(g[2]);
    return concat({sigmoid(g[3]) * tanh(c), c}, 1);
  };
  check_same(value_and_grads(inputs, DType::f64, fused), value_and_grads(inputs, DType::f64, composed), 1e-14);
  check_same(value_and_grads(inputs, DType::f32, fused), value_and_grads(inputs, DType::f32, composed), 1e-6);
}

TEST_CASE("fused GRU (linear before reset) update equals the composed GRU step") {
  Rng rng(12);
  const int64_t batch = 2, hidden = 4;
  const std::vector<Tensor> inputs{random_tensor({batch, 3 * hidden}, rng, -2, 2),
                                   random_tensor({batch, 3 * hidden}, rng, -2, 2), random_tensor({batch, hidden}, rng)};
  const auto fused = [](const std::vector<Var>& x) { return gru_lbr_update(x[0], x[1], x[2]); };
  const auto composed = [](const std::vector<Var>& x) {
    const auto a = chunk(x[0], 1, 3);
    const auto b = chunk(x[1], 1, 3);
    Var r = sigmoid(a[0] + b[0]), z = sigmoid(a[1] + b[1]);
    Var n = tanh(a[2] + r * b[2]);
    return (1.0 - z) * n + z * x[2];
  };
  check_same(value_and_grads(inputs, DType::f64, fused), value_and_grads(inputs, DType::f64, composed), 1e-14);
  check_same(value_and_grads(inputs, DType::f32, fused), value_and_grads(inputs, DType::f32, composed), 1e-6);
}

TEST_CASE("gate ops check their shapes") {
  Tape tape;
  Var gates = tape.leaf(Tensor::zeros({2, 7}, DType::f32));
  Var c = tape.leaf(Tensor::zeros({2, 2}, DType::f32));
  CHECK_THROWS_WITH_AS(lstm_cell_state(gates, c),
                       "lstm_cell_state: gates shape [2, 7] does not fit state shape [2, 2] (hint: gates must be [B, 4 "
                       "* H] for a state [B, H])",
                       ShapeError);
}
