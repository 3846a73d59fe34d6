// SPDX-License-Identifier: Apache-2.0
// What lives here: tests of train/huber_loss (the composite Huber loss): its value in both regimes against
// the closed form, its gradient (clamp(r, -delta, delta) / n) and a float64 finite-difference check, the
// messages; and the trainer's `loss` option: JSON round trip, the unknown-loss message, and that a Huber
// run trains (and differs from an MSE run with the same seed).
#include <algorithm>
#include <cmath>

#include "autodiff/backward.h"
#include "autodiff/gradcheck.h"
#include "graph/check.h"
#include "io/datasets.h"
#include "ops/ops.h"
#include "test_helpers.h"
#include "train/huber_loss.h"
#include "train/trainer.h"

using namespace unroll;

namespace {

double huber_reference(const Tensor& p, const Tensor& t, double delta) {
  double s = 0;
  for (int64_t i = 0; i < p.numel(); ++i) {
    const double r = std::abs(p.at(i) - t.at(i));
    s += r <= delta ? 0.5 * r * r : delta * (r - 0.5 * delta);
  }
  return s / static_cast<double>(p.numel());
}

Tensor from(const Shape& shape, const std::vector<double>& v) {
  Tensor t = Tensor::empty(shape, DType::f64);
  for (size_t i = 0; i < v.size(); ++i) t.set(static_cast<int64_t>(i), v[i]);
  return t;
}

}  // namespace

TEST_CASE("huber_loss: value and gradient in both regimes (float64)") {
  const double delta = 0.5;
  // residuals -2, -0.3, 0.1, 0.45, 1.5, 3: three quadratic, three linear
  const Tensor p = from(Shape{3, 2}, {-1.0, 0.2, 0.6, 0.95, 2.0, 3.5});
  const Tensor t = from(Shape{3, 2}, {1.0, 0.5, 0.5, 0.5, 0.5, 0.5});
  Tape tape;
  const Var pv = tape.leaf(p, true), tv = tape.leaf(t, true);
  const Var loss = huber_loss(pv, tv, delta);
  CHECK(loss.item() == doctest::Approx(huber_reference(p, t, delta)).epsilon(1e-14));
  // by hand: (0.5*(0.09 + 0.01 + 0.2025) + 0.5*((2 - 0.25) + (1.5 - 0.25) + (3 - 0.25))) / 6
  CHECK(loss.item() == doctest::Approx((0.5 * 0.3025 + 0.5 * 5.75) / 6.0).epsilon(1e-14));
  backward(loss);
  for (int64_t i = 0; i < 6; ++i) {
    const double r = p.at(i) - t.at(i);
    const double expected = std::clamp(r, -delta, delta) / 6.0;
    CHECK(pv.grad().at(i) == doctest::Approx(expected).epsilon(1e-14));
    CHECK(tv.grad().at(i) == doctest::Approx(-expected).epsilon(1e-14));
  }
  // equals mse / 2 when every residual is inside delta
  Tape tape2;
  const Tensor small_p = from(Shape{4}, {0.1, -0.2, 0.3, 0.05}), zeros = from(Shape{4}, {0, 0, 0, 0});
  CHECK(huber_loss(tape2.constant(small_p), tape2.constant(zeros), 1.0).item() ==
        doctest::Approx(0.5 * mse(tape2.constant(small_p), tape2.constant(zeros)).item()).epsilon(1e-14));
}

TEST_CASE("huber_loss: float64 finite-difference gradient check away from the kinks") {
  Rng rng(31);
  // residuals with |r| in [0.05, 0.35] or [0.65, 2]: away from 0 and from delta = 0.5
  Tensor p = Tensor::empty(Shape{4, 3}, DType::f64), t = testing::random_tensor(Shape{4, 3}, rng);
  for (int64_t i = 0; i < p.numel(); ++i) {
    const double mag = i % 2 == 0 ? rng.uniform(0.05, 0.35) : rng.uniform(0.65, 2.0);
    p.set(i, t.at(i) + (rng.uniform() < 0.5 ? -mag : mag));
  }
  const Tensor w = testing::random_tensor(Shape{4, 3}, rng, 0.5, 2.0);  // asymmetric scalarisation via a weight
  const GradcheckReport report = gradcheck(
      [&](Tape& tape, const std::vector<Var>& in) {
        return huber_loss(in[0] * tape.constant(w), in[1] * tape.constant(w), 0.5);
      },
      {p, t});
  INFO(report.summary());
  CHECK(report.ok);
  CHECK(report.entries_checked == 24);
}

TEST_CASE("huber_loss: messages") {
  Tape tape;
  const Var a = tape.constant(from(Shape{2}, {1, 2})), b = tape.constant(from(Shape{2, 1}, {1, 2}));
  CHECK_THROWS_WITH_AS(huber_loss(a, a, 0.0),
                       "huber_loss: delta must be a positive finite number, got 0 (hint: delta is in the targets' units, "
                       "e.g. 0.02 on a min-max scaled series)",
                       UsageError);
  CHECK_THROWS_WITH_AS(huber_loss(a, b, 1.0),
                       "huber_loss: prediction shape [2] does not match target shape [2, 1] (hint: reshape one; the "
                       "loss does not broadcast)",
                       ShapeError);
}

TEST_CASE("trainer: the loss option round-trips, is validated, and a Huber run trains") {
  TrainerConfig c;
  c.loss = "huber";
  c.huber_delta = 0.05;
  const TrainerConfig back = TrainerConfig::from_json(c.to_json());
  CHECK(back.loss == "huber");
  CHECK(back.huber_delta == 0.05);
  nlohmann::json old = c.to_json();  // a checkpoint written before the option existed trains with MSE
  old.erase("loss");
  old.erase("huber_delta");
  CHECK(TrainerConfig::from_json(old).loss == "mse");
  nlohmann::json bad = c.to_json();
  bad["loss"] = "l1";
  CHECK_THROWS_WITH_AS(TrainerConfig::from_json(bad), "trainer: unknown loss 'l1' (hint: use mse or huber)", UsageError);
  bad = c.to_json();
  bad["huber_delta"] = -1.0;
  CHECK_THROWS_WITH_AS(TrainerConfig::from_json(bad),
                       "trainer: the Huber delta must be a positive finite number, got -1 (hint: it is in scaled "
                       "units, e.g. 0.02)",
                       UsageError);

  Series s{"sine", {}};
  for (int64_t i = 0; i < 240; ++i)
    s.values.push_back(std::sin(0.3 * static_cast<double>(i)) + (i % 37 == 0 ? 3.0 : 0.0));  // with outliers
  SplitSpec split;
  split.train_fraction = 0.6;
  split.validation_fraction = 0.2;
  const PreparedData data = prepare_data(std::move(s), split, WindowSpec{8, 1}, ScalerKind::min_max);
  auto run = [&](const std::string& loss) {
    ForecastModelConfig m;
    m.net.recurrent.cell = "lstm";
    m.net.recurrent.input_size = 1;
    m.net.recurrent.hidden_size = 6;
    m.history = 8;
    Rng init(5);
    auto model = std::make_unique<ForecastModel>(m, init);
    TrainerConfig t;
    t.epochs = 3;
    t.batch_size = 16;
    t.seed = 5;
    t.optimizer.lr = 0.01;
    t.loss = loss;
    t.huber_delta = 0.02;
    Trainer trainer(*model, data, t);
    const TrainResult r = trainer.fit();
    REQUIRE(r.status == TrainStatus::completed);
    return std::make_pair(r, model->named_parameters()[0].second->value.clone());
  };
  const auto [huber, huber_w] = run("huber");
  const auto [plain, plain_w] = run("mse");
  // training lowered the (Huber) training loss, and validation (always MSE) is reported
  CHECK(huber.history[2]["train_loss"].get<double>() < huber.history[0]["train_loss"].get<double>());
  CHECK(std::isfinite(huber.history[2]["val_loss"].get<double>()));
  CHECK_FALSE(huber_w.bit_equal(plain_w));
}
