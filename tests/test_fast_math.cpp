// SPDX-License-Identifier: Apache-2.0
// What lives here: accuracy of the vectorisable float32 exp/tanh/sigmoid against double-precision libm
// over the whole useful range, including the tails and tiny arguments; and Note [Same bits on every clone]
// (ops/simd.h): the ops' loops, in whichever clone this CPU selects, give the bits of the plain scalar
// formula compiled here for baseline x86-64.
#include <algorithm>
#include <vector>

#include "autodiff/backward.h"
#include "ops/fast_math.h"
#include "ops/ops.h"
#include "test_helpers.h"

TEST_CASE("fast float32 exp, tanh and sigmoid are accurate to a few ulp") {
  double exp_rel = 0, tanh_abs = 0, tanh_rel = 0, sigmoid_abs = 0;
  for (int i = -2000000; i <= 2000000; ++i) {
    const float x = static_cast<float>(i) * 2e-5f;  // [-40, 40]
    const double e = std::exp(static_cast<double>(x)), t = std::tanh(static_cast<double>(x));
    exp_rel = std::max(exp_rel, std::abs(unroll::fast::exp(x) - e) / e);
    tanh_abs = std::max(tanh_abs, std::abs(unroll::fast::tanh(x) - t));
    if (t != 0) tanh_rel = std::max(tanh_rel, std::abs(unroll::fast::tanh(x) - t) / std::abs(t));
    sigmoid_abs = std::max(sigmoid_abs, std::abs(unroll::fast::sigmoid(x) - 1 / (1 + std::exp(-static_cast<double>(x)))));
  }
  for (float tiny : {1e-30f, 1e-8f, 3e-4f, 5e-4f}) tanh_rel = std::max(tanh_rel, std::abs(unroll::fast::tanh(tiny) - std::tanh(double(tiny))) / std::tanh(double(tiny)));
  CAPTURE(exp_rel);
  CAPTURE(tanh_abs);
  CAPTURE(tanh_rel);
  CAPTURE(sigmoid_abs);
  CHECK(exp_rel < 2e-7);
  CHECK(tanh_abs < 4e-7);
  CHECK(tanh_rel < 4e-7);
  CHECK(sigmoid_abs < 3e-7);
  CHECK(unroll::fast::tanh(100.0f) == 1.0f);
  CHECK(unroll::fast::tanh(-100.0f) == -1.0f);
  CHECK(unroll::fast::sigmoid(-100.0f) == 0.0f);
  CHECK(unroll::fast::exp(-200.0f) < 1e-37f);
}

TEST_CASE("vectorised op loops give the scalar formula's bits, tails included (Note [Same bits on every clone])") {
#if defined(__x86_64__) && defined(__GNUC__)
  MESSAGE("this CPU runs the ", __builtin_cpu_supports("avx512f") ? "x86-64-v4 (AVX-512)"
                                : __builtin_cpu_supports("avx2")  ? "x86-64-v3 (AVX2)"
                                                                  : "baseline",
          " clones");
#endif
  using unroll::Shape;
  using unroll::Tensor;
  unroll::Rng rng(9);
  for (const int64_t hidden : {1, 7, 16, 33, 100}) {  // vector bodies and scalar tails of every width
    CAPTURE(hidden);
    const int64_t batch = 3;
    unroll::Tape tape;
    const Tensor gates = unroll::testing::random_tensor({batch, 4 * hidden}, rng, -9, 9, unroll::DType::f32);
    const Tensor c_prev = unroll::testing::random_tensor({batch, hidden}, rng, -2, 2, unroll::DType::f32);
    const unroll::Var g = tape.constant(gates), cp = tape.constant(c_prev);
    const Tensor cell = unroll::lstm_cell_state(g, cp).value();
    const Tensor sig = unroll::sigmoid(g).value(), th = unroll::tanh(g).value(), ex = unroll::exp(g).value();
    const Tensor prod = unroll::mul(cp, cp).value();
    const float* a = gates.data<float>();
    for (int64_t i = 0; i < gates.numel(); ++i) {
      CAPTURE(i);
      CHECK(sig.data<float>()[i] == unroll::fast::sigmoid(a[i]));
      CHECK(th.data<float>()[i] == unroll::fast::tanh(a[i]));
      CHECK(ex.data<float>()[i] == unroll::fast::exp(a[i]));
    }
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t k = 0; k < hidden; ++k) {
        const float* row = a + b * 4 * hidden;
        const float c = c_prev.data<float>()[b * hidden + k];
        const float expected = unroll::fast::sigmoid(row[hidden + k]) * c +
                               unroll::fast::sigmoid(row[k]) * unroll::fast::tanh(row[2 * hidden + k]);
        CHECK(cell.data<float>()[b * hidden + k] == expected);
        CHECK(prod.data<float>()[b * hidden + k] == c * c);
      }
    // cross_entropy's softmax, seen through its gradient (softmax - onehot) / batch: e = exp(z - max) in a
    // cloned loop, then summed and divided in order.
    const unroll::Var z = tape.leaf(gates, true);
    unroll::backward(unroll::cross_entropy(z, {0, 1, 2}));
    const int64_t classes = 4 * hidden;
    for (int64_t b = 0; b < batch; ++b) {
      const float* row = a + b * classes;
      const float max = *std::max_element(row, row + classes);
      std::vector<float> e(static_cast<size_t>(classes));
      float total = 0;
      for (int64_t k = 0; k < classes; ++k) total += e[static_cast<size_t>(k)] = unroll::fast::exp(row[k] - max);
      for (int64_t k = 0; k < classes; ++k) {
        const float softmax = e[static_cast<size_t>(k)] / total;
        CHECK(z.grad().data<float>()[b * classes + k] == (1.0f / batch) * (softmax - (k == b ? 1.0f : 0.0f)));
      }
    }
  }
}
