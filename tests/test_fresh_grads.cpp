// SPDX-License-Identifier: Apache-2.0
// What lives here: the fresh-gradient path of Note [Gradients accumulate] (graph/grad_memory.h). A backward that
// overwrites every element of an input's gradient gets that buffer unzeroed the first time and stores
// 0 + v. These tests show it writes every element (a tape whose arena is full of NaN gives the same bits
// as a clean one, for each op that takes the path, with inputs used once and twice) and that it keeps the
// bits of zero-fill-and-add, signed zeros included.
#include <cmath>

#include "autodiff/backward.h"
#include "models/recurrent.h"
#include "ops/ops.h"
#include "test_helpers.h"

using namespace unroll;
using unroll::testing::check_same_bits;
using unroll::testing::dirty_arena;
using unroll::testing::random_tensor;

namespace {

// Every op with a fresh-gradient backward, each input used once and some twice; returns the leaves' gradients.
std::vector<Tensor> op_gradients(Tape& tape, DType dtype) {
  Rng rng(11);
  const int64_t batch = 3, hidden = 5;
  const Var x = tape.leaf(random_tensor({batch, 4 * hidden}, rng, -1, 1, dtype), true);
  const Var c0 = tape.leaf(random_tensor({batch, hidden}, rng, -1, 1, dtype), true);
  const Var xg = tape.leaf(random_tensor({batch, 3 * hidden}, rng, -1, 1, dtype), true);
  const Var hg = tape.leaf(random_tensor({batch, 3 * hidden}, rng, -1, 1, dtype), true);
  const Var h0 = tape.leaf(random_tensor({batch, hidden}, rng, -1, 1, dtype), true);
  const Var p = tape.leaf(random_tensor({batch, hidden}, rng, 0.5, 2, dtype), true);
  const Var row = tape.leaf(random_tensor({1, hidden}, rng, -1, 1, dtype), true);

  const Var c = lstm_cell_state(x, c0);
  const Var h = lstm_hidden(x, c);
  const Var g = gru_lbr_update(xg, hg, h0);
  const Var pointwise = sigmoid(h) * tanh(g) + exp(neg(c)) / p - square(p) * p + sqrt(p) + log(p) + relu(g);
  const Var twice = h * h + c + c;        // one node as both inputs of a binary op
  const Var broadcast = pointwise * row;  // not fresh: a broadcast gradient is summed
  const Var joined = concat({reshape(twice, Shape{batch * hidden}), reshape(broadcast, Shape{batch * hidden})}, 0);
  const Var parts = slice(joined, 0, 2, 2 * batch * hidden - 4);
  backward(sum(affine(parts, 0.5, 0.0) * parts));
  std::vector<Tensor> grads;
  for (const Var& leaf : {x, c0, xg, hg, h0, p, row}) grads.push_back(leaf.grad().clone());
  return grads;
}

// A two-layer graph-path recurrent model (stock cells on their per-step gates; dropout between layers).
std::vector<Tensor> recurrent_gradients(Tape& tape, const std::string& cell) {
  Rng rng(3);
  RecurrentConfig config{.cell = cell, .input_size = 4, .hidden_size = 6, .layers = 2, .bidirectional = true};
  config.fused = false;
  Recurrent rnn(config, rng);
  const Var input = tape.leaf(random_tensor({7, 3, 4}, rng, -1, 1, DType::f32), true);
  const RecurrentOutput out = rnn.forward(tape, input);
  backward(sum(square(out.output)));
  std::vector<Tensor> grads;
  for (Parameter* param : rnn.parameters()) grads.push_back(param->grad.clone());
  grads.push_back(input.grad().clone());
  return grads;
}

}  // namespace

TEST_CASE("fresh gradients: every element is written (a NaN-filled arena gives the clean tape's bits)") {
  for (const DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype_name(dtype));
    Tape clean;
    const std::vector<Tensor> expected = op_gradients(clean, dtype);
    Tape dirty;
    dirty_arena(dirty);
    check_same_bits(expected, op_gradients(dirty, dtype));
  }
  for (const std::string cell : {"lstm", "gru_lbr", "rnn_tanh", "gru"}) {
    CAPTURE(cell);
    Tape clean;
    const std::vector<Tensor> expected = recurrent_gradients(clean, cell);
    Tape dirty;
    dirty_arena(dirty);
    check_same_bits(expected, recurrent_gradients(dirty, cell));
  }
}

TEST_CASE("fresh gradients: a first contribution of -0 lands as +0, as zero-fill then += gives") {
  Tape tape;
  const Tensor value = Tensor::from_values({-1.0, -2.0}, Shape{2}, DType::f32);
  const Var through_mul = tape.leaf(value, true);
  const Var through_relu = tape.leaf(value, true);
  const Var through_reshape = tape.leaf(value, true);
  const Var zeros = tape.constant(Tensor::zeros(Shape{2}, DType::f32));
  // d(loss)/d(term) = -1 for each term; mul by 0 and relu of a negative input send -1 * 0 = -0 back, and the
  // reshape's gradient is the -0 that the relu term's sum gets from a zero-weighted upstream.
  const Var loss = neg(sum(through_mul * zeros) + sum(relu(through_relu)) +
                       sum(reshape(through_reshape, Shape{1, 2}) * reshape(zeros, Shape{1, 2})));
  backward(loss);
  for (const Var& leaf : {through_mul, through_relu, through_reshape}) {
    const Tensor& g = leaf.grad();
    for (int64_t i = 0; i < g.numel(); ++i) {
      CHECK(g.at(i) == 0.0);
      CHECK_FALSE(std::signbit(g.at(i)));
    }
  }
}
