// SPDX-License-Identifier: Apache-2.0
// What lives here: splits, scalers, windows, batches and the built-in datasets of io/datasets.h.
#include "io/datasets.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "graph/check.h"
#include "graph/json_fields.h"
#include "graph/rng.h"
#include "io/csv.h"

namespace unroll {

namespace {

std::string range_str(Range r) { return fmt::format("[{}, {})", r.begin, r.end); }

nlohmann::json range_json(Range r) { return nlohmann::json::array({r.begin, r.end}); }

Range range_from_json(const nlohmann::json& j, const char* key) {
  UNROLL_CHECK(j.is_array() && j.size() == 2 && j[0].is_number_integer() && j[1].is_number_integer(), DataError,
               "split spec: '{}' must be [begin, end] integers, got {} (hint: e.g. [0, 192])", key, j.dump());
  return Range{j[0].get<int64_t>(), j[1].get<int64_t>()};
}

void check_fraction(double f, const char* name) {
  UNROLL_CHECK(std::isfinite(f) && f >= 0 && f <= 1, UsageError, "split: {} must lie in [0, 1], got {}", name, f);
}

}  // namespace

// ---- splits ----

nlohmann::json Split::to_json() const {
  return {{"train", range_json(train)},
          {"validation", range_json(validation)},
          {"test", range_json(test)},
          {"fit", range_json(fit)}};
}

Split split_by_fraction(int64_t n, double train_fraction, double validation_fraction) {
  check_fraction(train_fraction, "train_fraction");
  check_fraction(validation_fraction, "validation_fraction");
  UNROLL_CHECK(train_fraction + validation_fraction <= 1.0 + 1e-12, UsageError,
               "split: train_fraction {} + validation_fraction {} exceed 1 (hint: the test split is the rest)",
               train_fraction, validation_fraction);
  UNROLL_CHECK(n >= 0, UsageError, "split: series length must be >= 0, got {}", n);
  const int64_t n_train = std::llround(static_cast<double>(n) * train_fraction);
  const int64_t n_val = std::min(n - n_train, static_cast<int64_t>(std::llround(static_cast<double>(n) * validation_fraction)));
  return Split{{0, n_train}, {n_train, n_train + n_val}, {n_train + n_val, n}, {0, n_train}};
}

Split split_by_ranges(int64_t n, Range train, Range test, double validation_fraction) {
  check_fraction(validation_fraction, "validation_fraction");
  for (const auto& [name, r] : {std::pair{"train", train}, std::pair{"test", test}}) {
    UNROLL_CHECK(r.begin >= 0 && r.begin <= r.end && r.end <= n, DataError,
                 "split: {} range {} does not fit a series of length {} (hint: ranges are half-open [begin, end) "
                 "indices with 0 <= begin <= end <= length)",
                 name, range_str(r), n);
  }
  UNROLL_CHECK(test.begin >= train.end, DataError,
               "split: test range {} starts before the end of the train range {} (hint: splits are chronological "
               "and must not overlap)",
               range_str(test), range_str(train));
  const int64_t n_val = std::llround(static_cast<double>(train.size()) * validation_fraction);
  return Split{{train.begin, train.end - n_val}, {train.end - n_val, train.end}, test, {train.begin, train.end - n_val}};
}

Split SplitSpec::resolve(int64_t n) const {
  UNROLL_CHECK(train.has_value() == test.has_value(), UsageError,
               "split spec: give both a train and a test range, or neither (then fractions are used)");
  Split s = train ? split_by_ranges(n, *train, *test, validation_fraction)
                  : split_by_fraction(n, train_fraction, validation_fraction);
  s.fit = fit_includes_validation ? Range{s.train.begin, s.validation.end} : s.train;
  UNROLL_CHECK(s.train.size() > 0 && s.test.size() > 0, DataError,
               "split: a series of length {} gives train {}, validation {}, test {}; train and test must not be "
               "empty (hint: use a longer series or other fractions)",
               n, range_str(s.train), range_str(s.validation), range_str(s.test));
  return s;
}

nlohmann::json SplitSpec::to_json() const {
  nlohmann::json j = {{"train_fraction", train_fraction},
                      {"validation_fraction", validation_fraction},
                      {"fit_includes_validation", fit_includes_validation}};
  if (train) j["train"] = range_json(*train);
  if (test) j["test"] = range_json(*test);
  return j;
}

SplitSpec SplitSpec::from_json(const nlohmann::json& j) {
  const JsonFields f(j, "split spec", {"train_fraction", "validation_fraction", "fit_includes_validation", "train", "test"},
                     "(hint: the JSON was not written by this version)");
  SplitSpec s;
  s.train_fraction = f.require<double>("train_fraction");
  s.validation_fraction = f.require<double>("validation_fraction");
  f.read("fit_includes_validation", s.fit_includes_validation);
  if (f.has("train")) s.train = range_from_json(j["train"], "train");
  if (f.has("test")) s.test = range_from_json(j["test"], "test");
  return s;
}

// ---- scaling ----

const char* scaler_kind_name(ScalerKind kind) {
  switch (kind) {
    case ScalerKind::none: return "none";
    case ScalerKind::min_max: return "min_max";
    case ScalerKind::z_score: return "z_score";
  }
  return "?";
}

ScalerKind parse_scaler_kind(const std::string& name) {
  if (name == "none") return ScalerKind::none;
  if (name == "min_max" || name == "minmax") return ScalerKind::min_max;
  if (name == "z_score" || name == "zscore") return ScalerKind::z_score;
  throw UsageError(fmt::format("scaler: unknown kind '{}' (hint: use min_max, z_score or none)", name));
}

Scaler Scaler::fit(ScalerKind kind, const std::vector<double>& values, Range range) {
  UNROLL_CHECK(range.begin >= 0 && range.end <= static_cast<int64_t>(values.size()) && range.size() > 0, DataError,
               "scaler: fit range {} is empty or outside a series of length {} (hint: the training split must hold "
               "values)",
               range_str(range), values.size());
  Scaler s;
  s.kind_ = kind;
  const auto first = values.begin() + range.begin, last = values.begin() + range.end;
  if (kind == ScalerKind::none) return s;
  if (kind == ScalerKind::min_max) {
    const auto [lo, hi] = std::minmax_element(first, last);
    s.a_ = *lo;
    s.b_ = *hi;
    s.offset_ = s.a_;
    s.scale_ = s.b_ - s.a_;
  } else {
    double sum = 0;
    for (auto it = first; it != last; ++it) sum += *it;
    const double mean = sum / static_cast<double>(range.size());
    double sq = 0;
    for (auto it = first; it != last; ++it) sq += (*it - mean) * (*it - mean);
    s.a_ = mean;
    s.b_ = std::sqrt(sq / static_cast<double>(range.size()));
    s.offset_ = s.a_;
    s.scale_ = s.b_;
  }
  UNROLL_CHECK(s.scale_ > 0 && std::isfinite(s.scale_), DataError,
               "scaler: the training values {} are all {}, so {} scaling is undefined (hint: a constant series "
               "cannot be scaled; use scaler none or more varied data)",
               range_str(range), *first, scaler_kind_name(kind));
  return s;
}

std::vector<double> Scaler::transform(const std::vector<double>& xs) const {
  std::vector<double> out(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) out[i] = transform(xs[i]);
  return out;
}

std::vector<double> Scaler::inverse(const std::vector<double>& ys) const {
  std::vector<double> out(ys.size());
  for (size_t i = 0; i < ys.size(); ++i) out[i] = inverse(ys[i]);
  return out;
}

nlohmann::json Scaler::to_json() const {
  switch (kind_) {
    case ScalerKind::min_max: return {{"kind", "min_max"}, {"min", a_}, {"max", b_}};
    case ScalerKind::z_score: return {{"kind", "z_score"}, {"mean", a_}, {"std", b_}};
    case ScalerKind::none: break;
  }
  return {{"kind", "none"}};
}

Scaler Scaler::from_json(const nlohmann::json& j) {
  const JsonFields f(j, "scaler", {"kind", "min", "max", "mean", "std"},
                     "(hint: the JSON was not written by this version)");
  Scaler s;
  const std::string kind = f.require<std::string>("kind");
  UNROLL_CHECK(kind == "none" || kind == "min_max" || kind == "z_score", DataError,
               "scaler: unknown kind '{}' (hint: min_max, z_score or none)", kind);
  s.kind_ = parse_scaler_kind(kind);
  if (s.kind_ == ScalerKind::none) return s;
  const bool minmax = s.kind_ == ScalerKind::min_max;
  s.a_ = f.require<double>(minmax ? "min" : "mean");
  s.b_ = f.require<double>(minmax ? "max" : "std");
  s.offset_ = s.a_;
  s.scale_ = minmax ? s.b_ - s.a_ : s.b_;
  UNROLL_CHECK(std::isfinite(s.a_) && s.scale_ > 0 && std::isfinite(s.scale_), DataError,
               "scaler: {} gives a scale of {}, which must be finite and > 0", j.dump(), s.scale_);
  return s;
}

// ---- windows ----

WindowSet make_windows(int64_t series_length, Range range, WindowSpec spec) {
  UNROLL_CHECK(spec.history >= 1 && spec.horizon >= 1, UsageError,
               "windows: history and horizon must be >= 1, got history {} and horizon {}", spec.history,
               spec.horizon);
  UNROLL_CHECK(range.begin >= 0 && range.begin <= range.end && range.end <= series_length, UsageError,
               "windows: range {} does not fit a series of length {}", range_str(range), series_length);
  WindowSet w;
  w.spec = spec;
  const int64_t first = std::max(range.begin, spec.history + spec.horizon - 1);
  if (first < range.end) w.targets.reserve(static_cast<size_t>(range.end - first));
  for (int64_t t = first; t < range.end; ++t) w.targets.push_back(t);
  return w;
}

// ---- batches ----

Batch make_batch(const std::vector<double>& series, const WindowSet& windows, const std::vector<int64_t>& indices,
                 DType dtype) {
  const int64_t history = windows.spec.history;
  const auto batch = static_cast<int64_t>(indices.size());
  UNROLL_CHECK(batch > 0, UsageError, "make_batch: no window indices given");
  Batch out;
  out.x = Tensor::empty({history, batch, 1}, dtype);
  out.y = Tensor::empty({batch, 1}, dtype);
  out.targets.resize(indices.size());
  dispatch_dtype(dtype, [&]<class T>() {
    T* x = out.x.data<T>();
    T* y = out.y.data<T>();
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t k = indices[static_cast<size_t>(b)];
      UNROLL_CHECK(k >= 0 && k < windows.size(), UsageError, "make_batch: window index {} is outside [0, {})", k,
                   windows.size());
      const int64_t target = windows.targets[static_cast<size_t>(k)];
      UNROLL_CHECK(target < static_cast<int64_t>(series.size()), UsageError,
                   "make_batch: window target {} is beyond a series of length {}", target, series.size());
      const int64_t first = windows.first_input(k);
      for (int64_t t = 0; t < history; ++t) x[t * batch + b] = static_cast<T>(series[static_cast<size_t>(first + t)]);
      y[b] = static_cast<T>(series[static_cast<size_t>(target)]);
      out.targets[static_cast<size_t>(b)] = target;
    }
    return 0;
  });
  return out;
}

nlohmann::json DataCursor::to_json() const { return {{"epoch", epoch}, {"position", position}}; }

DataCursor DataCursor::from_json(const nlohmann::json& j) {
  const JsonFields f(j, "data cursor", {"epoch", "position"});
  return DataCursor{f.require<int64_t>("epoch"), f.require<int64_t>("position")};
}

BatchStream::BatchStream(std::vector<double> series, WindowSet windows, int64_t batch_size, bool shuffle,
                         uint64_t seed, DType dtype)
    : series_(std::move(series)),
      windows_(std::move(windows)),
      batch_size_(batch_size),
      shuffle_(shuffle),
      seed_(seed),
      dtype_(dtype) {
  UNROLL_CHECK(batch_size_ > 0, UsageError, "batch stream: batch size must be >= 1, got {}", batch_size_);
  UNROLL_CHECK(windows_.empty() || windows_.targets.back() < static_cast<int64_t>(series_.size()), UsageError,
               "batch stream: window target {} is beyond a series of length {}", windows_.targets.back(),
               series_.size());
  build_order();
}

uint64_t BatchStream::shuffle_seed_for(uint64_t seed, int64_t epoch) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (static_cast<uint64_t>(epoch) + 1);  // splitmix64 finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::vector<int64_t> BatchStream::shuffled_order(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  Rng rng(shuffle_seed_for(seed, epoch));
  for (int64_t i = n - 1; i >= 1; --i) {
    const auto j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(i) + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

void BatchStream::build_order() {
  if (shuffle_) {
    order_ = shuffled_order(windows_.size(), seed_, cursor_.epoch);
  } else {
    order_.resize(static_cast<size_t>(windows_.size()));
    for (int64_t i = 0; i < windows_.size(); ++i) order_[static_cast<size_t>(i)] = i;
  }
}

bool BatchStream::next(Batch& batch) {
  const int64_t n = windows_.size();
  if (cursor_.position >= n) return false;
  const int64_t count = std::min(batch_size_, n - cursor_.position);
  scratch_.assign(order_.begin() + cursor_.position, order_.begin() + cursor_.position + count);
  batch = make_batch(series_, windows_, scratch_, dtype_);
  cursor_.position += count;
  return true;
}

void BatchStream::next_epoch() {
  cursor_ = DataCursor{cursor_.epoch + 1, 0};
  build_order();
}

void BatchStream::seek(DataCursor cursor) {
  UNROLL_CHECK(cursor.epoch >= 0 && cursor.position >= 0 && cursor.position <= windows_.size(), UsageError,
               "batch stream: cursor (epoch {}, position {}) is outside an epoch of {} windows (hint: the checkpoint "
               "was written for different data, history or horizon)",
               cursor.epoch, cursor.position, windows_.size());
  const bool rebuild = cursor.epoch != cursor_.epoch;
  cursor_ = cursor;
  if (rebuild) build_order();
}

int64_t BatchStream::batches_per_epoch() const { return (windows_.size() + batch_size_ - 1) / batch_size_; }

// ---- a series made ready for training ----

PreparedData prepare_data(Series series, const SplitSpec& split_spec, WindowSpec spec, ScalerKind scaler) {
  PreparedData d;
  d.spec = spec;
  d.split = split_spec.resolve(series.size());
  d.scaler = Scaler::fit(scaler, series.values, d.split.fit);
  d.scaled = d.scaler.transform(series.values);
  const int64_t n = series.size();
  d.train = make_windows(n, d.split.train, spec);
  d.validation = make_windows(n, d.split.validation, spec);
  d.test = make_windows(n, d.split.test, spec);
  d.fit = make_windows(n, d.split.fit, spec);
  for (const auto& [name, w, r] : {std::tuple{"training", &d.train, d.split.train}, std::tuple{"test", &d.test, d.split.test}}) {
    UNROLL_CHECK(!w->empty(), DataError,
                 "data '{}': the {} split {} has no window (a target needs index >= history + horizon - 1 = {}; "
                 "hint: use a longer series, a shorter history or horizon, or other split fractions)",
                 series.name, name, range_str(r), spec.history + spec.horizon - 1);
  }
  d.series = std::move(series);
  return d;
}

// ---- window targets ----

std::vector<double> window_targets(const std::vector<double>& series, const WindowSet& windows) {
  std::vector<double> out;
  out.reserve(windows.targets.size());
  for (int64_t t : windows.targets) out.push_back(series.at(static_cast<size_t>(t)));
  return out;
}

// ---- built-in data ----

std::vector<std::string> builtin_dataset_names() { return {"magnet", "nottem"}; }

BuiltinDataset load_builtin_dataset(const std::string& name, const std::string& data_dir,
                                    const DatasetParams& params) {
  BuiltinDataset d;
  if (name == "magnet") {
    MagnetParams mp;
    if (params.length) mp.length = *params.length;
    if (params.noise) mp.noise = *params.noise;
    mp.seed = params.seed;
    if (params.time_scale) mp.time_scale = *params.time_scale;
    d.series = Series{"magnet", generate_magnet(mp)};
    d.split = SplitSpec{};  // 70 / 15 / 15
    d.source = fmt::format("magnet generator (length {}, noise {} V, seed {}{})", mp.length, mp.noise, mp.seed,
                           mp.time_scale == 1.0 ? std::string() : fmt::format(", time scale {}", mp.time_scale));
    return d;
  }
  if (name == "nottem") {
    namespace fs = std::filesystem;
    std::error_code ec;
    std::string path;
    for (const fs::path& candidate : {fs::path(data_dir) / "nottem.csv", fs::path(data_dir) / "data" / "nottem.csv"}) {
      if (path.empty() && fs::is_regular_file(candidate, ec)) path = candidate.string();
    }
    UNROLL_CHECK(!path.empty(), IoError,
                 "dataset 'nottem': nottem.csv is in neither '{}' nor '{}/data' (hint: pass the unroll source tree "
                 "or its installed share/unroll directory as the data directory)",
                 data_dir, data_dir);
    d.series = Series{"nottem", read_csv_column(path, "temp_F")};
    UNROLL_CHECK(d.series.size() == 240, DataError,
                 "dataset 'nottem': '{}' has {} rows, expected 240 (monthly 1920-1939; hint: restore the file shipped "
                 "in data/)",
                 path, d.series.size());
    d.split.train = Range{0, 192};    // 1920-1935
    d.split.test = Range{192, 240};   // 1936-1939
    d.split.validation_fraction = 0.125;  // 1934-1935 carved from the end of train
    d.split.fit_includes_validation = true;  // scaler and AR on all of 1920-1935, as in data/NOTICE.md
    d.seasonal_period = 12;
    d.source = path;
    return d;
  }
  std::string names;
  for (const auto& n : builtin_dataset_names()) names += (names.empty() ? "" : ", ") + n;
  throw UsageError(fmt::format(
      "dataset: no built-in dataset named '{}' (available: {}; hint: for your own data pass --data FILE.csv --column "
      "NAME)",
      name, names));
}

}  // namespace unroll
