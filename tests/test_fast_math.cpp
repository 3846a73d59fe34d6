// What lives here: accuracy of the vectorisable float32 exp/tanh/sigmoid against double-precision libm
// over the whole useful range, including the tails and tiny arguments.
#include "ops/fast_math.h"
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
