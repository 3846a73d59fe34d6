// SPDX-License-Identifier: Apache-2.0
// What lives here: learning-rate schedules: constant, step decay, cosine annealing, each optionally
// preceded by a linear warm-up. A schedule is a pure function of the optimizer step count, so its whole
// checkpoint state is its config plus that count (saved in TrainerProgress::schedule as JSON).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace unroll {

struct ScheduleConfig {
  std::string kind = "constant";  // constant | step | cosine
  double base_lr = 1e-3;
  int64_t warmup_steps = 0;       // linear ramp from base_lr/warmup_steps up to base_lr over these steps
  // step: lr = base_lr * gamma^floor((step - warmup) / step_size)
  int64_t step_size = 1000;
  double gamma = 0.5;
  // cosine: from base_lr down to min_lr over total_steps (after warm-up), then min_lr
  int64_t total_steps = 1000;
  double min_lr = 0;

  nlohmann::json to_json() const;
  static ScheduleConfig from_json(const nlohmann::json& j);  // DataError naming a bad field
};

class Schedule {
 public:
  explicit Schedule(ScheduleConfig config);
  // Learning rate for optimizer step `step` (1-based: the first update is step 1).
  double lr(int64_t step) const;
  const ScheduleConfig& config() const { return config_; }
  // {"config": {...}, "step": n}: n is the number of updates already taken.
  nlohmann::json state(int64_t step) const { return {{"config", config_.to_json()}, {"step", step}}; }

 private:
  ScheduleConfig config_;
};

}  // namespace unroll
