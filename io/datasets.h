// SPDX-License-Identifier: Apache-2.0
// What lives here: everything between a time series and the tensors a recurrent model trains on.
//   Series            values + name
//   Split / SplitSpec chronological train / validation / test ranges, by fractions or explicit ranges
//   Scaler            min-max or z-score, fitted on the training range only, saved as JSON in checkpoints
//   WindowSet         sliding windows: `history` inputs predicting the value `horizon` steps ahead
//   BatchStream       seeded per-epoch shuffling, float32 batches x [T=history, B, 1], y [B, 1], and a
//                     DataCursor (epoch, position) for exact resume
//   window_targets    the target value of each window (the metrics and baselines over them: train/)
//   built-in data     load_builtin_dataset("magnet" | "nottem", data_dir, params)
// Note [Windows and splits]: a window belongs to the split that holds its TARGET. Its history may reach
// back into earlier splits (a test window's inputs may be validation or training values); the first
// target of the whole series is at index history + horizon - 1.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "graph/tensor.h"
#include "io/data_magnet.h"

namespace unroll {

struct Series {
  std::string name;
  std::vector<double> values;
  int64_t size() const { return static_cast<int64_t>(values.size()); }
};

// ---- splits ----

struct Range {  // half-open [begin, end) of series indices
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
  bool contains(int64_t i) const { return i >= begin && i < end; }
  friend bool operator==(const Range&, const Range&) = default;
};

struct Split {
  Range train, validation, test;  // in this order, adjacent or with gaps, never overlapping
  Range fit;  // what the scaler and the AR baseline are fitted on: train, or train + validation (see SplitSpec)
  nlohmann::json to_json() const;
};

// How to split a series of any length.
//  - Fractions (train and test ranges unset): train = first round(n * train_fraction) points, validation
//    the next round(n * validation_fraction), test the rest.
//  - Ranges (both set): test as given; validation = the last round(train.size() * validation_fraction)
//    points of the given train range, train the points before them.
// fit_includes_validation: fit the scaler and the AR baseline on train + validation (the whole designated
// training period, e.g. nottem's 1920-1935, as the published references do) instead of on train alone.
// The model still trains on train only and uses validation only for model selection.
struct SplitSpec {
  double train_fraction = 0.7;
  double validation_fraction = 0.15;
  std::optional<Range> train;
  std::optional<Range> test;
  bool fit_includes_validation = false;

  // Throws DataError when the ranges do not fit a series of length n or a part that must not be empty
  // (train, test) is empty.
  Split resolve(int64_t n) const;
  nlohmann::json to_json() const;
  static SplitSpec from_json(const nlohmann::json& j);
};

Split split_by_fraction(int64_t n, double train_fraction, double validation_fraction);
Split split_by_ranges(int64_t n, Range train, Range test, double validation_fraction = 0.0);

// ---- scaling ----

enum class ScalerKind { none, min_max, z_score };
const char* scaler_kind_name(ScalerKind kind);           // "none", "min_max", "z_score"
ScalerKind parse_scaler_kind(const std::string& name);   // also accepts "minmax", "zscore"; UsageError otherwise

// x' = (x - offset) / scale. min_max: offset = min, scale = max - min (training values map to [0, 1]);
// z_score: offset = mean, scale = population standard deviation; none: offset 0, scale 1.
class Scaler {
 public:
  Scaler() = default;  // kind none
  // Fits on values[range] only. Throws DataError when the range is empty or the values there are constant.
  static Scaler fit(ScalerKind kind, const std::vector<double>& values, Range range);

  ScalerKind kind() const { return kind_; }
  double offset() const { return offset_; }
  double scale() const { return scale_; }
  double transform(double x) const { return (x - offset_) / scale_; }
  double inverse(double y) const { return y * scale_ + offset_; }
  std::vector<double> transform(const std::vector<double>& xs) const;
  std::vector<double> inverse(const std::vector<double>& ys) const;

  // {"kind": "min_max", "min": .., "max": ..} | {"kind": "z_score", "mean": .., "std": ..} | {"kind": "none"};
  // doubles round-trip exactly. from_json throws DataError naming the missing or bad key.
  nlohmann::json to_json() const;
  static Scaler from_json(const nlohmann::json& j);

 private:
  ScalerKind kind_ = ScalerKind::none;
  double offset_ = 0;
  double scale_ = 1;
  double a_ = 0, b_ = 0;  // min/max or mean/std, exactly as fitted (what to_json writes)
};

// ---- windows ----

struct WindowSpec {
  int64_t history = 16;  // inputs per window
  int64_t horizon = 1;   // the target is `horizon` steps after the last input
};

// Window k predicts series[targets[k]] from series[targets[k] - horizon - history + 1 .. targets[k] - horizon].
struct WindowSet {
  WindowSpec spec;
  std::vector<int64_t> targets;
  int64_t size() const { return static_cast<int64_t>(targets.size()); }
  bool empty() const { return targets.empty(); }
  int64_t first_input(int64_t k) const { return targets[static_cast<size_t>(k)] - spec.horizon - spec.history + 1; }
};

// All windows whose target lies in `range` and whose inputs lie in the series (see Note [Windows and
// splits]). Throws UsageError for history < 1 or horizon < 1; may be empty.
WindowSet make_windows(int64_t series_length, Range range, WindowSpec spec);

// ---- batches ----

struct Batch {
  Tensor x;                      // [T=history, B, 1]
  Tensor y;                      // [B, 1]
  std::vector<int64_t> targets;  // series index of each row's target
  int64_t size() const { return static_cast<int64_t>(targets.size()); }
};

// Rows are windows[indices[i]] in that order. Values are taken from `series` (already scaled).
Batch make_batch(const std::vector<double>& series, const WindowSet& windows, const std::vector<int64_t>& indices,
                 DType dtype = DType::f32);

struct DataCursor {
  int64_t epoch = 0;     // 0-based epoch being served
  int64_t position = 0;  // windows of this epoch already served
  friend bool operator==(const DataCursor&, const DataCursor&) = default;
  nlohmann::json to_json() const;
  static DataCursor from_json(const nlohmann::json& j);
};

// Serves one epoch of batches at a time. Shuffled order of epoch e: Fisher-Yates over 0..N-1 driven by
// Rng(shuffle_seed_for(seed, e)), drawing rng.below(i + 1) for i = N-1 down to 1, so any (epoch,
// position) can be re-entered without replaying earlier epochs. The last batch of an epoch may be short.
class BatchStream {
 public:
  BatchStream(std::vector<double> series, WindowSet windows, int64_t batch_size, bool shuffle, uint64_t seed,
              DType dtype = DType::f32);

  // The next batch of the current epoch; false (and no change) when the epoch is exhausted.
  bool next(Batch& batch);
  void next_epoch();  // cursor -> {epoch + 1, 0}
  DataCursor cursor() const { return cursor_; }
  // Re-enters a saved cursor; UsageError when the position is negative or beyond the epoch.
  void seek(DataCursor cursor);

  int64_t windows_per_epoch() const { return windows_.size(); }
  int64_t batches_per_epoch() const;
  int64_t batch_size() const { return batch_size_; }
  const std::vector<int64_t>& epoch_order() const { return order_; }  // order of the current epoch
  static std::vector<int64_t> shuffled_order(int64_t n, uint64_t seed, int64_t epoch);
  static uint64_t shuffle_seed_for(uint64_t seed, int64_t epoch);

 private:
  void build_order();
  std::vector<double> series_;
  WindowSet windows_;
  int64_t batch_size_;
  bool shuffle_;
  uint64_t seed_;
  DType dtype_;
  DataCursor cursor_;
  std::vector<int64_t> order_;
  std::vector<int64_t> scratch_;
};

// ---- a series made ready for training ----

struct PreparedData {
  Series series;               // original units
  Split split;
  Scaler scaler;               // fitted on series[split.fit]
  std::vector<double> scaled;  // the whole series, scaled
  WindowSpec spec;
  WindowSet train, validation, test;
  WindowSet fit;  // windows with targets in split.fit (the AR baseline's training data)
};

// Resolves the split, fits the scaler on split.fit, scales, and builds the three window sets.
// Throws DataError when the training or test split has no window (naming the split, its range and the
// smallest usable target index).
PreparedData prepare_data(Series series, const SplitSpec& split, WindowSpec spec, ScalerKind scaler);

// ---- window targets ----

// series[t] for each window's target t, in window order (what a forecast of these windows is scored
// against; the metrics and baselines live in train/metrics.h and train/baselines.h).
std::vector<double> window_targets(const std::vector<double>& series, const WindowSet& windows);

// ---- built-in data ----

struct DatasetParams {
  std::optional<int64_t> length;  // magnet: samples (default MagnetParams{}.length); nottem: unused
  std::optional<double> noise;    // magnet: volts (default MagnetParams{}.noise); nottem: unused
  uint64_t seed = 1;              // magnet only
  std::optional<double> time_scale;  // magnet: flat-top and pause durations (default MagnetParams{}.time_scale)
};

struct BuiltinDataset {
  Series series;
  SplitSpec split;              // the dataset's standard split
  int64_t seasonal_period = 0;  // for the seasonal-naive baseline; 0 = none
  std::string source;           // where the values came from (file path or generator and parameters)
};

std::vector<std::string> builtin_dataset_names();  // {"magnet", "nottem"}
// magnet: generated (split 70/15/15). nottem: temp_F of nottem.csv, looked up as data_dir/nottem.csv then
// data_dir/data/nottem.csv (so the source tree or an installed share/unroll directory both work); split
// train 1920-1935 (first 192 months, the last 24 of them validation), test 1936-1939 (last 48), period 12,
// scaler and AR fitted on all of 1920-1935 (fit_includes_validation), which reproduces data/NOTICE.md.
// UsageError for an unknown name, IoError when nottem.csv is not found.
BuiltinDataset load_builtin_dataset(const std::string& name, const std::string& data_dir,
                                    const DatasetParams& params = {});

}  // namespace unroll
