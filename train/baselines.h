// SPDX-License-Identifier: Apache-2.0
// What lives here: the reference forecasts a trained model is compared with, all on the series as given
// (i.e. scaled): persistence, seasonal-naive (period given, or detected on the training split), and
// least-squares linear AR models with intercept (AR(history), and AR(p) with p chosen on the validation
// split), plus evaluate_baselines, which scores them on a window set of a PreparedData (io/datasets.h).
// A baseline never stops a report: a singular fit falls back to a small ridge, too few windows to a
// shorter AR or to "n/a" with the reason (BaselineScore::note).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
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

// The period of series[range] (scaled values), from the autocorrelation of its one-step changes over lags
// [2, min(range / 3, 1000)]: 0 when no local peak reaches 0.3, else the first local peak within 80 % of
// the highest (so the period wins over its multiples).
int64_t detect_period(const std::vector<double>& series, Range range);

// y = intercept + sum_j weights[j] * series[t - horizon - order + 1 + j] (oldest lag first), fitted by
// least squares (normal equations in double, Cholesky; no LAPACK). fit/predict over a WindowSet use
// order = the windows' history; fit_lags/predict_lags take any order (targets without `order` earlier
// values are skipped when fitting).
struct LinearAR {
  std::vector<double> weights;  // oldest lag first
  double intercept = 0;
  // NumericError when the normal equations are singular (e.g. a constant series); `ridge` adds ridge * I
  // to the weight block (not the intercept) if you want to regularise.
  static LinearAR fit(const std::vector<double>& series, const WindowSet& windows, double ridge = 0.0);
  std::vector<double> predict(const std::vector<double>& series, const WindowSet& windows) const;
  static LinearAR fit_lags(const std::vector<double>& series, const WindowSet& windows, int64_t order,
                           double ridge = 0.0);
  std::vector<double> predict_lags(const std::vector<double>& series, const WindowSet& windows) const;
  int64_t order() const { return static_cast<int64_t>(weights.size()); }
};

// The ridge fit_ar_robust falls back to when the least-squares normal equations are singular (a clean
// periodic or linear series), and the larger one after that, per fitted window: ridge * windows * I, i.e.
// ridge * |weights|^2 added to the mean squared error.
inline constexpr double kFallbackRidge = 1e-6;
inline constexpr double kFallbackRidgeLarge = 1e-3;

// An AR fit that always answers: least squares; when singular, ridge kFallbackRidge, then
// kFallbackRidgeLarge; with fewer than order + 2 usable windows a shorter order. `model` is empty when
// not even AR(1) can be fitted; `note` says what was done ("" for plain least squares).
struct ARFit {
  std::optional<LinearAR> model;
  std::string note;
};
ARFit fit_ar_robust(const std::vector<double>& series, const WindowSet& windows, int64_t order);

// The AR order with the best validation RMSE: each candidate (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64 and
// the windows' history, at most max_order, with at least 4 training windows per unknown and every lag of
// every validation target, and of `evaluate`'s when given, inside the series) fitted on data.train and
// scored on data.validation. Empty without a validation split or a candidate.
struct OrderChoice {
  int64_t order = 0;
  double validation_rmse = 0;
  std::vector<int64_t> tried;
};
std::optional<OrderChoice> choose_ar_order(const PreparedData& data, int64_t max_order = 64,
                                           const WindowSet* evaluate = nullptr);

// One baseline's score on a window set, or why it has none.
struct BaselineScore {
  std::string name;              // "persistence", "AR(16)", "seasonal-naive(12)"
  std::optional<Score> score;    // empty: n/a (see note)
  std::string note;              // how it was fitted or chosen, or why it is n/a; "" when plain
};

struct BaselineReport {
  Score persistence;
  std::optional<Score> seasonal_naive;  // when a period was given or detected
  int64_t seasonal_period = 0;
  std::string period_source;            // "given" | "detected on the training split" | ""
  Score ar;                             // AR(history) fitted on the fit windows; NaN when n/a (ar_note)
  int64_t ar_order = 0;                 // the order used (the history, or fewer on short data)
  std::string ar_note;
  std::optional<Score> ar_selected;     // AR(p) with p chosen on the validation split, refitted on fit
  int64_t ar_selected_order = 0;
  std::string ar_selected_note;
  // Every baseline in table order (persistence, AR(history), AR(p), seasonal-naive) and the best of those
  // with a score (lowest RMSE on the evaluated windows): what "model better" is judged against.
  std::vector<BaselineScore> all() const;
  BaselineScore best() const;
  // {"persistence_rmse", "persistence_mae", "ar_rmse", "ar_mae", "ar_order", ["ar_note"],
  // ["ar_selected": {...}], ["seasonal_naive_rmse", "seasonal_naive_mae", "seasonal_period",
  // "period_source"], "best": {"name", "rmse"}}; n/a scores are null.
  nlohmann::json to_json() const;
};

// Baselines on `evaluate` (e.g. data.test). AR models are fitted on data.fit (the AR(p) order is chosen
// by fitting on data.train and scoring on data.validation, never on `evaluate`); seasonal-naive uses
// `seasonal_period` when > 0, else a period detected on the training split (if any).
BaselineReport evaluate_baselines(const PreparedData& data, const WindowSet& evaluate, int64_t seasonal_period = 0);

}  // namespace unroll
