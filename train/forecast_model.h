// What lives here: ForecastModel, what `unroll train` fits: a recurrent Forecaster ("net": Recurrent +
// Linear head, models/forecaster.h) plus two optional, documented additions for forecasting a scalar
// series from a window x [T=history, B, 1]:
//   residual: + x[T-1], the window's last value, so the network learns the change from the last
//             observation (persistence is where training starts);
//   highway:  + a linear autoregression over the whole window ("highway/weight" [1, T], "highway/bias"
//             [1], initialised to zero), trained jointly with the network: the autoregressive component
//             of LSTNet (Lai et al., SIGIR 2018). The recurrent network then models what a linear AR misses.
//   prediction [B, 1] = net(x) + (residual ? x[T-1] : 0) + (highway ? x^T w + b : 0)
// Parameter paths: "net/rnn/l0/w_ih", ..., "net/head/weight", "highway/weight". The config (JSON) is the
// checkpoint's model config, so the model is rebuilt from a file alone.
#pragma once
#include <nlohmann/json.hpp>
#include <vector>

#include "models/forecaster.h"
#include "models/linear.h"

namespace unroll {

struct ForecastModelConfig {
  ForecasterConfig net;
  int64_t history = 16;  // window length (the highway's input size)
  bool residual = false;
  bool highway = false;

  void validate() const;  // UsageError naming the bad field
  nlohmann::json to_json() const;
  static ForecastModelConfig from_json(const nlohmann::json& j);  // DataError naming a bad field
};

class ForecastModel : public Module {
 public:
  ForecastModel(const ForecastModelConfig& config, Rng& rng);
  // x [T, B, 1] -> [B, 1]; rng for dropout in training mode (may be null).
  Var forward(Tape& tape, Var x, Rng* rng = nullptr);
  const ForecastModelConfig& config() const { return config_; }
  Forecaster& net() { return *net_; }

  // Start from a fitted linear AR (weights oldest input first, as io/datasets.h LinearAR): the highway
  // takes those weights (minus 1 on the last one when residual) and the network's output layer is zeroed,
  // so the model's first prediction IS the AR forecast and training only adds what the network finds.
  // UsageError without a highway or when the weight count is not `history`.
  void init_from_ar(const std::vector<double>& weights, double intercept);

 private:
  ForecastModelConfig config_;
  Forecaster* net_;
  Linear* highway_ = nullptr;
};

}  // namespace unroll
