// SPDX-License-Identifier: Apache-2.0
// What lives here: typed errors with messages that name the op, the shapes/dtypes and a hint.
#include "test_helpers.h"
#include "unroll.h"

using namespace unroll;

TEST_CASE("shape mismatches name the op and both shapes") {
  Tape tape;
  Var a = tape.leaf(Tensor::zeros({2, 3}, DType::f32));
  Var b = tape.leaf(Tensor::zeros({4}, DType::f32));
  CHECK_THROWS_WITH_AS(add(a, b),
                       "add: shapes [2, 3] and [4] cannot be broadcast (dimension 1 is 3 vs 4; hint: sizes must match "
                       "or be 1)",
                       ShapeError);
  CHECK_THROWS_WITH_AS(matmul(a, a),
                       "matmul: shapes [2, 3] and [2, 3] are not compatible (hint: inner dimensions must agree)",
                       ShapeError);
  Var w = tape.leaf(Tensor::zeros({5, 4}, DType::f32));
  CHECK_THROWS_WITH_AS(linear(a, w),
                       "linear: input shape [2, 3] does not match weight shape [5, 4] (hint: the input's last dimension "
                       "must equal the weight's second dimension, in_features)",
                       ShapeError);
  CHECK_THROWS_WITH_AS(concat({a, b}, 0), doctest::Contains("concat: input 1 has shape [4] but input 0 has shape [2, 3]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(slice(a, 1, 2, 2), "slice: range [2, 4) is outside axis 1 of shape [2, 3]", ShapeError);
  CHECK_THROWS_WITH_AS(sum(a, 2), doctest::Contains("sum: axis 2 is out of range for shape [2, 3]"), ShapeError);
  CHECK_THROWS_WITH_AS(mse(a, b), doctest::Contains("mse: prediction shape [2, 3] does not match target shape [4]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(cross_entropy(a, {0, 3}), "cross_entropy: target 3 at row 1 is not a class index in [0, 3)",
                       ShapeError);
}

TEST_CASE("dtype mismatches name both dtypes") {
  Tape tape;
  Var a = tape.leaf(Tensor::zeros({2}, DType::f32));
  Var b = tape.leaf(Tensor::zeros({2}, DType::f64));
  CHECK_THROWS_WITH_AS(mul(a, b),
                       "mul: dtypes float32 and float64 differ (shapes [2] and [2]; hint: convert one with Tensor::to())",
                       DTypeError);
}

TEST_CASE("backward misuse: non-scalar without seed, twice without retain, nothing to differentiate") {
  Tape tape;
  Var x = tape.leaf(Tensor::from_values({1, 2}, {2}, DType::f64), true);
  Var y = square(x);
  CHECK_THROWS_WITH_AS(backward(y), doctest::Contains("has shape [2], not a scalar (hint: reduce it with sum() or mean()"),
                       UsageError);
  Var loss = sum(y);
  backward(loss);
  CHECK_THROWS_WITH_AS(backward(loss), doctest::Contains("already differentiated without retain_graph"), UsageError);

  Tape other;
  Var c = other.constant(Tensor::from_values({1}, {1}, DType::f64));
  CHECK_THROWS_WITH_AS(backward(sum(c)), doctest::Contains("does not require a gradient"), UsageError);

  Tape retained;
  Var z = retained.leaf(Tensor::from_values({3}, {1}, DType::f64), true);
  Var l = sum(square(z));
  backward(l, {.retain_graph = true});
  backward(l);  // allowed once more; gradients are recomputed, not doubled
  CHECK(z.grad().at(0) == doctest::Approx(6.0));
}

TEST_CASE("a handle used after its tape was reset, or mixed with another tape, is a usage error") {
  Tape tape;
  Var x = tape.leaf(Tensor::zeros({2}, DType::f64), true);
  tape.reset();
  CHECK_THROWS_WITH_AS(x.value(), doctest::Contains("was used after its tape was reset"), UsageError);
  CHECK_THROWS_WITH_AS(tanh(x), doctest::Contains("was used after its tape was reset"), UsageError);
  Tape a, b;
  CHECK_THROWS_WITH_AS(add(a.leaf(Tensor::zeros({1}, DType::f64)), b.leaf(Tensor::zeros({1}, DType::f64))),
                       "add: inputs belong to different tapes (hint: record all inputs of an op on one tape)",
                       UsageError);
}

TEST_CASE("anomaly mode names the first op that produced a non-finite value") {
  Tape tape;
  tape.set_anomaly_detection(true);
  Var x = tape.leaf(Tensor::from_values({-1.0, 4.0}, {2}, DType::f64), true);
  Var ok = sqrt(square(x));
  {
    ScopeGuard scope(tape, "encoder");
    ScopeGuard inner(tape, "cell");
    CHECK_THROWS_WITH_AS(log(neg(ok)),
                         "anomaly: op 'log' (tape node 4, recorded in encoder/cell) produced a non-finite value (NaN or "
                         "Inf); its inputs were finite",
                         NumericError);
  }
  CHECK(ok.value().all_finite());
}
