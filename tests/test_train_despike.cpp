// SPDX-License-Identifier: Apache-2.0
// What lives here: tests of the robust-input option of ForecastModel (Note [Robust inputs] in
// train/forecast_model.h): despike_inputs on hand-made windows (a spike inside, at either end, below the
// threshold, a ramp, short windows), robust_step_std against hand-computed medians, the config's JSON
// round trip and messages, and that the model really sees the filtered window (net and residual).
#include <cmath>
#include <numbers>

#include "graph/check.h"
#include "graph/tape.h"
#include "test_helpers.h"
#include "train_test_helpers.h"
#include "train/forecast_model.h"

using namespace unroll;

namespace {

// One window per column: rows are time steps. windows[b][j] -> x [T, B, 1].
Tensor windows_tensor(const std::vector<std::vector<double>>& windows, DType dtype = DType::f64) {
  const int64_t B = static_cast<int64_t>(windows.size()), T = static_cast<int64_t>(windows[0].size());
  Tensor x = Tensor::empty(Shape{T, B, 1}, dtype);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < T; ++j) x.set(j * B + b, windows[static_cast<size_t>(b)][static_cast<size_t>(j)]);
  return x;
}

std::vector<double> column(const Tensor& x, int64_t b) {
  const int64_t T = x.shape()[0], B = x.shape()[1];
  std::vector<double> out;
  for (int64_t j = 0; j < T; ++j) out.push_back(x.at(j * B + b));
  return out;
}

ForecastModelConfig despike_model(double threshold, bool residual) {
  ForecastModelConfig c = testing::small_lstm_forecaster();
  c.residual = residual;
  c.despike_sigmas = threshold > 0 ? 10 : 0;
  c.despike = threshold;
  return c;
}

}  // namespace

TEST_CASE("despike_inputs: isolated spikes anywhere in the window become the 3-point median") {
  const Tensor x = windows_tensor({
      {0.10, 0.11, 0.90, 0.12, 0.13, 0.14},   // spike inside
      {0.80, 0.11, 0.12, 0.13, 0.14, 0.15},   // spike at the first input
      {0.10, 0.11, 0.12, 0.13, 0.14, -0.60},  // spike at the last input (one-sided neighbourhood)
      {0.10, 0.11, 0.15, 0.12, 0.13, 0.14},   // 0.15: 0.03 above its median, below the threshold
      {0.10, 0.15, 0.20, 0.25, 0.30, 0.35},   // a ramp: every step below the threshold
  });
  const Tensor y = despike_inputs(x, 0.1);
  CHECK(y.shape() == x.shape());
  CHECK(y.dtype() == x.dtype());
  CHECK(column(y, 0) == std::vector<double>{0.10, 0.11, 0.12, 0.12, 0.13, 0.14});
  CHECK(column(y, 1) == std::vector<double>{0.12, 0.11, 0.12, 0.13, 0.14, 0.15});
  CHECK(column(y, 2) == std::vector<double>{0.10, 0.11, 0.12, 0.13, 0.14, 0.13});
  CHECK(column(y, 3) == column(x, 3));
  CHECK(column(y, 4) == column(x, 4));
  // medians come from the unfiltered values, and the input is not modified
  CHECK(column(x, 0) == std::vector<double>{0.10, 0.11, 0.90, 0.12, 0.13, 0.14});
  // off, and windows too short for a 3-point median, pass through unchanged
  CHECK(despike_inputs(x, 0.0).bit_equal(x));
  const Tensor short_x = windows_tensor({{0.1, 5.0}});
  CHECK(despike_inputs(short_x, 0.1).bit_equal(short_x));
  // float32 windows stay float32
  const Tensor x32 = windows_tensor({{0.1, 0.1, 3.0, 0.1}}, DType::f32);
  const Tensor y32 = despike_inputs(x32, 0.5);
  CHECK(y32.dtype() == DType::f32);
  CHECK(y32.at(2) == doctest::Approx(0.1).epsilon(1e-7));
  CHECK_THROWS_WITH_AS(despike_inputs(Tensor::zeros(Shape{4, 2}, DType::f32), 0.1),
                       "despike_inputs: expected a window batch [T, B, 1], got [4, 2]", ShapeError);
}

TEST_CASE("robust_step_std: 1.4826 x the median absolute one-step change inside the range") {
  // changes 1, 2, 3 -> median 2
  CHECK(robust_step_std({0, 1, 3, 6}, 0, 4) == doctest::Approx(1.4826 * 2).epsilon(1e-15));
  // changes 1, 2, 0, 4 -> median (1 + 2) / 2; a spike (the 4) does not move it much
  CHECK(robust_step_std({0, 1, 3, 3, 7}, 0, 5) == doctest::Approx(1.4826 * 1.5).epsilon(1e-15));
  // only the range counts: [1, 3) holds 1 and 3
  CHECK(robust_step_std({0, 1, 3, 100}, 1, 3) == doctest::Approx(1.4826 * 2).epsilon(1e-15));
  CHECK_THROWS_WITH_AS(robust_step_std({0, 1, 2}, 2, 3), "robust_step_std: need at least 2 values in [2, 3) of a series of 3",
                       DataError);
  // mostly repeated values (median step 0): sqrt(pi/2) x the mean step, here (0 + 0 + 3) / 3
  CHECK(robust_step_std({1, 1, 1, 4}, 0, 4) == doctest::Approx(std::sqrt(std::numbers::pi / 2)).epsilon(1e-15));
  CHECK_THROWS_WITH_AS(robust_step_std({1, 1, 1, 4}, 0, 3),
                       "robust_step_std: the series is constant in [0, 3), so a threshold in multiples of its one-step "
                       "changes is 0 (hint: --despike needs a series that changes)",
                       NumericError);
}

TEST_CASE("ForecastModelConfig: despike round-trips through JSON and is validated") {
  ForecastModelConfig c = despike_model(0.0625, true);
  const ForecastModelConfig back = ForecastModelConfig::from_json(c.to_json());
  CHECK(back.despike == 0.0625);
  CHECK(back.despike_sigmas == 10);
  // off: the keys are not written, so a model without the filter has the same config (and checkpoint) as
  // before the option existed; a config without them means off
  const nlohmann::json off = despike_model(0.0, true).to_json();
  CHECK_FALSE(off.contains("despike"));
  CHECK_FALSE(off.contains("despike_sigmas"));
  CHECK(ForecastModelConfig::from_json(off).despike == 0);
  c.despike = -1;
  CHECK_THROWS_WITH_AS(c.validate(),
                       "ForecastModelConfig: despike must be >= 0, got despike_sigmas 10, despike -1 (hint: 0 "
                       "switches the robust-input filter off)",
                       UsageError);
  c = despike_model(0.1, false);
  c.history = 2;
  CHECK_THROWS_WITH_AS(c.validate(),
                       "ForecastModelConfig: despike needs history >= 3 (a median of 3 neighbours), got history 2 "
                       "(hint: use a longer history or --despike 0)",
                       UsageError);
}

TEST_CASE("ForecastModel with despike: the network and the residual see the filtered window") {
  const Tensor spiky = windows_tensor({{0.10, 0.11, 0.90, 0.12, 0.13, 0.14}, {0.10, 0.11, 0.12, 0.13, 0.14, -0.60}},
                                      DType::f32);
  const Tensor filtered = despike_inputs(spiky, 0.1);
  REQUIRE_FALSE(filtered.bit_equal(spiky));
  for (bool residual : {false, true}) {
    CAPTURE(residual);
    Rng r1(7), r2(7);
    ForecastModel with(despike_model(0.1, residual), r1), without(despike_model(0.0, residual), r2);
    Tape tape;
    const Tensor a = with.forward(tape, tape.constant(spiky)).value().clone();
    const Tensor b = without.forward(tape, tape.constant(filtered)).value().clone();
    const Tensor c = without.forward(tape, tape.constant(spiky)).value().clone();
    for (int64_t i = 0; i < 2; ++i) {
      CHECK(a.at(i) == doctest::Approx(b.at(i)).epsilon(1e-6));
      CHECK(std::abs(a.at(i) - c.at(i)) > 1e-4);  // the spike did change the unfiltered model's output
    }
  }
  // residual with a zeroed head: the prediction is the (filtered) last input itself
  Rng r(3);
  ForecastModel m(despike_model(0.1, true), r);
  m.net().head().weight().value.fill(0.0);
  if (m.net().head().bias() != nullptr) m.net().head().bias()->value.fill(0.0);
  Tape tape;
  const Tensor p = m.forward(tape, tape.constant(spiky)).value();
  CHECK(p.at(0) == doctest::Approx(0.14).epsilon(1e-6));  // no spike at the end: unchanged
  CHECK(p.at(1) == doctest::Approx(0.13).epsilon(1e-6));  // -0.60 at the end -> median of 0.13, 0.14, -0.60
}
