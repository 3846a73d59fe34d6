// SPDX-License-Identifier: Apache-2.0
// What lives here: the baselines of train/baselines.h and their report.
#include "train/baselines.h"

#include <algorithm>
#include <cmath>
#include <fmt/ranges.h>
#include <limits>

#include "graph/check.h"

namespace unroll {

namespace {
constexpr double kNaNScore = std::numeric_limits<double>::quiet_NaN();
}  // namespace

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

namespace {

// The lags of target t: series[t - horizon - order + 1 .. t - horizon]; -1 when they start before the series.
int64_t first_lag(int64_t target, int64_t horizon, int64_t order) { return target - horizon - order + 1; }

int64_t usable_windows(const WindowSet& windows, int64_t order) {
  int64_t n = 0;
  for (int64_t t : windows.targets) n += first_lag(t, windows.spec.horizon, order) >= 0 ? 1 : 0;
  return n;
}

}  // namespace

LinearAR LinearAR::fit(const std::vector<double>& series, const WindowSet& windows, double ridge) {
  return fit_lags(series, windows, windows.spec.history, ridge);
}

LinearAR LinearAR::fit_lags(const std::vector<double>& series, const WindowSet& windows, int64_t order,
                            double ridge) {
  const int64_t h = order;
  const int64_t p = h + 1;  // weights, then the intercept
  UNROLL_CHECK(h >= 1, UsageError, "linear AR: the order must be >= 1, got {}", h);
  const int64_t n = usable_windows(windows, h);
  UNROLL_CHECK(n >= p, DataError,
               "linear AR({}): needs at least {} training windows, got {} (hint: use a longer training split or a "
               "shorter history)",
               h, p, n);
  UNROLL_CHECK(ridge >= 0 && std::isfinite(ridge), UsageError, "linear AR({}): ridge must be >= 0, got {}", h, ridge);
  // Normal equations A w = b with A = sum x x^T, b = sum x y, x = (inputs oldest first, 1).
  std::vector<double> a(static_cast<size_t>(p * p), 0.0), b(static_cast<size_t>(p), 0.0), x(static_cast<size_t>(p));
  for (int64_t t : windows.targets) {
    const int64_t first = first_lag(t, windows.spec.horizon, h);
    if (first < 0) continue;
    for (int64_t j = 0; j < h; ++j) x[static_cast<size_t>(j)] = series.at(static_cast<size_t>(first + j));
    x[static_cast<size_t>(h)] = 1.0;
    const double y = series.at(static_cast<size_t>(t));
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
  UNROLL_CHECK(order() == windows.spec.history, UsageError,
               "linear AR: the model has {} weights but the windows have history {} (hint: fit on windows of the "
               "same history)",
               weights.size(), windows.spec.history);
  return predict_lags(series, windows);
}

std::vector<double> LinearAR::predict_lags(const std::vector<double>& series, const WindowSet& windows) const {
  const int64_t h = order();
  std::vector<double> out;
  out.reserve(windows.targets.size());
  for (int64_t t : windows.targets) {
    const int64_t first = first_lag(t, windows.spec.horizon, h);
    UNROLL_CHECK(first >= 0, DataError, "linear AR({}): the target at index {} has fewer than {} earlier values", h, t,
                 h);
    double y = intercept;
    for (int64_t j = 0; j < h; ++j) y += weights[static_cast<size_t>(j)] * series.at(static_cast<size_t>(first + j));
    out.push_back(y);
  }
  return out;
}

ARFit fit_ar_robust(const std::vector<double>& series, const WindowSet& windows, int64_t order) {
  ARFit out;
  // Shorten the order until at least order + 2 windows (one more than the unknowns) have all their lags.
  int64_t p = order;
  while (p >= 1 && usable_windows(windows, p) < p + 2) --p;
  if (p < 1) {
    out.note = fmt::format("n/a: {} window{} too few to fit even AR(1)", windows.size(), windows.size() == 1 ? " is" : "s are");
    return out;
  }
  if (p < order)
    out.note = fmt::format("AR({}) instead of AR({}): only {} windows to fit", p, order, usable_windows(windows, p));
  const double n = static_cast<double>(usable_windows(windows, p));
  for (double ridge : {0.0, kFallbackRidge, kFallbackRidgeLarge}) {
    try {
      out.model = LinearAR::fit_lags(series, windows, p, ridge * n);
      if (ridge > 0)
        out.note += fmt::format("{}ridge {:g} (least squares is singular: the series is exactly periodic or linear)",
                                out.note.empty() ? "" : "; ", ridge);
      return out;
    } catch (const NumericError&) {
    }
  }
  out.note += fmt::format("{}n/a: the normal equations stay singular with ridge {:g}", out.note.empty() ? "" : "; ",
                          kFallbackRidgeLarge);
  return out;
}

int64_t detect_period(const std::vector<double>& series, Range range) {
  const int64_t n = range.end - range.begin - 1;  // one-step changes
  const int64_t max_lag = std::min<int64_t>(n / 3, 1000);
  if (max_lag < 3) return 0;
  std::vector<double> d(static_cast<size_t>(n));
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) {
    d[static_cast<size_t>(i)] = series.at(static_cast<size_t>(range.begin + i + 1)) - series.at(static_cast<size_t>(range.begin + i));
    mean += d[static_cast<size_t>(i)];
  }
  mean /= static_cast<double>(n);
  double var = 0;
  for (double& v : d) {
    v -= mean;
    var += v * v;
  }
  if (!(var > 0)) return 0;
  std::vector<double> acf(static_cast<size_t>(max_lag + 2), 0.0);
  for (int64_t lag = 1; lag <= max_lag + 1; ++lag) {
    double s = 0;
    for (int64_t i = lag; i < n; ++i) s += d[static_cast<size_t>(i)] * d[static_cast<size_t>(i - lag)];
    acf[static_cast<size_t>(lag)] = s / var;
  }
  // Local peaks; the highest decides whether there is a period, the first within 80 % of it is the period
  // (a multiple of the period can score a little higher on a short split).
  auto is_peak = [&](int64_t lag) {
    const double a = acf[static_cast<size_t>(lag)];
    return a > acf[static_cast<size_t>(lag - 1)] && a >= acf[static_cast<size_t>(lag + 1)];
  };
  double highest = 0;
  for (int64_t lag = 2; lag <= max_lag; ++lag)
    if (is_peak(lag)) highest = std::max(highest, acf[static_cast<size_t>(lag)]);
  if (highest < 0.3) return 0;
  for (int64_t lag = 2; lag <= max_lag; ++lag)
    if (is_peak(lag) && acf[static_cast<size_t>(lag)] >= 0.8 * highest) return lag;
  return 0;
}

std::vector<BaselineScore> BaselineReport::all() const {
  auto maybe = [](double rmse, double mae) { return std::isfinite(rmse) ? std::optional<Score>(Score{rmse, mae}) : std::nullopt; };
  std::vector<BaselineScore> out;
  out.push_back({"persistence", persistence, ""});
  out.push_back({fmt::format("AR({})", ar_order), maybe(ar.rmse, ar.mae), ar_note});
  if (ar_selected_order > 0 || !ar_selected_note.empty())
    out.push_back({fmt::format("AR({}) val-chosen", ar_selected_order), ar_selected, ar_selected_note});
  if (seasonal_period > 0)
    out.push_back({fmt::format("seasonal-naive({})", seasonal_period), seasonal_naive, period_source});
  return out;
}

BaselineScore BaselineReport::best() const {
  BaselineScore best;
  for (const BaselineScore& b : all())
    if (b.score && (!best.score || b.score->rmse < best.score->rmse)) best = b;
  return best;
}

nlohmann::json BaselineReport::to_json() const {
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json j = {{"persistence_rmse", persistence.rmse},
                      {"persistence_mae", persistence.mae},
                      {"ar_rmse", number(ar.rmse)},
                      {"ar_mae", number(ar.mae)},
                      {"ar_order", ar_order}};
  if (!ar_note.empty()) j["ar_note"] = ar_note;
  if (ar_selected_order > 0 || !ar_selected_note.empty())
    j["ar_selected"] = {{"order", ar_selected_order},
                        {"rmse", ar_selected ? nlohmann::json(ar_selected->rmse) : nlohmann::json(nullptr)},
                        {"mae", ar_selected ? nlohmann::json(ar_selected->mae) : nlohmann::json(nullptr)},
                        {"note", ar_selected_note}};
  if (seasonal_period > 0) {
    j["seasonal_naive_rmse"] = seasonal_naive ? nlohmann::json(seasonal_naive->rmse) : nlohmann::json(nullptr);
    j["seasonal_naive_mae"] = seasonal_naive ? nlohmann::json(seasonal_naive->mae) : nlohmann::json(nullptr);
    j["seasonal_period"] = seasonal_period;
    j["period_source"] = period_source;
  }
  const BaselineScore b = best();
  j["best"] = {{"name", b.name}, {"rmse", b.score ? nlohmann::json(b.score->rmse) : nlohmann::json(nullptr)}};
  return j;
}

namespace {

// The AR orders tried on validation (see choose_ar_order).
std::vector<int64_t> candidate_orders(const PreparedData& data, int64_t max_order, const WindowSet* evaluate) {
  std::vector<int64_t> ladder = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, data.spec.history};
  std::sort(ladder.begin(), ladder.end());
  ladder.erase(std::unique(ladder.begin(), ladder.end()), ladder.end());
  const int64_t horizon = data.spec.horizon;
  int64_t reach = std::numeric_limits<int64_t>::max();  // lags available before the earliest target of each set
  for (const WindowSet* w : {&data.validation, evaluate})
    if (w != nullptr && !w->empty()) reach = std::min(reach, w->targets.front() - horizon + 1);
  std::vector<int64_t> out;
  for (int64_t p : ladder)
    if (p <= max_order && p <= reach && usable_windows(data.train, p) >= 4 * (p + 1)) out.push_back(p);
  return out;
}

}  // namespace

std::optional<OrderChoice> choose_ar_order(const PreparedData& data, int64_t max_order, const WindowSet* evaluate) {
  if (data.validation.empty()) return std::nullopt;
  const std::vector<double> val_truth = window_targets(data.scaled, data.validation);
  OrderChoice c;
  double best_val = std::numeric_limits<double>::infinity();
  for (int64_t p : candidate_orders(data, max_order, evaluate)) {
    const ARFit f = fit_ar_robust(data.scaled, data.train, p);
    if (!f.model || f.model->order() != p) continue;
    c.tried.push_back(p);
    const double v = rmse(f.model->predict_lags(data.scaled, data.validation), val_truth);
    if (v < best_val) {
      best_val = v;
      c.order = p;
      c.validation_rmse = v;
    }
  }
  if (c.order == 0) return std::nullopt;
  return c;
}

BaselineReport evaluate_baselines(const PreparedData& data, const WindowSet& evaluate, int64_t seasonal_period) {
  const std::vector<double> truth = window_targets(data.scaled, evaluate);
  auto score = [&](const std::vector<double>& p) { return Score{rmse(p, truth), mae(p, truth)}; };
  BaselineReport r;
  r.persistence = score(persistence_forecast(data.scaled, evaluate));

  r.seasonal_period = seasonal_period;
  r.period_source = seasonal_period > 0 ? "given" : "";
  if (seasonal_period <= 0 && data.split.train.end - data.split.train.begin > 0) {
    r.seasonal_period = detect_period(data.scaled, data.split.train);
    if (r.seasonal_period > 0) r.period_source = "detected on the training split";
  }
  if (r.seasonal_period > 0) {
    const int64_t lag = r.seasonal_period * ((evaluate.spec.horizon + r.seasonal_period - 1) / r.seasonal_period);
    if (!evaluate.empty() && evaluate.targets.front() - lag >= 0)
      r.seasonal_naive = score(seasonal_naive_forecast(data.scaled, evaluate, r.seasonal_period));
    else
      r.period_source += fmt::format("{}n/a: the first window has no value {} steps earlier",
                                     r.period_source.empty() ? "" : "; ", lag);
  }

  const ARFit ar = fit_ar_robust(data.scaled, data.fit, data.spec.history);
  r.ar_note = ar.note;
  r.ar_order = ar.model ? ar.model->order() : data.spec.history;
  r.ar = ar.model ? score(ar.model->predict_lags(data.scaled, evaluate)) : Score{kNaNScore, kNaNScore};

  // AR(p): p by validation RMSE of fits on the training windows, then refitted on the fit windows.
  if (data.validation.empty()) return r;
  const std::optional<OrderChoice> choice = choose_ar_order(data, 64, &evaluate);
  if (!choice) {
    r.ar_selected_note = "n/a: too few training windows to choose an order";
    return r;
  }
  r.ar_selected_order = choice->order;
  const std::vector<int64_t>& tried = choice->tried;
  const ARFit chosen = fit_ar_robust(data.scaled, data.fit, r.ar_selected_order);
  r.ar_selected_note = fmt::format("order with the best validation RMSE of {}{}{}", fmt::join(tried, ", "),
                                   chosen.note.empty() ? "" : "; ", chosen.note);
  if (chosen.model && chosen.model->order() == r.ar_selected_order)
    r.ar_selected = score(chosen.model->predict_lags(data.scaled, evaluate));
  return r;
}

}  // namespace unroll
