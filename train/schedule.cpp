// SPDX-License-Identifier: Apache-2.0
// What lives here: the learning-rate formulas and the schedule config's JSON form.
#include "train/schedule.h"

#include <cmath>

#include "graph/check.h"
#include "graph/json_fields.h"

namespace unroll {

nlohmann::json ScheduleConfig::to_json() const {
  return {{"kind", kind},         {"base_lr", base_lr},         {"warmup_steps", warmup_steps},
          {"step_size", step_size}, {"gamma", gamma},           {"total_steps", total_steps},
          {"min_lr", min_lr}};
}

ScheduleConfig ScheduleConfig::from_json(const nlohmann::json& j) {
  const JsonFields f(j, "schedule config",
                     {"kind", "base_lr", "warmup_steps", "step_size", "gamma", "total_steps", "min_lr"});
  ScheduleConfig c;
  f.read("kind", c.kind);
  f.read("base_lr", c.base_lr);
  f.read("warmup_steps", c.warmup_steps);
  f.read("step_size", c.step_size);
  f.read("gamma", c.gamma);
  f.read("total_steps", c.total_steps);
  f.read("min_lr", c.min_lr);
  Schedule check(c);  // validates
  return c;
}

Schedule::Schedule(ScheduleConfig config) : config_(std::move(config)) {
  const auto& c = config_;
  UNROLL_CHECK(c.kind == "constant" || c.kind == "step" || c.kind == "cosine", DataError,
               "schedule: unknown kind '{}' (hint: use constant, step or cosine)", c.kind);
  UNROLL_CHECK(std::isfinite(c.base_lr) && c.base_lr >= 0, DataError, "schedule: base_lr must be >= 0, got {}", c.base_lr);
  UNROLL_CHECK(c.warmup_steps >= 0, DataError, "schedule: warmup_steps must be >= 0, got {}", c.warmup_steps);
  UNROLL_CHECK(c.step_size > 0, DataError, "schedule: step_size must be > 0, got {}", c.step_size);
  UNROLL_CHECK(std::isfinite(c.gamma) && c.gamma > 0, DataError, "schedule: gamma must be > 0, got {}", c.gamma);
  UNROLL_CHECK(c.total_steps > 0, DataError, "schedule: total_steps must be > 0, got {}", c.total_steps);
  UNROLL_CHECK(std::isfinite(c.min_lr) && c.min_lr >= 0, DataError, "schedule: min_lr must be >= 0, got {}", c.min_lr);
}

double Schedule::lr(int64_t step) const {
  const auto& c = config_;
  if (step < 1) step = 1;
  if (step <= c.warmup_steps) return c.base_lr * static_cast<double>(step) / static_cast<double>(c.warmup_steps);
  const int64_t t = step - c.warmup_steps - 1;  // 0 at the first step after warm-up
  if (c.kind == "step") return c.base_lr * std::pow(c.gamma, static_cast<double>(t / c.step_size));
  if (c.kind == "cosine") {
    if (t >= c.total_steps) return c.min_lr;
    const double progress = static_cast<double>(t) / static_cast<double>(c.total_steps);
    return c.min_lr + 0.5 * (c.base_lr - c.min_lr) * (1.0 + std::cos(3.141592653589793 * progress));
  }
  return c.base_lr;
}

}  // namespace unroll
