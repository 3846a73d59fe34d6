// What lives here: ForecastModel (see forecast_model.h) and its config JSON.
#include "train/forecast_model.h"

#include "graph/check.h"
#include "ops/ops.h"

namespace unroll {

void ForecastModelConfig::validate() const {
  net.validate();
  UNROLL_CHECK(history >= 1, UsageError, "ForecastModelConfig: history must be positive, got {}", history);
  UNROLL_CHECK(net.output_size == 1 && net.head == "last" && net.recurrent.input_size == 1, UsageError,
               "ForecastModelConfig: the network must map [T, B, 1] to [B, 1] (input_size 1, output_size 1, head "
               "'last'), got input_size {}, output_size {}, head '{}'",
               net.recurrent.input_size, net.output_size, net.head);
}

nlohmann::json ForecastModelConfig::to_json() const {
  return {{"net", nlohmann::json(net)}, {"history", history}, {"residual", residual}, {"highway", highway}};
}

ForecastModelConfig ForecastModelConfig::from_json(const nlohmann::json& j) {
  UNROLL_CHECK(j.is_object() && j.contains("net"), DataError,
               "ForecastModelConfig: expected an object with 'net' (the Forecaster config), got {}", j.dump());
  ForecastModelConfig c;
  try {
    c.net = j.at("net").get<ForecasterConfig>();
    c.history = j.value("history", c.history);
    c.residual = j.value("residual", c.residual);
    c.highway = j.value("highway", c.highway);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(fmt::format("ForecastModelConfig: a field has the wrong type ({})", e.what()));
  }
  c.validate();
  return c;
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
  Var y = net_->forward(tape, x, rng);  // [B, 1]
  if (config_.residual) y = y + reshape(slice(x, 0, T - 1, 1), Shape{B, 1});
  if (config_.highway) y = y + highway_->forward(transpose(reshape(x, Shape{T, B})));  // [B, T] -> [B, 1]
  return y;
}

}  // namespace unroll
