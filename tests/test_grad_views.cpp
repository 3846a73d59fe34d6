// SPDX-License-Identifier: Apache-2.0
// What lives here: Note [Gradient views] (graph/grad_memory.h). With released gradients, a view (reshape, a
// contiguous slice) that is its input's last consumer takes a window into the input's gradient as its own.
// These tests show the gradients keep their bits (leaves and parameters, float32 and float64, partial and
// full windows, chains of views, a tape whose arena is full of NaN), that the memory is really shared (the
// arena hands out less), and that a node grad() is asked for keeps its own gradient.

#include "autodiff/backward.h"
#include "models/recurrent.h"
#include "ops/ops.h"
#include "test_helpers.h"

using namespace unroll;
using unroll::testing::check_same_bits;
using unroll::testing::dirty_arena;
using unroll::testing::random_tensor;

namespace {

struct Result {
  std::vector<Tensor> grads;
  size_t arena_bytes = 0;  // handed out by the end of backward
};

// y = tanh(x) [T, B, H] read by an earlier slice (rows 0..1) and, last, by a chain slice -> reshape over
// rows 1..T-1 (a partial window); z = exp(u) read only by a full reshape, used twice by one product.
// block: one more consumer of tanh(x) and of exp(x) after the views, which backward never reaches -- the
// same gradients, but no view is its input's last consumer any more.
Result views_graph(DType dtype, bool release, bool dirty, bool block = false) {
  Tape tape;
  if (dirty) dirty_arena(tape);
  tape.set_release_grads(release);
  const int64_t T = 6, B = 4, H = 4;  // a time step is 64 bytes or more: slices along time are views
  Rng rng(5);
  const Var x = tape.leaf(random_tensor({T, B, H}, rng, -1, 1, dtype), true);
  const Var u = tape.leaf(random_tensor({5, 7}, rng, -1, 1, dtype), true);  // another size: no reuse
  const Var weight = tape.constant(random_tensor({(T - 1) * B, H}, rng, -1, 1, dtype));
  const Var y = tanh(x);
  const Var early = slice(y, 0, 0, 2);
  const Var window = reshape(slice(y, 0, 1, T - 1), Shape{(T - 1) * B, H});
  const Var e = exp(u);
  const Var z = reshape(e, Shape{35});
  if (block) {
    slice(y, 0, 0, 1);
    slice(e, 0, 0, 1);
  }
  const Var loss = add(add(sum(square(early)), sum(mul(window, weight))), sum(mul(z, z)));
  backward(loss);
  return {{x.grad().clone(), u.grad().clone()}, tape.arena().used_bytes()};
}

// A fused LSTM (step loop) with a head on every step, as `unroll bench` config b runs it.
Result lstm_graph(bool release) {
  Rng rng(8);
  const int64_t T = 5, B = 4, I = 3, H = 8;
  Recurrent rnn(RecurrentConfig{.cell = "lstm", .input_size = I, .hidden_size = H}, rng);
  rnn.zero_grad();
  Tape tape;
  tape.set_release_grads(release);
  const Var x = tape.constant(random_tensor({T, B, I}, rng, -1, 1, DType::f32));
  const RecurrentOutput out = rnn.forward(tape, x);
  const Var rows = reshape(out.output, Shape{T * B, H});
  backward(sum(mul(rows, tape.constant(random_tensor({T * B, H}, rng, -1, 1, DType::f32)))));
  Result r;
  for (Parameter* p : rnn.parameters()) r.grads.push_back(p->grad.clone());
  r.arena_bytes = tape.arena().used_bytes();
  return r;
}

void check_bits(const Result& a, const Result& b) { check_same_bits(a.grads, b.grads); }

}  // namespace

TEST_CASE("gradient views: the same bits with and without shared gradients, also on a NaN-filled arena") {
  for (const DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype_name(dtype));
    const Result plain = views_graph(dtype, false, false);
    const Result shared = views_graph(dtype, true, false);
    check_bits(plain, shared);
    check_bits(plain, views_graph(dtype, true, true));
    const Result blocked = views_graph(dtype, true, false, true);
    check_bits(plain, blocked);
  }
}

// tanh(x) -> a slice of time steps 1..5 -> reshape -> * constant -> sum: with released gradients the two
// views' gradients are windows into tanh's. block: a later (unused) view of tanh(x), so the slice is not
// its last consumer and both views own a buffer -- one of which release reuses (the product's gradient,
// freed before), so one [20, 4] buffer is the difference.
size_t chain_gradient_bytes(bool block) {
  Tape tape;
  tape.set_release_grads(true);
  Rng rng(4);
  const Var x = tape.leaf(random_tensor({6, 4, 4}, rng, -1, 1, DType::f32), true);
  const Var y = tanh(x);
  const Var window = reshape(slice(y, 0, 1, 5), Shape{20, 4});
  if (block) slice(y, 0, 0, 1);
  const Var loss = sum(mul(window, tape.constant(random_tensor({20, 4}, rng, -1, 1, DType::f32))));
  const size_t before = tape.arena().used_bytes();
  backward(loss);
  return tape.arena().used_bytes() - before;
}

TEST_CASE("gradient views: a view's gradient takes no memory of its own") {
  CHECK(chain_gradient_bytes(false) + 20 * 4 * sizeof(float) == chain_gradient_bytes(true));
}

TEST_CASE("gradient views: the fused LSTM's output rows share its gradient, parameters keep their bits") {
  const Result plain = lstm_graph(false), shared = lstm_graph(true);
  check_bits(plain, shared);
  // The reshape and the h rows' slice (Note [Gradient views]): two [T, B, H] float buffers fewer.
  CHECK(shared.arena_bytes + 2 * 5 * 4 * 8 * sizeof(float) <= plain.arena_bytes);
}

TEST_CASE("gradient views: a node grad() is asked for keeps its own gradient") {
  for (const bool release : {false, true}) {
    CAPTURE(release);
    Tape tape;
    tape.set_release_grads(release);
    Rng rng(2);
    const Var x = tape.leaf(random_tensor({4, 3}, rng, -1, 1, DType::f64), true);
    const Var y = tanh(x);
    const Var early = slice(y, 0, 0, 2);  // an earlier consumer adds into y's gradient after the view's
    const Var view = reshape(y, Shape{12});  // y's last consumer
    const Var loss = add(sum(mul(early, early)), sum(mul(view, tape.constant(Tensor::full({12}, DType::f64, 3.0)))));
    const std::vector<Tensor> g = grad(loss, {view, y});
    for (int64_t i = 0; i < 12; ++i) CHECK(g[0].at(i) == 3.0);  // d loss / d view alone
    for (int64_t i = 0; i < 12; ++i) CHECK(g[1].at(i) == doctest::Approx(3.0 + (i < 6 ? 2 * y.value().at(i) : 0.0)));
  }
}
