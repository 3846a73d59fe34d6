// What lives here: the reference forecasts a trained model is compared with, all on the series as given
// (i.e. scaled): persistence, seasonal-naive, and a least-squares linear AR(history) with intercept, plus
// evaluate_baselines, which scores them on a window set of a PreparedData (io/datasets.h).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "io/datasets.h"
#include "train/metrics.h"

namespace unroll {

// Predicts the last input: series[t - horizon].
std::vector<double> persistence_forecast(const std::vector<double>& series, const WindowSet& windows);
// Predicts the latest value one whole number of periods earlier that is known at forecast time:
// series[t - period * ceil(horizon / period)]. DataError when that index is before the series.
std::vector<double> seasonal_naive_forecast(const std::vector<double>& series, const WindowSet& windows,
                                            int64_t period);

// y = intercept + sum_j weights[j] * x_j over a window's inputs (oldest first), fitted by least squares
// (normal equations in double, Cholesky; no LAPACK) on the given windows.
struct LinearAR {
  std::vector<double> weights;  // history entries, oldest input first
  double intercept = 0;
  // NumericError when the normal equations are singular (e.g. a constant series); `ridge` adds ridge * I
  // to the weight block (not the intercept) if you want to regularise.
  static LinearAR fit(const std::vector<double>& series, const WindowSet& windows, double ridge = 0.0);
  std::vector<double> predict(const std::vector<double>& series, const WindowSet& windows) const;
};

struct BaselineReport {
  Score persistence;
  std::optional<Score> seasonal_naive;  // when a period was given
  int64_t seasonal_period = 0;
  Score ar;  // AR(history), fitted on the training windows
  // {"persistence_rmse", "persistence_mae", "ar_rmse", "ar_mae", ["seasonal_naive_rmse",
  // "seasonal_naive_mae", "seasonal_period"]}
  nlohmann::json to_json() const;
};

// Baselines on `evaluate` (e.g. data.test), AR fitted on data.fit; seasonal-naive when period > 0.
BaselineReport evaluate_baselines(const PreparedData& data, const WindowSet& evaluate, int64_t seasonal_period = 0);

}  // namespace unroll
