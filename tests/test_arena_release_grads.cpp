// SPDX-License-Identifier: Apache-2.0
// What lives here: Note [Released gradients] (graph/grad_memory.h): with the tape's release_grads on, backward
// reuses the gradient memory of intermediate nodes whose backward has run. The gradients must be the
// same bits as without it, the arena must need less, and leaves, the output and grad()'s wrt keep theirs.
#include "autodiff/backward.h"
#include "models/recurrent.h"
#include "ops/ops.h"
#include "test_helpers.h"

using namespace unroll;
using unroll::testing::random_tensor;

namespace {

struct Result {
  std::vector<Tensor> grads;  // every parameter's .grad, then the input's gradient
  size_t arena_used = 0;
  double loss = 0;
};

Result train_step(const std::string& cell, bool release) {
  Rng rng(5);
  RecurrentConfig config{.cell = cell, .input_size = 3, .hidden_size = 8, .layers = 2, .bidirectional = true};
  config.fused = false;  // the per-step graph, where the gradients of intermediates are many
  Recurrent rnn(config, rng);
  const Tensor x = random_tensor({12, 4, 3}, rng, -1, 1, DType::f32);
  const Tensor w = random_tensor({12, 4, 16}, rng, -1, 1, DType::f32);
  Tape tape;
  tape.set_release_grads(release);
  const Var input = tape.leaf(x, true);
  const RecurrentOutput out = rnn.forward(tape, input);
  const Var loss = sum(square(out.output * tape.constant(w)));
  backward(loss);
  Result r;
  for (Parameter* p : rnn.parameters()) r.grads.push_back(p->grad.clone());
  r.grads.push_back(input.grad().clone());
  r.arena_used = tape.arena().used_bytes();
  r.loss = loss.item();
  return r;
}

}  // namespace

TEST_CASE("released gradients: the same gradient bits with less arena memory") {
  for (const std::string cell : {"gru", "lstm_peephole", "rnn_tanh"}) {
    CAPTURE(cell);
    const Result kept = train_step(cell, false);
    const Result released = train_step(cell, true);
    CHECK(kept.loss == released.loss);
    REQUIRE(kept.grads.size() == released.grads.size());
    for (size_t i = 0; i < kept.grads.size(); ++i) {
      CAPTURE(i);
      CHECK(kept.grads[i].bit_equal(released.grads[i]));
    }
    CHECK(testing::max_abs_diff(kept.grads.back(), Tensor::zeros(kept.grads.back().shape(), DType::f32)) > 0);
    MESSAGE(cell, ": arena bytes after backward ", kept.arena_used, " kept, ", released.arena_used, " released");
    CHECK(static_cast<double>(released.arena_used) < 0.8 * static_cast<double>(kept.arena_used));
  }
}

TEST_CASE("released gradients: leaves, the output and grad()'s wrt keep their gradients, intermediates do not") {
  for (bool release : {false, true}) {
    CAPTURE(release);
    Tape tape;
    tape.set_release_grads(release);
    const Var a = tape.leaf(Tensor::from_values({0.5, -1.5, 2.0}, {3}, DType::f64), true);
    const Var b = tanh(a * a);     // intermediate
    const Var c = sigmoid(b) * b;  // intermediate, and a wrt below
    const Var y = sum(square(c));
    // grad() with an intermediate and a leaf as wrt: both correct, whatever release says.
    const std::vector<Tensor> g = grad(y, {c, a});
    for (int64_t i = 0; i < 3; ++i) {
      CHECK(g[0].at(i) == doctest::Approx(2 * c.value().at(i)));
      const double ai = a.value().at(i), bi = std::tanh(ai * ai), s = 1 / (1 + std::exp(-bi));
      const double dc_db = s * (1 - s) * bi + s;
      CHECK(g[1].at(i) == doctest::Approx(2 * c.value().at(i) * dc_db * (1 - bi * bi) * 2 * ai));
    }
    CHECK(c.grad().defined());
    CHECK(a.grad().defined());
    CHECK(y.grad().defined());
    CHECK(b.grad().defined() == !release);  // released once its backward ran
  }
}

TEST_CASE("released gradients: a second backward on the same tape reuses the memory and stays right") {
  Tape tape;
  tape.set_release_grads(true);
  const Var a = tape.leaf(Tensor::from_values({0.25, -0.75}, {2}, DType::f64), true);
  Var h = a;
  for (int t = 0; t < 50; ++t) h = tanh(h * 1.1 + 0.1);
  const Var y = sum(h);
  const size_t before = tape.arena().used_bytes();
  backward(y, {.retain_graph = true});
  const Tensor first = a.grad().clone();
  backward(y);
  CHECK(a.grad().bit_equal(first));
  // A chain of 150 nodes: kept, each pass would take 150 gradient buffers of 64 bytes (9,600 bytes per
  // pass); released, a few buffers circulate, within and across the two passes.
  CHECK(tape.arena().used_bytes() - before < 1024);
}
