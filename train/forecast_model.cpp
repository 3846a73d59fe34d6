// SPDX-License-Identifier: Apache-2.0
// What lives here: ForecastModel (see forecast_model.h) and its config JSON.
#include "train/forecast_model.h"

#include <algorithm>
#include <cmath>

#include "graph/check.h"
#include "graph/json_fields.h"
#include "ops/ops.h"

namespace unroll {

void ForecastModelConfig::validate() const {
  net.validate();
  UNROLL_CHECK(history >= 1, UsageError, "ForecastModelConfig: history must be positive, got {}", history);
  UNROLL_CHECK(net.output_size == 1 && net.head == "last" && net.recurrent.input_size == 1, UsageError,
               "ForecastModelConfig: the network must map [T, B, 1] to [B, 1] (input_size 1, output_size 1, head "
               "'last'), got input_size {}, output_size {}, head '{}'",
               net.recurrent.input_size, net.output_size, net.head);
  UNROLL_CHECK(std::isfinite(despike) && despike >= 0 && std::isfinite(despike_sigmas) && despike_sigmas >= 0,
               UsageError, "ForecastModelConfig: despike must be >= 0, got despike_sigmas {}, despike {} (hint: 0 "
               "switches the robust-input filter off)", despike_sigmas, despike);
  UNROLL_CHECK((despike == 0 && despike_sigmas == 0) || history >= 3, UsageError,
               "ForecastModelConfig: despike needs history >= 3 (a median of 3 neighbours), got history {} (hint: "
               "use a longer history or --despike 0)",
               history);
}

nlohmann::json ForecastModelConfig::to_json() const {
  nlohmann::json j = {{"net", nlohmann::json(net)}, {"history", history}, {"residual", residual}, {"highway", highway}};
  // Only when on: a model without the filter has the same config (and checkpoints) as before the option.
  if (despike_sigmas != 0 || despike != 0) {
    j["despike_sigmas"] = despike_sigmas;
    j["despike"] = despike;
  }
  return j;
}

ForecastModelConfig ForecastModelConfig::from_json(const nlohmann::json& j) {
  UNROLL_CHECK(j.is_object() && j.contains("net"), DataError,
               "ForecastModelConfig: expected an object with 'net' (the Forecaster config), got {}", j.dump());
  const JsonFields f(j, "ForecastModelConfig", {"net", "history", "residual", "highway", "despike_sigmas", "despike"});
  ForecastModelConfig c;
  c.net = j.at("net").get<ForecasterConfig>();
  f.read("history", c.history);
  f.read("residual", c.residual);
  f.read("highway", c.highway);
  f.read("despike_sigmas", c.despike_sigmas);
  f.read("despike", c.despike);
  c.validate();
  return c;
}

// ---- robust inputs (Note [Robust inputs]) ----

Tensor despike_inputs(const Tensor& x, double threshold) {
  UNROLL_CHECK(x.rank() == 3 && x.shape()[2] == 1, ShapeError,
               "despike_inputs: expected a window batch [T, B, 1], got {}", x.shape().str());
  Tensor out = x.clone();
  const int64_t T = x.shape()[0], B = x.shape()[1];
  if (threshold <= 0 || T < 3) return out;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < T; ++j) {
      const int64_t c = std::clamp<int64_t>(j, 1, T - 2);  // centre of the 3-point neighbourhood
      double v[3] = {x.at((c - 1) * B + b), x.at(c * B + b), x.at((c + 1) * B + b)};
      std::sort(v, v + 3);
      const double xj = x.at(j * B + b);
      if (std::abs(xj - v[1]) > threshold) out.set(j * B + b, v[1]);
    }
  }
  return out;
}

double robust_step_std(const std::vector<double>& series, int64_t begin, int64_t end) {
  UNROLL_CHECK(begin >= 0 && end <= static_cast<int64_t>(series.size()) && end - begin >= 2, DataError,
               "robust_step_std: need at least 2 values in [{}, {}) of a series of {}", begin, end, series.size());
  std::vector<double> d;
  d.reserve(static_cast<size_t>(end - begin - 1));
  for (int64_t i = begin + 1; i < end; ++i)
    d.push_back(std::abs(series[static_cast<size_t>(i)] - series[static_cast<size_t>(i - 1)]));
  const size_t mid = d.size() / 2;
  std::nth_element(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(mid), d.end());
  double med = d[mid];
  if (d.size() % 2 == 0) med = 0.5 * (med + *std::max_element(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(mid)));
  if (med > 0) return 1.4826 * med;
  // More than half the steps are exactly 0 (a noise-free or coarsely quantised series): fall back to the
  // mean absolute step, sqrt(pi/2) x mean |d| (also the standard deviation for Gaussian steps).
  double sum = 0;
  for (double v : d) sum += v;
  const double mean = sum / static_cast<double>(d.size());
  UNROLL_CHECK(mean > 0, NumericError,
               "robust_step_std: the series is constant in [{}, {}), so a threshold in multiples of its one-step "
               "changes is 0 (hint: --despike needs a series that changes)",
               begin, end);
  return 1.2533141373155003 * mean;
}

ForecastModel::ForecastModel(const ForecastModelConfig& config, Rng& rng) : config_(config) {
  config_.validate();
  net_ = &register_module("net", std::make_unique<Forecaster>(config_.net, rng));
  if (config_.highway) {
    highway_ = &register_module("highway", std::make_unique<Linear>(static_cast<int>(config_.history), 1, rng));
    highway_->weight().value.fill(0.0);
    highway_->bias()->value.fill(0.0);
  }
}

void ForecastModel::init_from_ar(const std::vector<double>& weights, double intercept) {
  UNROLL_CHECK(highway_ != nullptr, UsageError, "ForecastModel::init_from_ar: the model has no highway (set highway)");
  UNROLL_CHECK(static_cast<int64_t>(weights.size()) == config_.history, UsageError,
               "ForecastModel::init_from_ar: {} AR weights for history {}", weights.size(), config_.history);
  Tensor& w = highway_->weight().value;  // [1, T]
  for (int64_t t = 0; t < config_.history; ++t) w.set(t, weights[static_cast<size_t>(t)]);
  if (config_.residual) w.set(config_.history - 1, weights.back() - 1.0);
  highway_->bias()->value.fill(intercept);
  net_->head().weight().value.fill(0.0);
  if (net_->head().bias() != nullptr) net_->head().bias()->value.fill(0.0);
}

Var ForecastModel::forward(Tape& tape, Var x, Rng* rng) {
  const int64_t T = x.shape()[0], B = x.shape()[1];
  UNROLL_CHECK(x.shape().rank() == 3 && x.shape()[2] == 1 && T == config_.history, ShapeError,
               "ForecastModel: expected input [{}, B, 1] (history {}), got {}", config_.history, config_.history,
               x.shape().str());
  if (config_.despike > 0) {
    // x + (despike(x) - x): the corrected values, with the identity as x's derivative (x is data, but a
    // caller asking for input gradients still gets them).
    Tensor delta = despike_inputs(x.value(), config_.despike);
    bool changed = false;
    for (int64_t i = 0; i < delta.numel(); ++i) {
      const double d = delta.at(i) - x.value().at(i);
      delta.set(i, d);
      changed = changed || d != 0;
    }
    if (changed) x = x + tape.constant(delta);
  }
  Var y = net_->forward(tape, x, rng);  // [B, 1]
  if (config_.residual) y = y + reshape(slice(x, 0, T - 1, 1), Shape{B, 1});
  if (config_.highway) y = y + highway_->forward(transpose(reshape(x, Shape{T, B})));  // [B, T] -> [B, 1]
  return y;
}

}  // namespace unroll
