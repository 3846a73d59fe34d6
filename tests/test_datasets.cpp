// SPDX-License-Identifier: Apache-2.0
// What lives here: tests of io/datasets.h, io/data_magnet.h, train/metrics.h and train/baselines.h:
// splits, scalers, windows, batches and the data cursor, baselines (nottem must reproduce the published
// references in data/NOTICE.md), metrics, the magnet generator's physics and determinism, and the
// built-in dataset loader.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "graph/check.h"
#include "graph/rng.h"
#include "io/csv.h"
#include "io/datasets.h"
#include "train/baselines.h"
#include "train/metrics.h"

using namespace unroll;

namespace {

double round4(double x) { return std::round(x * 1e4) / 1e4; }

std::vector<double> iota_series(int64_t n) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<double>(i);
  return v;
}

}  // namespace

TEST_CASE("nottem baselines reproduce the published references (min-max on 1920-1935, test 1936-1939)") {
  // With no validation carved: train = the whole of 1920-1935.
  const BuiltinDataset nottem = load_builtin_dataset("nottem", UNROLL_SOURCE_DIR);
  REQUIRE(nottem.series.size() == 240);
  SplitSpec plain;
  plain.train = Range{0, 192};
  plain.test = Range{192, 240};
  plain.validation_fraction = 0;
  const PreparedData d = prepare_data(nottem.series, plain, WindowSpec{16, 1}, ScalerKind::min_max);
  CHECK(d.scaler.offset() == 31.3);
  CHECK(d.scaler.scale() == doctest::Approx(66.5 - 31.3).epsilon(1e-15));
  CHECK(d.test.size() == 48);
  CHECK(d.test.targets.front() == 192);
  CHECK(d.train.size() == 192 - 16);
  const BaselineReport r = evaluate_baselines(d, d.test, 12);
  // data/NOTICE.md: persistence 0.1461, seasonal-naive 0.0881, linear AR(16) 0.0678.
  CHECK(round4(r.persistence.rmse) == 0.1461);
  CHECK(round4(r.seasonal_naive->rmse) == 0.0881);
  CHECK(round4(r.ar.rmse) == 0.0678);
  // And to double precision against numpy (np.linalg.solve on the same normal equations).
  CHECK(r.persistence.rmse == doctest::Approx(0.1461251262232957).epsilon(1e-12));
  CHECK(r.persistence.mae == doctest::Approx(0.11541193181818181).epsilon(1e-12));
  CHECK(r.seasonal_naive->rmse == doctest::Approx(0.08812925546062486).epsilon(1e-12));
  CHECK(r.seasonal_naive->mae == doctest::Approx(0.06616950757575758).epsilon(1e-12));
  CHECK(r.ar.rmse == doctest::Approx(0.0677593085769646).epsilon(1e-9));
  CHECK(r.ar.mae == doctest::Approx(0.05381536300409093).epsilon(1e-9));

  // The built-in split carves 1934-1935 off for validation but fits scaler and AR on all of 1920-1935,
  // so its baselines are the same numbers while the model trains on 1920-1933.
  const PreparedData b = prepare_data(nottem.series, nottem.split, WindowSpec{16, 1}, ScalerKind::min_max);
  CHECK(b.split.train == Range{0, 168});
  CHECK(b.split.validation == Range{168, 192});
  CHECK(b.split.fit == Range{0, 192});
  CHECK(b.validation.size() == 24);
  const BaselineReport rb = evaluate_baselines(b, b.test, nottem.seasonal_period);
  CHECK(rb.persistence.rmse == r.persistence.rmse);
  CHECK(rb.seasonal_naive->rmse == r.seasonal_naive->rmse);
  CHECK(rb.ar.rmse == r.ar.rmse);
  const nlohmann::json j = rb.to_json();
  CHECK(j.at("persistence_rmse").get<double>() == r.persistence.rmse);
  CHECK(j.at("ar_rmse").get<double>() == r.ar.rmse);
  CHECK(j.at("seasonal_period").get<int64_t>() == 12);
}

TEST_CASE("splits: fractions, explicit ranges with validation carved from train, and errors") {
  Split f = split_by_fraction(1000, 0.7, 0.15);
  CHECK(f.train == Range{0, 700});
  CHECK(f.validation == Range{700, 850});
  CHECK(f.test == Range{850, 1000});
  CHECK(f.fit == f.train);
  Split r = split_by_ranges(240, {0, 192}, {192, 240}, 0.125);
  CHECK(r.train == Range{0, 168});
  CHECK(r.validation == Range{168, 192});
  CHECK(r.test == Range{192, 240});

  SplitSpec spec;
  spec.fit_includes_validation = true;
  CHECK(spec.resolve(100).fit == Range{0, 85});
  const SplitSpec back = SplitSpec::from_json(spec.to_json());
  CHECK(back.fit_includes_validation);
  CHECK(back.train_fraction == spec.train_fraction);

  CHECK_THROWS_WITH_AS(split_by_fraction(10, 0.9, 0.2),
                       "split: train_fraction 0.9 + validation_fraction 0.2 exceed 1 (hint: the test split is the rest)",
                       UsageError);
  CHECK_THROWS_WITH_AS(split_by_fraction(10, -0.1, 0.2), "split: train_fraction must lie in [0, 1], got -0.1",
                       UsageError);
  CHECK_THROWS_WITH_AS(split_by_ranges(100, {0, 80}, {70, 100}),
                       "split: test range [70, 100) starts before the end of the train range [0, 80) (hint: splits are "
                       "chronological and must not overlap)",
                       DataError);
  CHECK_THROWS_WITH_AS(split_by_ranges(100, {0, 80}, {80, 120}),
                       "split: test range [80, 120) does not fit a series of length 100 (hint: ranges are half-open "
                       "[begin, end) indices with 0 <= begin <= end <= length)",
                       DataError);
  CHECK_THROWS_WITH_AS(SplitSpec{}.resolve(1),
                       "split: a series of length 1 gives train [0, 1), validation [1, 1), test [1, 1); train and test "
                       "must not be empty (hint: use a longer series or other fractions)",
                       DataError);
}

TEST_CASE("scaler: fitted on the training range only, transform, inverse, JSON round trip") {
  const std::vector<double> v = {2, 4, 6, 8, 100, -50};
  const Scaler mm = Scaler::fit(ScalerKind::min_max, v, {0, 4});
  CHECK(mm.transform(2) == 0);
  CHECK(mm.transform(8) == 1);
  CHECK(mm.transform(100) > 1);  // later values are not seen by the fit
  CHECK(mm.transform(-50) < 0);
  const Scaler z = Scaler::fit(ScalerKind::z_score, v, {0, 4});
  CHECK(z.offset() == 5);
  CHECK(z.scale() == doctest::Approx(std::sqrt(5.0)));  // population standard deviation
  const std::vector<double> scaled = z.transform(v);
  double mean = 0;
  for (int i = 0; i < 4; ++i) mean += scaled[static_cast<size_t>(i)] / 4;
  CHECK(mean == doctest::Approx(0.0));
  const std::vector<double> back = z.inverse(scaled);
  for (size_t i = 0; i < v.size(); ++i) CHECK(back[i] == doctest::Approx(v[i]).epsilon(1e-14));
  CHECK(Scaler::fit(ScalerKind::none, v, {0, 4}).transform(7) == 7);

  // JSON keeps every bit.
  Rng rng(3);
  std::vector<double> noisy(50);
  for (auto& x : noisy) x = rng.normal() * 1e3 / 7;
  for (ScalerKind kind : {ScalerKind::min_max, ScalerKind::z_score, ScalerKind::none}) {
    const Scaler s = Scaler::fit(kind, noisy, {0, 50});
    const Scaler r = Scaler::from_json(nlohmann::json::parse(s.to_json().dump()));
    CHECK(r.kind() == kind);
    CHECK(r.offset() == s.offset());
    CHECK(r.scale() == s.scale());
    CHECK(r.to_json() == s.to_json());
  }
  CHECK(mm.to_json() == nlohmann::json{{"kind", "min_max"}, {"min", 2.0}, {"max", 8.0}});

  CHECK_THROWS_WITH_AS(Scaler::fit(ScalerKind::min_max, {3, 3, 3, 9}, {0, 3}),
                       "scaler: the training values [0, 3) are all 3, so min_max scaling is undefined (hint: a constant "
                       "series cannot be scaled; use scaler none or more varied data)",
                       DataError);
  CHECK_THROWS_WITH_AS(Scaler::fit(ScalerKind::z_score, v, {3, 3}), doctest::Contains("fit range [3, 3) is empty"),
                       DataError);
  CHECK_THROWS_WITH_AS(Scaler::from_json({{"kind", "min_max"}, {"min", 1.0}}),
                       "scaler: key 'max' is missing or not a number in {\"kind\":\"min_max\",\"min\":1.0} (hint: the "
                       "JSON was not written by this version)",
                       DataError);
  CHECK_THROWS_WITH_AS(Scaler::from_json({{"kind", "log"}}), "scaler: unknown kind 'log' (hint: min_max, z_score or none)",
                       DataError);
  CHECK_THROWS_WITH_AS(Scaler::from_json({{"kind", "min_max"}, {"min", 1.0}, {"max", 1.0}}),
                       doctest::Contains("gives a scale of 0, which must be finite and > 0"), DataError);
  CHECK(parse_scaler_kind("zscore") == ScalerKind::z_score);
  CHECK_THROWS_WITH_AS(parse_scaler_kind("robust"), "scaler: unknown kind 'robust' (hint: use min_max, z_score or none)",
                       UsageError);
}

TEST_CASE("windows: targets lie in the split, history may reach back into earlier splits") {
  const Split s = split_by_fraction(100, 0.6, 0.2);
  const WindowSpec spec{5, 3};
  const WindowSet train = make_windows(100, s.train, spec);
  CHECK(train.targets.front() == 7);  // history + horizon - 1
  CHECK(train.targets.back() == 59);
  CHECK(train.first_input(0) == 0);
  const WindowSet val = make_windows(100, s.validation, spec);
  CHECK(val.targets.front() == 60);
  CHECK(val.first_input(0) == 53);  // inputs 53..57 from the training range, target 60
  CHECK(val.size() == 20);
  CHECK(make_windows(100, {0, 7}, spec).empty());
  CHECK_THROWS_WITH_AS(make_windows(100, s.train, {0, 1}),
                       "windows: history and horizon must be >= 1, got history 0 and horizon 1", UsageError);
  CHECK_THROWS_WITH_AS(make_windows(50, s.test, spec), "windows: range [80, 100) does not fit a series of length 50",
                       UsageError);

  Series tiny{"tiny", iota_series(20)};
  CHECK_THROWS_WITH_AS(prepare_data(tiny, SplitSpec{}, {16, 1}, ScalerKind::min_max),
                       "data 'tiny': the training split [0, 14) has no window (a target needs index >= history + "
                       "horizon - 1 = 16; hint: use a longer series, a shorter history or horizon, or other split "
                       "fractions)",
                       DataError);
}

TEST_CASE("batches: x [T, B, 1] and y [B, 1] in float32 hold the windows' values") {
  const std::vector<double> series = iota_series(50);
  const WindowSet w = make_windows(50, {0, 50}, {4, 2});
  const Batch b = make_batch(series, w, {0, 10, 3});
  CHECK(b.x.dtype() == DType::f32);
  CHECK(b.x.shape() == Shape{4, 3, 1});
  CHECK(b.y.shape() == Shape{3, 1});
  CHECK(b.targets == std::vector<int64_t>{5, 15, 8});
  for (int64_t t = 0; t < 4; ++t) {
    CHECK(b.x.at(t * 3 + 0) == static_cast<double>(t));       // window 0: inputs 0..3, target 5
    CHECK(b.x.at(t * 3 + 1) == static_cast<double>(10 + t));  // window 10: inputs 10..13, target 15
    CHECK(b.x.at(t * 3 + 2) == static_cast<double>(3 + t));
  }
  CHECK(b.y.to_vector() == std::vector<double>{5, 15, 8});
  CHECK(make_batch(series, w, {1}, DType::f64).x.dtype() == DType::f64);
  CHECK_THROWS_WITH_AS(make_batch(series, w, {45}), "make_batch: window index 45 is outside [0, 45)", UsageError);
}

TEST_CASE("batch stream: seeded shuffling per epoch, short last batch, exact resume from a cursor") {
  const std::vector<double> series = iota_series(120);
  const WindowSet w = make_windows(120, {0, 100}, {3, 1});  // 97 windows
  BatchStream stream(series, w, 10, true, 42);
  CHECK(stream.batches_per_epoch() == 10);

  // Epoch 0 is a permutation of all windows; last batch holds 7.
  std::vector<int64_t> seen;
  Batch b;
  int batches = 0;
  while (stream.next(b)) {
    ++batches;
    seen.insert(seen.end(), b.targets.begin(), b.targets.end());
    if (batches < 10) CHECK(b.size() == 10);
  }
  CHECK(batches == 10);
  CHECK(b.size() == 7);
  CHECK_FALSE(stream.next(b));
  CHECK(stream.cursor() == DataCursor{0, 97});
  CHECK(std::set<int64_t>(seen.begin(), seen.end()).size() == 97);
  CHECK(seen != w.targets);  // shuffled
  const std::vector<int64_t> order0 = stream.epoch_order();

  stream.next_epoch();
  CHECK(stream.cursor() == DataCursor{1, 0});
  CHECK(stream.epoch_order() != order0);  // a new order per epoch
  CHECK(BatchStream::shuffled_order(97, 42, 0) == order0);
  CHECK(BatchStream::shuffled_order(97, 43, 0) != order0);

  // Serve 3 batches of epoch 1, save the cursor, and compare the rest with a fresh stream that seeks there.
  for (int i = 0; i < 3; ++i) REQUIRE(stream.next(b));
  const DataCursor saved = DataCursor::from_json(nlohmann::json::parse(stream.cursor().to_json().dump()));
  CHECK(saved == DataCursor{1, 30});
  BatchStream resumed(series, w, 10, true, 42);
  resumed.seek(saved);
  Batch x, y;
  int rest = 0;
  while (stream.next(x)) {
    REQUIRE(resumed.next(y));
    CHECK(x.targets == y.targets);
    CHECK(x.x.bit_equal(y.x));
    CHECK(x.y.bit_equal(y.y));
    ++rest;
  }
  CHECK(rest == 7);
  CHECK_FALSE(resumed.next(y));

  // Without shuffling the order is chronological.
  BatchStream plain(series, w, 50, false, 42);
  REQUIRE(plain.next(b));
  CHECK(b.targets.front() == 3);
  CHECK(b.targets.back() == 52);

  CHECK_THROWS_WITH_AS(resumed.seek({2, 98}),
                       "batch stream: cursor (epoch 2, position 98) is outside an epoch of 97 windows (hint: the "
                       "checkpoint was written for different data, history or horizon)",
                       UsageError);
  CHECK_THROWS_WITH_AS(BatchStream(series, w, 0, true, 1), "batch stream: batch size must be >= 1, got 0", UsageError);
  CHECK_THROWS_WITH_AS(DataCursor::from_json({{"epoch", 1}}),
                       "data cursor: key 'position' is missing or not an integer in {\"epoch\":1}", DataError);
}

TEST_CASE("baselines: persistence and seasonal-naive by hand, AR is the least-squares solution") {
  const std::vector<double> s = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const WindowSet w = make_windows(12, {8, 12}, {2, 3});  // targets 8..11, last input t - 3
  CHECK(persistence_forecast(s, w) == std::vector<double>{6, 7, 8, 9});
  CHECK(seasonal_naive_forecast(s, w, 2) == std::vector<double>{5, 6, 7, 8});  // lag 2 * ceil(3/2) = 4
  CHECK(seasonal_naive_forecast(s, w, 4) == std::vector<double>{5, 6, 7, 8});
  CHECK(window_targets(s, w) == std::vector<double>{9, 10, 11, 12});
  CHECK_THROWS_WITH_AS(seasonal_naive_forecast(s, w, 12),
                       "seasonal-naive: the target at index 8 has no value 12 steps earlier (period 12, horizon 3; "
                       "hint: evaluate windows that start at least one period into the series)",
                       DataError);

  // A noisy AR(3) series: at the least-squares solution the residuals are orthogonal to every regressor.
  Rng rng(7);
  std::vector<double> x(600);
  for (size_t t = 0; t < x.size(); ++t) {
    x[t] = 0.2 + rng.normal() * 0.1;
    if (t >= 3) x[t] += 0.5 * x[t - 1] - 0.3 * x[t - 2] + 0.1 * x[t - 3];
  }
  const WindowSet aw = make_windows(600, {0, 600}, {3, 1});
  const LinearAR ar = LinearAR::fit(x, aw);
  REQUIRE(ar.weights.size() == 3);
  CHECK(ar.weights[2] == doctest::Approx(0.5).epsilon(0.2));  // newest input last
  const std::vector<double> pred = ar.predict(x, aw);
  std::vector<double> dot(4, 0.0);
  for (int64_t k = 0; k < aw.size(); ++k) {
    const double r = x[static_cast<size_t>(aw.targets[static_cast<size_t>(k)])] - pred[static_cast<size_t>(k)];
    for (int64_t j = 0; j < 3; ++j) dot[static_cast<size_t>(j)] += r * x[static_cast<size_t>(aw.first_input(k) + j)];
    dot[3] += r;
  }
  for (double d : dot) CHECK(std::abs(d) < 1e-10);
  // Any perturbation of the solution raises the squared error.
  LinearAR worse = ar;
  worse.weights[1] += 1e-3;
  CHECK(rmse(worse.predict(x, aw), window_targets(x, aw)) > rmse(pred, window_targets(x, aw)));

  const std::vector<double> flat(40, 2.0);
  CHECK_THROWS_WITH_AS(LinearAR::fit(flat, make_windows(40, {0, 40}, {3, 1})),
                       "linear AR(3): the normal equations are singular at lag input 1 (the training windows are "
                       "collinear, e.g. a constant series; hint: fit with ridge > 0 or use more varied data)",
                       NumericError);
  CHECK_THROWS_WITH_AS(LinearAR::fit(x, make_windows(600, {0, 6}, {3, 1})),
                       "linear AR(3): needs at least 4 training windows, got 3 (hint: use a longer training split or a "
                       "shorter history)",
                       DataError);
  CHECK_THROWS_WITH_AS(ar.predict(x, make_windows(600, {0, 600}, {4, 1})),
                       "linear AR: the model has 3 weights but the windows have history 4 (hint: fit on windows of the "
                       "same history)",
                       UsageError);
}

TEST_CASE("baselines never fail: ridge on singular fits, shorter AR on few windows, n/a with a reason") {
  // A sine rounded to 6 digits, a ramp and a 12-periodic signal make the least-squares normal equations of
  // AR(16) singular (each value is a fixed linear combination of the previous ones).
  std::vector<std::vector<double>> clean(3, std::vector<double>(400));
  const int pattern[12] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8};
  for (size_t i = 0; i < 400; ++i) {
    clean[0][i] = std::round(std::sin(static_cast<double>(i) / 5.0) * 1e6) / 1e6;
    clean[1][i] = 0.5 * static_cast<double>(i);
    clean[2][i] = pattern[i % 12];
  }
  const WindowSet w = make_windows(400, {0, 300}, {16, 1}), later = make_windows(400, {300, 400}, {16, 1});
  for (const auto& x : clean) {
    CHECK_THROWS_AS(LinearAR::fit(x, w), NumericError);
    const ARFit f = fit_ar_robust(x, w, 16);
    REQUIRE(f.model.has_value());
    CHECK(f.model->order() == 16);
    CHECK(f.note.find("ridge 1e-06") != std::string::npos);
    // The regularised fit still forecasts the clean series closely (1 % of its range).
    const double range = *std::max_element(x.begin(), x.end()) - *std::min_element(x.begin(), x.end());
    CHECK(rmse(f.model->predict_lags(x, later), window_targets(x, later)) < 0.01 * range);
  }
  // Well-posed data: plain least squares, no note, the same weights as LinearAR::fit.
  Rng rng(3);
  std::vector<double> noisy(400);
  for (double& v : noisy) v = rng.normal();
  const WindowSet w8 = make_windows(400, {0, 300}, {8, 1});
  const ARFit plain = fit_ar_robust(noisy, w8, 8);
  CHECK(plain.note.empty());
  CHECK(plain.model->weights == LinearAR::fit(noisy, w8).weights);
  // 4 windows of history 8: AR(2) (at least order + 2 windows), said in the note; 1 window: n/a.
  const ARFit shorter = fit_ar_robust(noisy, make_windows(400, {8, 12}, {8, 1}), 8);
  REQUIRE(shorter.model.has_value());
  CHECK(shorter.model->order() == 2);
  CHECK(shorter.note == "AR(2) instead of AR(8): only 4 windows to fit");
  const ARFit none = fit_ar_robust(noisy, make_windows(400, {8, 9}, {8, 1}), 8);
  CHECK(!none.model.has_value());
  CHECK(none.note == "n/a: 1 window is too few to fit even AR(1)");

  // evaluate_baselines on the clean sine: every baseline scores, the report names the fallback.
  SplitSpec split;
  const PreparedData d = prepare_data(Series{"y", clean[0]}, split, WindowSpec{16, 1}, ScalerKind::min_max);
  const BaselineReport r = evaluate_baselines(d, d.test);
  CHECK(std::isfinite(r.ar.rmse));
  CHECK(r.ar_note.find("ridge") != std::string::npos);
  CHECK(r.to_json().at("ar_note").get<std::string>() == r.ar_note);
}

TEST_CASE("baselines: period detection on the training split, AR order chosen on validation, best of all") {
  const BuiltinDataset nottem = load_builtin_dataset("nottem", UNROLL_SOURCE_DIR);
  const PreparedData b = prepare_data(nottem.series, nottem.split, WindowSpec{16, 1}, ScalerKind::min_max);
  CHECK(detect_period(b.scaled, b.split.train) == 12);
  std::vector<double> sine(600);
  for (size_t i = 0; i < sine.size(); ++i) sine[i] = std::sin(2 * 3.141592653589793 * static_cast<double>(i) / 24.0);
  CHECK(detect_period(sine, {0, 600}) == 24);
  Rng rng(5);
  std::vector<double> noise(600);
  for (double& v : noise) v = rng.normal();
  CHECK(detect_period(noise, {0, 600}) == 0);
  CHECK(detect_period(noise, {0, 8}) == 0);  // too short to tell

  // No period given: detected on 1920-1933 (the training split), not taken from the test split.
  const BaselineReport r = evaluate_baselines(b, b.test);
  CHECK(r.seasonal_period == 12);
  CHECK(r.period_source == "detected on the training split");
  const BaselineReport given = evaluate_baselines(b, b.test, 12);
  CHECK(given.period_source == "given");
  CHECK(given.seasonal_naive->rmse == r.seasonal_naive->rmse);
  // AR(p): chosen by validation RMSE of fits on the training windows; scoring it on another window set
  // (here the validation split itself) does not change the choice.
  CHECK(r.ar_selected_order >= 1);
  CHECK(evaluate_baselines(b, b.validation).ar_selected_order == r.ar_selected_order);
  CHECK(r.ar_selected_note.find("best validation RMSE of 1, 2, 3") != std::string::npos);
  // The best baseline is the one with the lowest RMSE of all of them.
  const BaselineScore best = r.best();
  REQUIRE(best.score.has_value());
  for (const BaselineScore& s : r.all())
    if (s.score) CHECK(best.score->rmse <= s.score->rmse);
  CHECK(r.to_json().at("best").at("name").get<std::string>() == best.name);
  // Without a validation split there is nothing to choose on: no AR(p) row.
  SplitSpec plain;
  plain.train = Range{0, 192};
  plain.test = Range{192, 240};
  plain.validation_fraction = 0;
  const PreparedData d = prepare_data(nottem.series, plain, WindowSpec{16, 1}, ScalerKind::min_max);
  CHECK(evaluate_baselines(d, d.test).ar_selected_order == 0);
}

TEST_CASE("metrics: rmse and mae") {
  CHECK(rmse({1, 2, 3}, {1, 2, 7}) == doctest::Approx(std::sqrt(16.0 / 3)));
  CHECK(mae({1, 2, 3}, {0, 4, 3}) == doctest::Approx(1.0));
  CHECK_THROWS_WITH_AS(rmse({1, 2}, {1}), "rmse: 2 predictions but 1 targets (hint: one prediction per window)",
                       ShapeError);
  CHECK_THROWS_WITH_AS(mae({}, {}), "mae: no values (hint: the evaluated split has no window)", UsageError);
}

TEST_CASE("magnet: same seed gives the same bits, other seeds other series, parameters are checked") {
  MagnetParams p;
  p.length = 5000;
  const std::vector<double> a = generate_magnet(p), b = generate_magnet(p);
  REQUIRE(a.size() == 5000);
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
  p.seed = 2;
  CHECK(generate_magnet(p) != a);
  // The length only truncates: a longer series starts with the same samples.
  p.seed = 1;
  p.length = 7000;
  const std::vector<double> longer = generate_magnet(p);
  CHECK(std::equal(a.begin(), a.end(), longer.begin()));

  MagnetParams bad;
  bad.length = 0;
  CHECK_THROWS_WITH_AS(generate_magnet(bad), "magnet: length must be positive, got 0 (hint: e.g. 30000 samples)",
                       UsageError);
  bad.length = 10;
  bad.noise = -1;
  CHECK_THROWS_WITH_AS(generate_magnet(bad),
                       "magnet: noise must be a finite standard deviation >= 0 volts, got -1 (hint: the default is 0.05)",
                       UsageError);
  bad.noise = 0;
  bad.glitch_rate = 2;
  CHECK_THROWS_WITH_AS(generate_magnet(bad), "magnet: glitch_rate must lie in [0, 1], got 2", UsageError);
  bad.glitch_rate = 0;
  bad.glitch_min = 5;
  bad.glitch_max = 4;
  CHECK_THROWS_WITH_AS(generate_magnet(bad),
                       "magnet: glitch amplitudes need 0 <= glitch_min <= glitch_max, got 5 and 4", UsageError);
  bad.glitch_max = 6;
  bad.ramp_rounding = 0;
  CHECK_THROWS_WITH_AS(generate_magnet(bad), "magnet: ramp_rounding must lie in [1, 1000] samples, got 0", UsageError);
  bad.ramp_rounding = 12;
  bad.time_scale = 0;
  CHECK_THROWS_WITH_AS(generate_magnet(bad), "magnet: time_scale must lie in [0.01, 100], got 0", UsageError);
}

TEST_CASE("magnet: trapezoidal cycles, V = L(I) dI/dt + lag + drift, quenches only at high current, 12-bit ADC") {
  MagnetParams p;  // the default length
  const MagnetSignals s = generate_magnet_signals(p);
  const auto n = s.voltage.size();
  REQUIRE(n == static_cast<size_t>(p.length));
  const double i_nom = MagnetConstants::nominal_current;
  const double range = MagnetConstants::adc_range;
  const double lsb = 2 * range / 4095;

  // Current: between 0 and nominal, back to 0 in every pause, several cycles.
  int64_t cycles = 0;
  for (size_t i = 1; i < n; ++i) {
    CHECK_MESSAGE((s.current[i] >= -1e-9 && s.current[i] <= i_nom + 1e-6), "sample ", i);
    if (s.current[i - 1] == 0 && s.current[i] > 0) ++cycles;
  }
  CHECK(cycles >= 30);

  // The ADC output is on the 12-bit grid and inside the range; at most half an LSB plus noise from clean.
  std::set<double> levels;
  for (double v : s.voltage) {
    const double code = (v + range) / lsb;
    CHECK(std::abs(code - std::round(code)) < 1e-6);
    CHECK(std::abs(v) <= range + 1e-9);
    levels.insert(v);
  }
  CHECK(levels.size() > 200);

  // Quench-like events: some, all starting on a flat top at or above 85% of nominal current; each rises
  // fast (peak within 12 samples) and decays slowly (still above a tenth of the peak 20 samples later).
  int64_t quenches = 0, glitches = 0;
  for (size_t i = 0; i < n; ++i) {
    glitches += s.glitch[i];
    if (!s.quench_start[i]) continue;
    ++quenches;
    CHECK(s.current[i] >= p.quench_threshold * i_nom);
    CHECK(s.current[i] == s.current[i - 1]);  // flat top
    if (i + 40 >= n || s.current[i + 40] != s.current[i]) continue;  // the flat top goes on (no ramp voltage)
    size_t peak = i;
    for (size_t k = i; k < i + 40; ++k) {
      if (s.clean[k] > s.clean[peak]) peak = k;
    }
    CHECK(peak - i <= 12);
    CHECK(s.clean[peak] - s.clean[i - 1] > 5.0);
    CHECK(s.clean[peak + 20] - s.clean[i - 1] > 0.1 * (s.clean[peak] - s.clean[i - 1]));
  }
  CHECK(quenches >= 2);
  CHECK(glitches >= 10);
  CHECK(glitches <= 60);

  // Without noise, glitches and quenches, the ADC output is clean quantised, and clean = L(I) dI/dt + lag +
  // drift: on a long flat top (dI = 0 and the lag decayed) the voltage is the slow drift, |V| < 0.75 V;
  // in the middle of an up ramp it is L(I) dI/dt plus a positive lag.
  MagnetParams quiet = p;
  quiet.noise = 0;
  quiet.glitch_rate = 0;
  quiet.quench_rate = 0;
  const MagnetSignals q = generate_magnet_signals(quiet);
  CHECK(q.current == s.current);  // noise and events do not change the cycles
  for (size_t i = 0; i < n; ++i) CHECK(std::abs(q.voltage[i] - q.clean[i]) <= 0.5 * lsb + 1e-9);
  int64_t flat_checked = 0, ramp_checked = 0;
  for (size_t i = 200; i < n; ++i) {
    const double di = q.current[i] - q.current[i - 1];
    bool steady = true;
    for (size_t k = i - 150; k < i && steady; ++k) steady = q.current[k] == q.current[i];
    if (steady && di == 0) {
      CHECK(std::abs(q.clean[i]) < 0.75);
      ++flat_checked;
    }
    const double di_prev = q.current[i - 1] - q.current[i - 2];
    if (di > 50 && std::abs(di - di_prev) < 1e-6) {
      const double mid = q.current[i - 1] + 0.5 * di;
      const double l = MagnetConstants::inductance * (1 - MagnetConstants::saturation * (mid / i_nom) * (mid / i_nom));
      const double inductive = l * di;
      CHECK(q.clean[i] > inductive - 0.75);
      CHECK(q.clean[i] < inductive + 0.02 * di + 0.75);
      ++ramp_checked;
    }
  }
  CHECK(flat_checked > 1000);
  CHECK(ramp_checked > 1000);

  // More noise, more spread around the clean signal.
  MagnetParams noisy = quiet;
  noisy.noise = 0.5;
  const MagnetSignals nz = generate_magnet_signals(noisy);
  double sq = 0;
  for (size_t i = 0; i < n; ++i) sq += (nz.voltage[i] - nz.clean[i]) * (nz.voltage[i] - nz.clean[i]);
  CHECK(std::sqrt(sq / static_cast<double>(n)) == doctest::Approx(0.5).epsilon(0.05));
}

TEST_CASE("magnet: the default series has structure a model can use (AR beats persistence)") {
  const BuiltinDataset m = load_builtin_dataset("magnet", "", {});
  CHECK(m.series.size() == MagnetParams{}.length);
  for (int64_t horizon : {1, 4, 16}) {
    const PreparedData d = prepare_data(m.series, m.split, {16, horizon}, ScalerKind::min_max);
    const BaselineReport r = evaluate_baselines(d, d.test);
    INFO("horizon ", horizon, ": persistence ", r.persistence.rmse, ", AR ", r.ar.rmse);
    CHECK(r.ar.rmse < r.persistence.rmse);
    CHECK(r.ar.rmse > 0.001);  // not trivially predictable
  }
}

TEST_CASE("built-in datasets: names, nottem lookup in the source tree or a share dir, errors") {
  CHECK(builtin_dataset_names() == std::vector<std::string>{"magnet", "nottem"});
  const BuiltinDataset from_source = load_builtin_dataset("nottem", UNROLL_SOURCE_DIR);
  const BuiltinDataset from_data = load_builtin_dataset("nottem", std::string(UNROLL_SOURCE_DIR) + "/data");
  CHECK(from_source.series.values == from_data.series.values);
  CHECK(from_source.series.values.front() == 40.6);
  CHECK(from_source.seasonal_period == 12);
  CHECK_THROWS_WITH_AS(load_builtin_dataset("sunspots", UNROLL_SOURCE_DIR),
                       "dataset: no built-in dataset named 'sunspots' (available: magnet, nottem; hint: for your own "
                       "data pass --data FILE.csv --column NAME)",
                       UsageError);
  CHECK_THROWS_WITH_AS(load_builtin_dataset("nottem", "/nonexistent"),
                       "dataset 'nottem': nottem.csv is in neither '/nonexistent' nor '/nonexistent/data' (hint: pass "
                       "the unroll source tree or its installed share/unroll directory as the data directory)",
                       IoError);
  DatasetParams small;
  small.length = 1000;
  small.noise = 0.1;
  small.seed = 9;
  const BuiltinDataset m = load_builtin_dataset("magnet", "", small);
  CHECK(m.series.size() == 1000);
  CHECK(m.source == "magnet generator (length 1000, noise 0.1 V, seed 9)");
  small.time_scale = 0.5;
  const BuiltinDataset fast = load_builtin_dataset("magnet", "", small);
  CHECK(fast.source == "magnet generator (length 1000, noise 0.1 V, seed 9, time scale 0.5)");
  CHECK(fast.series.values != m.series.values);
}
