// SPDX-License-Identifier: Apache-2.0
// What lives here: tests of train/optimizer, train/schedule and train/loss: each optimizer against a
// hand-computed float64 step, against torch.optim on a tiny problem (numbers from
// tools/make_optimizer_reference.py), state export/import by path (bit-exact continuation), clipping,
// schedules, metrics and the error messages.
#include <cmath>

#include "test_helpers.h"
#include "train/loss.h"
#include "train/optimizer.h"
#include "train/schedule.h"
#include "unroll.h"

using namespace unroll;

namespace {

// One scalar parameter w = 1 with gradient 0.5, stepped `steps` times with the gradient reset each time.
double step_scalar(OptimizerConfig config, int steps, double lr) {
  Parameter w("w", Tensor::from_values({1.0}, {1}, DType::f64));
  Optimizer opt({{"w", &w}}, config);
  for (int i = 0; i < steps; ++i) {
    w.grad.fill(0.5);
    opt.step(lr);
  }
  return w.value.at(0);
}

// loss(w) = sum((w * x - y)^2) on the tape; gradient into w.grad.
void compute_grad(Parameter& w) {
  Tape tape;
  const Tensor x = Tensor::from_values({1.0, 2.0, -0.5}, {3}, w.value.dtype());
  const Tensor y = Tensor::from_values({0.3, 0.1, -2.0}, {3}, w.value.dtype());
  w.zero_grad();
  Var r = tape.param(w) * tape.constant(x) - tape.constant(y);
  backward(sum(square(r)));
}

std::vector<std::vector<double>> run_torch_problem(const OptimizerConfig& config) {
  Parameter w("w", Tensor::from_values({0.5, -1.0, 2.0}, {3}, DType::f64));
  Optimizer opt({{"w", &w}}, config);
  std::vector<std::vector<double>> out;
  for (int i = 0; i < 3; ++i) {
    compute_grad(w);
    opt.step();
    out.push_back(w.value.to_vector());
  }
  return out;
}

void check_rows(const std::vector<std::vector<double>>& got, const std::vector<std::vector<double>>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t s = 0; s < got.size(); ++s)
    for (size_t i = 0; i < got[s].size(); ++i) {
      INFO("step " << s + 1 << " element " << i);
      CHECK(got[s][i] == doctest::Approx(want[s][i]).epsilon(1e-13));
    }
}

}  // namespace

TEST_CASE("optimizers: one hand-computed float64 step each") {
  OptimizerConfig sgd{.kind = "sgd"};
  CHECK(step_scalar(sgd, 1, 0.1) == doctest::Approx(0.95).epsilon(1e-15));

  OptimizerConfig sgd_wd{.kind = "sgd", .weight_decay = 0.1};
  CHECK(step_scalar(sgd_wd, 1, 0.1) == doctest::Approx(0.94).epsilon(1e-15));  // g' = 0.5 + 0.1 * 1

  OptimizerConfig momentum{.kind = "sgd", .momentum = 0.9};
  // buf1 = 0.5, w1 = 0.95; buf2 = 0.9 * 0.5 + 0.5 = 0.95, w2 = 0.95 - 0.095
  CHECK(step_scalar(momentum, 2, 0.1) == doctest::Approx(0.855).epsilon(1e-15));

  OptimizerConfig nesterov{.kind = "sgd", .momentum = 0.9, .nesterov = true};
  // step 1: buf = 0.5, g = 0.5 + 0.9 * 0.5 = 0.95 -> 0.905; step 2: buf = 0.95, g = 0.5 + 0.855 -> 0.7695
  CHECK(step_scalar(nesterov, 2, 0.1) == doctest::Approx(0.7695).epsilon(1e-15));

  OptimizerConfig adam{.kind = "adam"};
  // m = 0.05, v = 0.00025, m_hat = 0.5, sqrt(v_hat) = 0.5: w = 1 - 0.1 * 0.5 / (0.5 + 1e-8)
  CHECK(step_scalar(adam, 1, 0.1) == doctest::Approx(1.0 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-15));

  OptimizerConfig rmsprop{.kind = "rmsprop"};
  // square_avg = 0.01 * 0.25, avg = 0.05 + 1e-8: w = 1 - 0.01 * 0.5 / avg
  CHECK(step_scalar(rmsprop, 1, 0.01) == doctest::Approx(1.0 - 0.01 * 0.5 / (0.05 + 1e-8)).epsilon(1e-15));
}

TEST_CASE("optimizers match torch.optim on a tiny float64 problem") {
  SUBCASE("Adam") {
    check_rows(run_torch_problem({.kind = "adam", .lr = 0.1}),
               {{0.40000000249999995, -0.90000000011904757, 2.099999999},
                {0.30678204120127273, -0.80038511048230876, 2.1998335123681239},
                {0.23281908063038803, -0.70147780576396734, 2.2993766056565885}});
  }
  SUBCASE("Adam with weight decay") {
    check_rows(run_torch_problem({.kind = "adam", .lr = 0.05, .weight_decay = 0.1}),
               {{0.4500000011111111, -0.95000000005882357, 2.0499999993750002},
                {0.40077185458044945, -0.90007847880047176, 2.09994107451976},
                {0.35323881004111268, -0.85029351470979042, 2.1497806909511561}});
  }
  SUBCASE("SGD, Nesterov momentum and weight decay") {
    check_rows(run_torch_problem({.kind = "sgd", .lr = 0.05, .weight_decay = 0.01, .momentum = 0.9, .nesterov = true}),
               {{0.46152500000000002, -0.2010499999999999, 2.0931000000000002},
                {0.41399430125000003, 0.33054399750000008, 2.2213793050000001},
                {0.36390939680131251, 0.504982667852375, 2.3772414971727502}});
  }
  SUBCASE("RMSprop with momentum") {
    check_rows(run_torch_problem({.kind = "rmsprop", .lr = 0.01, .momentum = 0.5}),
               {{0.40000002499999382, -0.90000000119047618, 2.099999990000001},
                {0.3050987131117846, -0.78272344637664748, 2.2190566547678743},
                {0.2553477433499512, -0.67309909878065877, 2.3331165672356775}});
  }
}

TEST_CASE("optimizer state is keyed by path: export, import in another order, continue bit-exactly") {
  for (const char* kind : {"adam", "sgd", "rmsprop"}) {
    CAPTURE(kind);
    const OptimizerConfig config{.kind = kind, .lr = 0.01, .weight_decay = 0.01, .momentum = 0.5};
    auto make = [] {
      std::vector<std::unique_ptr<Parameter>> ps;
      ps.push_back(std::make_unique<Parameter>("a", Tensor::from_values({0.5, -1.0, 2.0}, {3}, DType::f32)));
      ps.push_back(std::make_unique<Parameter>("b", Tensor::from_values({0.25, 1.5, -0.75}, {3}, DType::f64)));
      return ps;
    };
    auto fake_grads = [](std::vector<std::unique_ptr<Parameter>>& ps, int step) {
      for (auto& p : ps)
        for (int64_t i = 0; i < 3; ++i) p->grad.set(i, std::sin(1.0 + step + i) * p->value.at(i));
    };
    auto straight = make();
    Optimizer a({{"a", straight[0].get()}, {"b", straight[1].get()}}, config);
    for (int s = 0; s < 5; ++s) {
      fake_grads(straight, s);
      a.step();
    }
    auto split = make();
    Optimizer first({{"a", split[0].get()}, {"b", split[1].get()}}, config);
    for (int s = 0; s < 2; ++s) {
      fake_grads(split, s);
      first.step();
    }
    const OptimizerState saved = first.export_state();
    CHECK(saved.step == 2);
    Optimizer second({{"b", split[1].get()}, {"a", split[0].get()}}, config);  // other registration order
    second.import_state(saved);
    for (int s = 2; s < 5; ++s) {
      fake_grads(split, s);
      second.step();
    }
    CHECK(second.steps_taken() == 5);
    CHECK(split[0]->value.bit_equal(straight[0]->value));
    CHECK(split[1]->value.bit_equal(straight[1]->value));
  }
}

TEST_CASE("optimizer errors name the path, the slot and both shapes") {
  Parameter w("w", Tensor::zeros({2, 3}, DType::f64));
  Optimizer adam({{"enc/w", &w}}, {.kind = "adam"});
  OptimizerState state = adam.export_state();
  state.slots["enc/w"]["exp_avg"] = Tensor::zeros({3, 2}, DType::f64);
  CHECK_THROWS_WITH_AS(adam.import_state(state),
                       "optimizer: slot 'exp_avg' of parameter 'enc/w' has shape [3, 2] but the parameter has shape [2, 3]",
                       IoError);
  state.slots.erase("enc/w");
  CHECK_THROWS_WITH_AS(adam.import_state(state),
                       "optimizer: the saved state has no slots for parameter 'enc/w' (hint: the checkpoint was written "
                       "for a different model)",
                       IoError);
  state.kind = "sgd";
  CHECK_THROWS_WITH_AS(adam.import_state(state),
                       "optimizer: the saved state is for 'sgd' but this optimizer is 'adam' (hint: resume with "
                       "--optimizer sgd)",
                       IoError);
  CHECK_THROWS_WITH_AS(Optimizer({{"w", &w}, {"w", &w}}, {}),
                       "optimizer: parameter path 'w' appears twice (hint: optimizer state is keyed by path)", UsageError);
  CHECK_THROWS_WITH_AS(Optimizer({{"w", &w}}, {.kind = "adagrad"}),
                       "optimizer: unknown kind 'adagrad' (hint: use adam, sgd or rmsprop)", DataError);
  const OptimizerConfig round = OptimizerConfig::from_json(OptimizerConfig{.kind = "sgd", .lr = 0.5, .momentum = 0.9}.to_json());
  CHECK(round.kind == "sgd");
  CHECK(round.lr == 0.5);
  CHECK(round.momentum == 0.9);
}

TEST_CASE("clipping by global gradient norm") {
  Parameter a("a", Tensor::zeros({1}, DType::f64)), b("b", Tensor::zeros({1}, DType::f32));
  a.grad.fill(3.0);
  b.grad.fill(4.0);
  const double norm = clip_grad_norm({{"a", &a}, {"b", &b}}, 1.0);
  CHECK(norm == doctest::Approx(5.0));
  CHECK(a.grad.at(0) == doctest::Approx(3.0 / (5.0 + 1e-6)).epsilon(1e-15));
  CHECK(b.grad.at(0) == doctest::Approx(4.0 / (5.0 + 1e-6)).epsilon(1e-6));
  // below the limit: unchanged
  a.grad.fill(0.3);
  b.grad.fill(0.4);
  CHECK(clip_grad_norm({{"a", &a}, {"b", &b}}, 1.0) == doctest::Approx(0.5));
  CHECK(a.grad.at(0) == 0.3);
}

TEST_CASE("schedules: constant, step decay, cosine, each after a warm-up") {
  Schedule constant({.kind = "constant", .base_lr = 0.1, .warmup_steps = 4});
  CHECK(constant.lr(1) == doctest::Approx(0.025));
  CHECK(constant.lr(4) == doctest::Approx(0.1));
  CHECK(constant.lr(100) == doctest::Approx(0.1));

  Schedule step({.kind = "step", .base_lr = 0.1, .step_size = 10, .gamma = 0.5});
  CHECK(step.lr(1) == doctest::Approx(0.1));
  CHECK(step.lr(10) == doctest::Approx(0.1));
  CHECK(step.lr(11) == doctest::Approx(0.05));
  CHECK(step.lr(25) == doctest::Approx(0.025));

  Schedule cosine({.kind = "cosine", .base_lr = 0.1, .warmup_steps = 2, .total_steps = 10, .min_lr = 0.01});
  CHECK(cosine.lr(1) == doctest::Approx(0.05));
  CHECK(cosine.lr(3) == doctest::Approx(0.1));                 // first step after warm-up
  CHECK(cosine.lr(8) == doctest::Approx(0.01 + 0.045 * (1 + std::cos(3.141592653589793 * 0.5))));
  CHECK(cosine.lr(13) == doctest::Approx(0.01));
  CHECK(cosine.lr(1000) == doctest::Approx(0.01));

  const auto state = cosine.state(7);
  CHECK(state["step"] == 7);
  const Schedule restored(ScheduleConfig::from_json(state["config"]));
  for (int64_t s = 1; s < 20; ++s) CHECK(restored.lr(s) == cosine.lr(s));
  CHECK_THROWS_WITH_AS(Schedule({.kind = "linear"}), "schedule: unknown kind 'linear' (hint: use constant, step or cosine)",
                       DataError);
}

TEST_CASE("cross-entropy in float32 (vectorised exp) agrees with float64, large logits included") {
  Rng rng(9);
  const int64_t rows = 37, classes = 131;  // odd sizes: the vector loops' tails
  for (double spread : {1.0, 30.0, 200.0}) {  // 200: exp(z - max) underflows for most classes
    CAPTURE(spread);
    const Tensor z = testing::random_tensor({rows, classes}, rng, -spread, spread);
    std::vector<int64_t> targets;
    for (int64_t r = 0; r < rows; ++r) targets.push_back((r * 7) % classes);
    const auto loss_and_grad = [&](DType dtype) {
      Tape tape;
      const Var x = tape.leaf(z.to(dtype), true);
      const Var loss = cross_entropy_loss(x, targets);
      backward(loss);
      return std::pair{loss.item(), x.grad().to(DType::f64)};
    };
    const auto [loss64, grad64] = loss_and_grad(DType::f64);
    const auto [loss32, grad32] = loss_and_grad(DType::f32);
    CHECK(loss32 == doctest::Approx(loss64).epsilon(1e-6));
    // The gradient is (softmax - onehot) / rows: every row of softmax sums to 1.
    CHECK(testing::max_abs_diff(grad32, grad64) < 1e-7);
  }
}

TEST_CASE("losses and metrics: mse, cross-entropy, rmse, mae, accuracy") {
  Tape tape;
  Var p = tape.leaf(Tensor::from_values({1, 2, 3, 4}, {2, 2}, DType::f64), true);
  Var t = tape.constant(Tensor::from_values({1, 0, 3, 8}, {2, 2}, DType::f64));
  CHECK(mse_loss(p, t).item() == doctest::Approx((4.0 + 16.0) / 4));
  Var logits = tape.leaf(Tensor::from_values({2, 0, 0, 0, 0, 2}, {2, 3}, DType::f64), true);
  const double lse = std::log(std::exp(2.0) + 2.0);
  CHECK(cross_entropy_loss(logits, {0, 1}).item() == doctest::Approx(((lse - 2) + lse) / 2));

  CHECK(metrics::rmse(p.value(), t.value()) == doctest::Approx(std::sqrt(5.0)));
  CHECK(metrics::mae(p.value(), t.value()) == doctest::Approx(1.5));
  CHECK(metrics::accuracy(logits.value(), {0, 1}) == doctest::Approx(0.5));
  CHECK(metrics::accuracy(logits.value(), {0, 2}) == doctest::Approx(1.0));
  CHECK_THROWS_WITH_AS(metrics::rmse(Tensor::zeros({2}, DType::f64), Tensor::zeros({3}, DType::f64)),
                       "rmse: prediction shape [2] does not match target shape [3] (hint: reshape one)", ShapeError);
}
