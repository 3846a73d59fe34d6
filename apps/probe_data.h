// SPDX-License-Identifier: Apache-2.0
// What lives here: the sequences `unroll gradflow --checkpoint` and `unroll probe` feed a forecaster from
// `unroll train`: windows of the test split of the run's own data, and the saturation statistics that
// probe prints and train adds to report.json.
#pragma once
#include <nlohmann/json.hpp>

#include "apps/run_config.h"

namespace unroll::cli {

struct ProbeWindows {
  Tensor x;       // [steps, B, 1], the scaled series, float32
  Tensor target;  // [B, 1]: what the network part must output (the target minus the residual when on)
};
// The first `rows` windows of the test split that have `steps` inputs (0: the run's history) before their
// target. DataError when none has.
ProbeWindows test_windows(const RunConfig& run, const PreparedData& data, int64_t steps, int64_t rows);

// gate_saturation (train/gradient_flow.h) of the model's network on test_windows(run, data, 0, rows),
// as JSON (per-step fractions included).
nlohmann::json saturation_json(ForecastModel& model, const RunConfig& run, const PreparedData& data, int64_t rows);

}  // namespace unroll::cli
