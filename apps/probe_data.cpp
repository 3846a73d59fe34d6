// SPDX-License-Identifier: Apache-2.0
// What lives here: apps/probe_data.h.
#include "apps/probe_data.h"

#include <algorithm>

#include "graph/check.h"
#include "train/gradient_flow.h"

namespace unroll::cli {

ProbeWindows test_windows(const RunConfig& run, const PreparedData& data, int64_t steps, int64_t rows) {
  const int64_t T = steps > 0 ? steps : run.data.history, horizon = run.data.horizon;
  std::vector<int64_t> starts, targets;
  for (int64_t target : data.test.targets) {
    const int64_t first = target - horizon - T + 1;
    if (first < 0) continue;
    starts.push_back(first);
    targets.push_back(target);
    if (static_cast<int64_t>(starts.size()) == rows) break;
  }
  UNROLL_CHECK(!starts.empty(), DataError,
               "no test window has {} inputs before its target (hint: fewer --steps; the series is {} long)", T,
               data.scaled.size());
  const int64_t B = static_cast<int64_t>(starts.size());
  ProbeWindows w;
  w.x = Tensor::empty(Shape{T, B, 1}, DType::f32);
  w.target = Tensor::empty(Shape{B, 1}, DType::f32);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) w.x.set(t * B + b, data.scaled[static_cast<size_t>(starts[b] + t)]);
    const double last = data.scaled[static_cast<size_t>(starts[b] + T - 1)];
    w.target.set(b, data.scaled[static_cast<size_t>(targets[b])] - (run.model.residual ? last : 0.0));
  }
  return w;
}

nlohmann::json saturation_json(ForecastModel& model, const RunConfig& run, const PreparedData& data, int64_t rows) {
  if (run.model.net.recurrent.bidirectional)
    return {{"note", "gate saturation is probed for unidirectional models only"}};
  const ProbeWindows w = test_windows(run, data, 0, rows);
  return gate_saturation(model.net().rnn(), w.x).to_json();
}

}  // namespace unroll::cli
