// SPDX-License-Identifier: Apache-2.0
// What lives here: the gradient checker itself: it passes correct gradients, fails a deliberately wrong
// backward and names the worst entry, uses random directions for large problems, and warns on float32.
#include "ops/op.h"
#include "test_helpers.h"
#include "unroll.h"

using namespace unroll;
using unroll::testing::random_tensor;

namespace {
// y = x^3 recorded with a WRONG backward: dx += dy * 2x (the derivative of x^2).
void wrong_cube_backward(BackwardContext& c) {
  const double* x = c.in(0).data<double>();
  const double* dy = c.dout().data<double>();
  double* dx = c.din(0).data<double>();
  for (int64_t i = 0; i < c.out().numel(); ++i) dx[i] += dy[i] * 2 * x[i];
}
Var wrong_cube(Var x) {
  Tensor y = x.tape().alloc(x.shape(), x.dtype());
  for (int64_t i = 0; i < y.numel(); ++i) y.set(i, std::pow(x.value().at(i), 3));
  return record_op(OpKind::square, {x}, y, &wrong_cube_backward);
}
}  // namespace

TEST_CASE("gradcheck fails on a deliberately wrong backward and names the worst entry") {
  const Tensor x = Tensor::from_values({0.5, -2.0, 1.5}, {3}, DType::f64);
  const GradcheckReport report = gradcheck([](Tape&, const std::vector<Var>& in) { return wrong_cube(in[0]); }, {x},
                                           {}, {.input_names = {"x"}});
  CHECK_FALSE(report.ok);
  CHECK(report.worst.input == "x");
  CHECK(report.worst.index == 1);  // |3x^2 - 2x| is largest at x = -2
  CHECK(report.worst.analytic == doctest::Approx(-4.0));
  CHECK(report.worst.numeric == doctest::Approx(12.0).epsilon(1e-6));
  CHECK(report.summary().find("gradcheck FAILED") == 0);
}

TEST_CASE("gradcheck checks parameters in place and restores them") {
  Rng rng(1);
  Parameter w("layer/w", random_tensor({3, 2}, rng));
  const Tensor before = w.value.clone();
  const GradcheckReport report = gradcheck(
      [&](Tape& tape, const std::vector<Var>& in) { return tanh(linear(in[0], tape.param(w))); },
      {random_tensor({4, 2}, rng)}, {&w});
  CHECK(report.ok);
  CHECK(report.worst_per_input.size() == 2);
  CHECK(report.worst_per_input[1].input == "layer/w");
  CHECK(w.value.bit_equal(before));
}

TEST_CASE("gradcheck uses random directional derivatives for large problems, and still catches errors") {
  Rng rng(2);
  const Tensor big = random_tensor({40, 40}, rng);
  GradcheckOptions options;
  options.max_jacobian_entries = 1000;
  const auto good = gradcheck([](Tape&, const std::vector<Var>& in) { return tanh(in[0]); }, {big}, {}, options);
  CHECK(good.directional);
  CHECK(good.ok);
  const auto bad = gradcheck([](Tape&, const std::vector<Var>& in) { return wrong_cube(in[0]); }, {big}, {}, options);
  CHECK(bad.directional);
  CHECK_FALSE(bad.ok);
}

TEST_CASE("gradcheck warns when called on float32") {
  const Tensor x = Tensor::from_values({0.5, 0.25}, {2}, DType::f32);
  const auto report = gradcheck([](Tape&, const std::vector<Var>& in) { return tanh(in[0]); }, {x}, {},
                                {.atol = 1e-2, .rtol = 1e-2, .warn = false});
  REQUIRE(report.warnings.size() == 1);
  CHECK(report.warnings[0].find("float32") != std::string::npos);
}

namespace {
// y = relu(x) recorded with a WRONG backward: dx += dy / 2 where x > 0.
void half_relu_backward(BackwardContext& c) {
  const double* x = c.in(0).data<double>();
  const double* dy = c.dout().data<double>();
  double* dx = c.din(0).data<double>();
  for (int64_t i = 0; i < c.out().numel(); ++i) dx[i] += x[i] > 0 ? dy[i] / 2 : 0.0;
}
Var half_relu(Var x) {
  Tensor y = x.tape().alloc(x.shape(), x.dtype());
  for (int64_t i = 0; i < y.numel(); ++i) y.set(i, std::max(0.0, x.value().at(i)));
  return record_op(OpKind::relu, {x}, y, &half_relu_backward);
}
}  // namespace

TEST_CASE("gradcheck: points whose differences straddle a ReLU kink are reported as kinks, not as wrong gradients") {
  // The default float64 step is about 6e-6: x = 2e-6 and -3e-6 straddle the kink at 0, 0.5 and -0.7 do not.
  const Tensor x = Tensor::from_values({2e-6, -3e-6, 0.5, -0.7}, {4}, DType::f64);
  const GradcheckReport report =
      gradcheck([](Tape&, const std::vector<Var>& in) { return relu(in[0]); }, {x}, {}, {.input_names = {"x"}});
  CHECK(report.ok);
  CHECK(report.kinks_skipped == 2);
  REQUIRE(report.kinks_per_input.size() == 1);
  CHECK(report.kinks_per_input[0] == 2);
  CHECK(report.summary().find("2 entries straddle a kink") != std::string::npos);
  CHECK(report.summary().find("kink, skipped") != std::string::npos);
}

TEST_CASE("gradcheck: a wrong gradient near a kink still fails (the kink rule does not hide it)") {
  const Tensor x = Tensor::from_values({2e-6, 0.5, -0.7}, {3}, DType::f64);
  const GradcheckReport report =
      gradcheck([](Tape&, const std::vector<Var>& in) { return half_relu(in[0]); }, {x}, {}, {.input_names = {"x"}});
  CHECK_FALSE(report.ok);
  CHECK(report.worst.index == 1);  // the smooth point: analytic 0.5, numeric 1
  CHECK(report.worst.analytic == doctest::Approx(0.5));
  CHECK(report.kinks_skipped == 0);  // at 2e-6 the analytic 0.5 matches neither one-sided difference (1 and 1/3)
  GradcheckOptions directional;
  directional.max_jacobian_entries = 1;
  CHECK_FALSE(gradcheck([](Tape&, const std::vector<Var>& in) { return half_relu(in[0]); }, {x}, {}, directional).ok);
}
