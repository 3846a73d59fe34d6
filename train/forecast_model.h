// SPDX-License-Identifier: Apache-2.0
// What lives here: ForecastModel, what `unroll train` fits: a recurrent Forecaster ("net": Recurrent +
// Linear head, models/forecaster.h) plus two optional, documented additions for forecasting a scalar
// series from a window x [T=history, B, 1]:
//   residual: + x[T-1], the window's last value, so the network learns the change from the last
//             observation (persistence is where training starts);
//   highway:  + a linear autoregression over the whole window ("highway/weight" [1, T], "highway/bias"
//             [1], initialised to zero), trained jointly with the network: the autoregressive component
//             of LSTNet (Lai et al., SIGIR 2018). The recurrent network then models what a linear AR misses.
//   despike:  robust inputs (off by default): before anything else, each input value that differs from
//             the median of itself and its two nearest neighbours IN THE SAME WINDOW by more than the
//             threshold is replaced by that median (a Hampel-style filter over 3 points). Isolated
//             one-sample spikes (sensor glitches) then neither reach the network nor the residual's
//             x[T-1]. Only the window's own values are used, so nothing after the last input leaks in.
//   prediction [B, 1] = net(x') + (residual ? x'[T-1] : 0) + (highway ? x'^T w + b : 0), x' = despike(x)
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
  // Robust inputs: despike_sigmas K (0 = off) is what the user asked for; despike is the threshold it
  // gives in scaled units, K x robust_step_std of the training split (fitted once, then fixed: it is
  // part of the checkpoint, so eval, predict and resume apply exactly the same filter).
  double despike_sigmas = 0;
  double despike = 0;

  void validate() const;  // UsageError naming the bad field
  nlohmann::json to_json() const;
  static ForecastModelConfig from_json(const nlohmann::json& j);  // DataError naming a bad field
};

// Note [Robust inputs]: the despike filter of one window x [T, B, 1] (T >= 3): for position j the
// neighbourhood is {j-1, j, j+1}, shifted inside the window at the ends ({0, 1, 2} for j = 0, {T-3, T-2,
// T-1} for j = T-1); when |x_j - median| > threshold, x_j becomes the median. Medians are taken over the
// unfiltered values. threshold <= 0 returns x unchanged. Same dtype and shape as x.
Tensor despike_inputs(const Tensor& x, double threshold);
// 1.4826 x the median of |x[i+1] - x[i]| over consecutive pairs in [begin, end): the standard deviation
// of one-step changes for Gaussian noise, robust to the spikes it is used to find. When that median is 0
// (more than half the steps are exactly 0: no noise, coarse quantisation) it falls back to sqrt(pi/2) x
// the mean |x[i+1] - x[i]|. DataError when the range holds fewer than 2 values, NumericError when the
// series is constant there.
double robust_step_std(const std::vector<double>& series, int64_t begin, int64_t end);

class ForecastModel : public Module {
 public:
  ForecastModel(const ForecastModelConfig& config, Rng& rng);
  // x [T, B, 1] -> [B, 1]; rng for dropout in training mode (may be null).
  Var forward(Tape& tape, Var x, Rng* rng = nullptr);
  const ForecastModelConfig& config() const { return config_; }
  Forecaster& net() { return *net_; }

  // Start from a fitted linear AR (weights oldest input first, as train/baselines.h LinearAR): the highway
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
