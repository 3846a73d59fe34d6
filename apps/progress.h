// SPDX-License-Identifier: Apache-2.0
// What lives here: the live progress display of `unroll train`. On a terminal one line rewritten in place
// (at most every 0.1 s, and at the end of each epoch); otherwise (a pipe or file) one line per epoch.
// --quiet prints nothing. Elapsed time and rate count from the Progress's construction.
#pragma once
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include "train/trainer.h"

namespace unroll::cli {

// "12s", "3m05s", "1h02m"; "?" for a negative or non-finite duration.
std::string format_duration(double seconds);

class Progress {
 public:
  // start_step: the global step training starts from (non-zero on --resume), for the steps/s rate.
  Progress(bool quiet, int64_t start_step);

  void step(const StepInfo& s);
  void epoch(const EpochInfo& e, int64_t steps_per_epoch);
  double seconds() const;  // since construction

 private:
  std::string line(int64_t epoch, int64_t epochs, int64_t step, int64_t per_epoch, int64_t global, double loss,
                   double val) const;

  bool quiet_, tty_;
  int64_t start_step_;
  double last_draw_ = -1;
  double val_ = std::numeric_limits<double>::quiet_NaN();
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace unroll::cli
