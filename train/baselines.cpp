// What lives here: the baselines of train/baselines.h.
#include "train/baselines.h"

#include <algorithm>
#include <cmath>

#include "graph/check.h"

namespace unroll {

std::vector<double> persistence_forecast(const std::vector<double>& series, const WindowSet& windows) {
  std::vector<double> out;
  out.reserve(windows.targets.size());
  for (int64_t t : windows.targets) out.push_back(series.at(static_cast<size_t>(t - windows.spec.horizon)));
  return out;
}

std::vector<double> seasonal_naive_forecast(const std::vector<double>& series, const WindowSet& windows,
                                            int64_t period) {
  UNROLL_CHECK(period >= 1, UsageError, "seasonal-naive: period must be >= 1, got {}", period);
  const int64_t lag = period * ((windows.spec.horizon + period - 1) / period);
  std::vector<double> out;
  out.reserve(windows.targets.size());
  for (int64_t t : windows.targets) {
    UNROLL_CHECK(t - lag >= 0, DataError,
                 "seasonal-naive: the target at index {} has no value {} steps earlier (period {}, horizon {}; hint: "
                 "evaluate windows that start at least one period into the series)",
                 t, lag, period, windows.spec.horizon);
    out.push_back(series.at(static_cast<size_t>(t - lag)));
  }
  return out;
}

LinearAR LinearAR::fit(const std::vector<double>& series, const WindowSet& windows, double ridge) {
  const int64_t h = windows.spec.history;
  const int64_t p = h + 1;  // weights, then the intercept
  UNROLL_CHECK(windows.size() >= p, DataError,
               "linear AR({}): needs at least {} training windows, got {} (hint: use a longer training split or a "
               "shorter history)",
               h, p, windows.size());
  UNROLL_CHECK(ridge >= 0 && std::isfinite(ridge), UsageError, "linear AR({}): ridge must be >= 0, got {}", h, ridge);
  // Normal equations A w = b with A = sum x x^T, b = sum x y, x = (inputs oldest first, 1).
  std::vector<double> a(static_cast<size_t>(p * p), 0.0), b(static_cast<size_t>(p), 0.0), x(static_cast<size_t>(p));
  for (int64_t k = 0; k < windows.size(); ++k) {
    const int64_t first = windows.first_input(k);
    for (int64_t j = 0; j < h; ++j) x[static_cast<size_t>(j)] = series.at(static_cast<size_t>(first + j));
    x[static_cast<size_t>(h)] = 1.0;
    const double y = series.at(static_cast<size_t>(windows.targets[static_cast<size_t>(k)]));
    for (int64_t r = 0; r < p; ++r) {
      const double xr = x[static_cast<size_t>(r)];
      b[static_cast<size_t>(r)] += xr * y;
      for (int64_t c = 0; c <= r; ++c) a[static_cast<size_t>(r * p + c)] += xr * x[static_cast<size_t>(c)];
    }
  }
  for (int64_t j = 0; j < h; ++j) a[static_cast<size_t>(j * p + j)] += ridge;
  // Cholesky A = L L^T in the lower triangle, in place.
  for (int64_t j = 0; j < p; ++j) {
    double d = a[static_cast<size_t>(j * p + j)];
    for (int64_t k = 0; k < j; ++k) d -= a[static_cast<size_t>(j * p + k)] * a[static_cast<size_t>(j * p + k)];
    const double diag = a[static_cast<size_t>(j * p + j)];
    UNROLL_CHECK(d > 1e-12 * std::max(1.0, diag), NumericError,
                 "linear AR({}): the normal equations are singular at {} {} (the training windows are collinear, "
                 "e.g. a constant series; hint: fit with ridge > 0 or use more varied data)",
                 h, j < h ? "lag input" : "the intercept", j < h ? fmt::format("{}", j) : std::string());
    const double l = std::sqrt(d);
    a[static_cast<size_t>(j * p + j)] = l;
    for (int64_t r = j + 1; r < p; ++r) {
      double s = a[static_cast<size_t>(r * p + j)];
      for (int64_t k = 0; k < j; ++k) s -= a[static_cast<size_t>(r * p + k)] * a[static_cast<size_t>(j * p + k)];
      a[static_cast<size_t>(r * p + j)] = s / l;
    }
  }
  // Solve L z = b, then L^T w = z.
  std::vector<double> w(b);
  for (int64_t r = 0; r < p; ++r) {
    for (int64_t k = 0; k < r; ++k) w[static_cast<size_t>(r)] -= a[static_cast<size_t>(r * p + k)] * w[static_cast<size_t>(k)];
    w[static_cast<size_t>(r)] /= a[static_cast<size_t>(r * p + r)];
  }
  for (int64_t r = p - 1; r >= 0; --r) {
    for (int64_t k = r + 1; k < p; ++k) w[static_cast<size_t>(r)] -= a[static_cast<size_t>(k * p + r)] * w[static_cast<size_t>(k)];
    w[static_cast<size_t>(r)] /= a[static_cast<size_t>(r * p + r)];
  }
  LinearAR model;
  model.intercept = w[static_cast<size_t>(h)];
  model.weights.assign(w.begin(), w.begin() + h);
  return model;
}

std::vector<double> LinearAR::predict(const std::vector<double>& series, const WindowSet& windows) const {
  const int64_t h = windows.spec.history;
  UNROLL_CHECK(static_cast<int64_t>(weights.size()) == h, UsageError,
               "linear AR: the model has {} weights but the windows have history {} (hint: fit on windows of the "
               "same history)",
               weights.size(), h);
  std::vector<double> out;
  out.reserve(windows.targets.size());
  for (int64_t k = 0; k < windows.size(); ++k) {
    const int64_t first = windows.first_input(k);
    double y = intercept;
    for (int64_t j = 0; j < h; ++j) y += weights[static_cast<size_t>(j)] * series.at(static_cast<size_t>(first + j));
    out.push_back(y);
  }
  return out;
}

nlohmann::json BaselineReport::to_json() const {
  nlohmann::json j = {{"persistence_rmse", persistence.rmse},
                      {"persistence_mae", persistence.mae},
                      {"ar_rmse", ar.rmse},
                      {"ar_mae", ar.mae}};
  if (seasonal_naive) {
    j["seasonal_naive_rmse"] = seasonal_naive->rmse;
    j["seasonal_naive_mae"] = seasonal_naive->mae;
    j["seasonal_period"] = seasonal_period;
  }
  return j;
}

BaselineReport evaluate_baselines(const PreparedData& data, const WindowSet& evaluate, int64_t seasonal_period) {
  const std::vector<double> truth = window_targets(data.scaled, evaluate);
  auto score = [&](const std::vector<double>& p) { return Score{rmse(p, truth), mae(p, truth)}; };
  BaselineReport r;
  r.persistence = score(persistence_forecast(data.scaled, evaluate));
  if (seasonal_period > 0) {
    r.seasonal_naive = score(seasonal_naive_forecast(data.scaled, evaluate, seasonal_period));
    r.seasonal_period = seasonal_period;
  }
  r.ar = score(LinearAR::fit(data.scaled, data.fit).predict(data.scaled, evaluate));
  return r;
}

}  // namespace unroll
