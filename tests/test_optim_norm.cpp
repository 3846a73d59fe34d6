// SPDX-License-Identifier: Apache-2.0
// What lives here: the global gradient norm (typed loops, same bits as the element-wise definition), the
// optimizer skipping it when clipping is off without changing any update, and metrics::rmse/mae being
// io's rmse/mae (one implementation).
#include <cmath>
#include <memory>

#include "test_helpers.h"
#include "io/datasets.h"
#include "train/loss.h"
#include "train/optimizer.h"
#include "unroll.h"

using namespace unroll;

namespace {
// The definition, element by element through the slow accessor, in path order.
double reference_norm(const std::vector<std::pair<std::string, Parameter*>>& params) {
  double total = 0;
  for (const auto& entry : params)
    for (int64_t i = 0; i < entry.second->grad.numel(); ++i) {
      const double g = entry.second->grad.at(i);
      total += g * g;
    }
  return std::sqrt(total);
}
}  // namespace

TEST_CASE("global gradient norm: the same bits as the element-wise definition, float32 and float64") {
  Rng rng(7);
  Parameter a("a", Tensor::zeros({37, 11}, DType::f32)), b("b", Tensor::zeros({1001}, DType::f64)),
      c("c", Tensor::zeros({5, 3}, DType::f32));
  // Magnitudes over many decades, so any reordering or float accumulation would change low bits.
  for (Parameter* p : {&a, &b, &c})
    for (int64_t i = 0; i < p->grad.numel(); ++i) p->grad.set(i, rng.normal() * std::pow(10.0, rng.uniform(-6, 6)));
  const std::vector<std::pair<std::string, Parameter*>> params = {{"a", &a}, {"b", &b}, {"c", &c}};
  const double expected = reference_norm(params);
  CHECK(global_grad_norm(params) == expected);  // exact, not approximate
  CHECK(clip_grad_norm(params, 0.0) == expected);
  CHECK(clip_grad_norm(params, 1e300) == expected);
  // Order matters for the bits; the norm follows the given path order.
  CHECK(global_grad_norm({{"c", &c}, {"a", &a}, {"b", &b}}) == reference_norm({{"c", &c}, {"a", &a}, {"b", &b}}));
}

TEST_CASE("optimizer without clipping skips the norm and updates exactly as with a clip that never bites") {
  for (const char* kind : {"adam", "sgd", "rmsprop"}) {
    CAPTURE(kind);
    Rng rng(3);
    const Tensor w0 = testing::random_tensor({4, 3}, rng, -1, 1, DType::f32);
    const Tensor g = testing::random_tensor({4, 3}, rng, -1, 1, DType::f32);
    Parameter off("w", w0.clone()), never("w", w0.clone());
    OptimizerConfig config;
    config.kind = kind;
    config.lr = 0.01;
    config.momentum = std::string(kind) == "adam" ? 0.0 : 0.9;
    Optimizer a({{"w", &off}}, config);
    config.clip_norm = 1e30;  // computed every step, never scales
    Optimizer b({{"w", &never}}, config);
    for (int step = 0; step < 3; ++step) {
      off.grad.copy_from(g);
      never.grad.copy_from(g);
      CHECK(std::isnan(a.step()));  // off: not computed
      CHECK(b.step() == reference_norm({{"w", &off}}));
      CHECK(off.grad.bit_equal(never.grad));
      CHECK(off.value.bit_equal(never.value));
    }
    CHECK_FALSE(off.value.bit_equal(w0));  // the updates did happen
  }
}

TEST_CASE("optimizer: the update split between OpenMP threads gives the same bits as one thread") {
  // Above Optimizer::kThreadedUpdateElements in all, with parameters of odd sizes and both dtypes, so
  // the threads' runs start and end inside parameters.
  const std::vector<std::pair<Shape, DType>> shapes = {
      {{1001, 150}, DType::f32}, {{3}, DType::f64}, {{7, 17001}, DType::f32}, {{513}, DType::f64}};
  for (const char* kind : {"adam", "sgd", "rmsprop"}) {
    CAPTURE(kind);
    OptimizerConfig config;
    config.kind = kind;
    config.lr = 0.01;
    config.weight_decay = 0.1;
    config.momentum = std::string(kind) == "adam" ? 0.0 : 0.9;
    const auto train = [&](int threads) {
      const testing::OmpThreads scoped(threads);
      Rng rng(5);
      std::vector<std::unique_ptr<Parameter>> owned;
      std::vector<std::pair<std::string, Parameter*>> params;
      int64_t total = 0;
      for (size_t i = 0; i < shapes.size(); ++i) {
        const std::string path = fmt::format("p{}", i);
        owned.push_back(std::make_unique<Parameter>(path, testing::random_tensor(shapes[i].first, rng, -1, 1, shapes[i].second)));
        params.emplace_back(path, owned.back().get());
        total += owned.back()->value.numel();
      }
      REQUIRE(total > Optimizer::kThreadedUpdateElements);
      Optimizer optimizer(params, config);
      for (int step = 0; step < 3; ++step) {
        for (auto& p : owned) p->grad.copy_from(testing::random_tensor(p->value.shape(), rng, -1, 1, p->value.dtype()));
        optimizer.step();
      }
      std::vector<Tensor> values;
      for (auto& p : owned) values.push_back(p->value.clone());
      for (const auto& [path, slots] : optimizer.export_state().slots)
        for (const auto& [name, slot] : slots) values.push_back(slot.clone());
      return values;
    };
    const std::vector<Tensor> one = train(1);
    for (int threads : {2, 3}) {
      CAPTURE(threads);
      const std::vector<Tensor> split = train(threads);
      REQUIRE(split.size() == one.size());
      for (size_t i = 0; i < one.size(); ++i) CHECK(split[i].bit_equal(one[i]));
    }
  }
}

TEST_CASE("optimizer: a gradient of the wrong shape is an error before any parameter changes") {
  Parameter first("first", Tensor::zeros({2}, DType::f32)), second("second", Tensor::zeros({2}, DType::f32));
  first.grad.fill(1.0);
  second.grad = Tensor::zeros({3}, DType::f32);
  OptimizerConfig config;
  config.kind = "sgd";
  config.lr = 0.5;
  config.clip_norm = 1.0;
  Optimizer opt({{"first", &first}, {"second", &second}}, config);
  CHECK_THROWS_WITH_AS(opt.step(),
                       "optimizer: parameter 'second' has gradient of shape [3] for value of shape [2] (hint: run "
                       "backward on a tape that used this parameter)",
                       UsageError);
  CHECK(first.value.at(0) == 0.0);  // not updated, and its gradient not clipped
  CHECK(first.grad.at(0) == 1.0);
  CHECK(opt.steps_taken() == 0);
}

TEST_CASE("metrics::rmse / mae over vectors are io's rmse / mae (one implementation)") {
  const std::vector<double> p = {1, 2, 3, -1.5}, t = {1.25, 2, 7, 0.5};
  CHECK(metrics::rmse(p, t) == rmse(p, t));
  CHECK(metrics::mae(p, t) == mae(p, t));
  CHECK(metrics::rmse(p, t) == doctest::Approx(std::sqrt((0.0625 + 16 + 4) / 4)));
  CHECK_THROWS_WITH_AS(metrics::rmse({1, 2}, {1}), "rmse: 2 predictions but 1 targets (hint: one prediction per window)",
                       ShapeError);
  CHECK_THROWS_WITH_AS(metrics::mae(std::vector<double>{}, std::vector<double>{}), "mae: no values (hint: the evaluated split has no window)", UsageError);
}
