// SPDX-License-Identifier: Apache-2.0
// What lives here: tape and autodiff behaviour: accumulation, pruning, no-grad, detach, parameters across
// tapes, grad() vs backward(), the 100,000-op chain, steady-state memory, stale handles.
#include "test_helpers.h"
#include "unroll.h"

using namespace unroll;

TEST_CASE("gradients accumulate: a + a and a weight reused at every step") {
  Tape tape;
  Var a = tape.leaf(Tensor::from_values({1.5, -2}, {2}, DType::f64), true);
  backward(sum(a + a));
  CHECK(a.grad().at(0) == 2.0);
  CHECK(a.grad().at(1) == 2.0);

  Parameter w("w", Tensor::from_values({0.5}, {1}, DType::f64));
  tape.reset();
  Var h = tape.leaf(Tensor::from_values({1.0}, {1}, DType::f64));
  for (int t = 0; t < 3; ++t) h = mul(tape.param(w), h);  // h = w^3
  backward(sum(h));
  CHECK(w.grad.at(0) == doctest::Approx(3 * 0.5 * 0.5));  // d(w^3)/dw
  CHECK(tape.size() == 6);  // x, ONE parameter node for all three uses, 3 muls, the sum
}

TEST_CASE("requires_grad is decided at record time, and no-grad scope and detach cut the graph") {
  Tape tape;
  Var x = tape.leaf(Tensor::from_values({2.0}, {1}, DType::f64), true);
  Var c = tape.constant(Tensor::from_values({3.0}, {1}, DType::f64));
  CHECK((x * c).requires_grad());
  CHECK_FALSE((c * c).requires_grad());
  {
    NoGradGuard guard(tape);
    CHECK_FALSE((x * x).requires_grad());
  }
  CHECK((x * x).requires_grad());
  Var y = x * detach(x * x);  // d/dx = x^2 only
  backward(sum(y));
  CHECK(x.grad().at(0) == doctest::Approx(4.0));
  CHECK_FALSE(c.grad().defined());  // never reached: no buffer, no work
}

TEST_CASE("grad() returns gradients without touching parameter .grad") {
  Parameter w("w", Tensor::from_values({2.0, -1.0}, {2}, DType::f64));
  Tape tape;
  Var y = sum(square(tape.param(w)));
  const auto g = grad(y, {tape.param(w)});
  CHECK(g[0].at(0) == doctest::Approx(4.0));
  CHECK(g[0].at(1) == doctest::Approx(-2.0));
  CHECK(w.grad.at(0) == 0.0);
  backward(y);
  CHECK(w.grad.at(0) == doctest::Approx(4.0));
  w.zero_grad();
  CHECK(w.grad.at(0) == 0.0);
}

TEST_CASE("a seed gradient differentiates a non-scalar output") {
  Tape tape;
  Var x = tape.leaf(Tensor::from_values({1, 2, 3}, {3}, DType::f64), true);
  Var y = square(x);
  backward(y, Tensor::from_values({1, 0, -1}, {3}, DType::f64));
  CHECK(x.grad().at(0) == doctest::Approx(2.0));
  CHECK(x.grad().at(1) == doctest::Approx(0.0));
  CHECK(x.grad().at(2) == doctest::Approx(-6.0));
}

TEST_CASE("a 100,000-op chain records, differentiates and is destroyed without recursion") {
  auto tape = std::make_unique<Tape>();
  Var x = tape->leaf(Tensor::from_values({0.5}, {1}, DType::f64), true);
  Var h = x;
  for (int i = 0; i < 100000; ++i) h = affine(h, 1.0, 1e-6);
  backward(sum(h));
  CHECK(tape->size() == 100002);
  CHECK(x.grad().at(0) == doctest::Approx(1.0));
  tape.reset();  // flat destruction
}

TEST_CASE("a training loop reaches a steady state: no arena growth over 10,000 steps") {
  Parameter w("w", Tensor::from_values({0.1, 0.2, 0.3, 0.4}, {2, 2}, DType::f32));
  Tape tape;
  const Tensor input = Tensor::from_values({1, 2, 3, 4, 5, 6}, {3, 2}, DType::f32);
  size_t reserved_after_warmup = 0, chunks_after_warmup = 0;
  for (int step = 0; step < 10000; ++step) {
    tape.reset();
    Var y = tanh(linear(tape.leaf(input), tape.param(w)));
    backward(mean(square(y)));
    if (step == 10) {
      reserved_after_warmup = tape.arena().reserved_bytes();
      chunks_after_warmup = tape.arena().chunk_count();
    }
  }
  CHECK(reserved_after_warmup > 0);
  CHECK(tape.arena().reserved_bytes() == reserved_after_warmup);
  CHECK(tape.arena().chunk_count() == chunks_after_warmup);
}

TEST_CASE("the arena coalesces to one chunk after a pass that overflowed it") {
  Tape tape;
  const Tensor big = Tensor::zeros({1 << 18}, DType::f32);  // 1 MiB values, several per pass
  for (int pass = 0; pass < 3; ++pass) {
    tape.reset();
    Var x = tape.leaf(big, true);
    for (int i = 0; i < 4; ++i) x = affine(x, 1.0, 1.0);
  }
  CHECK(tape.arena().chunk_count() == 1);
}
