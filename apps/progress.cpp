// SPDX-License-Identifier: Apache-2.0
// What lives here: the progress display of apps/progress.h.
#include "apps/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <iostream>

namespace unroll::cli {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

Progress::Progress(bool quiet, int64_t start_step)
    : quiet_(quiet), tty_(isatty(STDOUT_FILENO) == 1), start_step_(start_step) {}

void Progress::step(const StepInfo& s) {
  if (quiet_ || !tty_) return;
  const double now = seconds();
  if (now - last_draw_ < 0.1 && s.step_in_epoch != s.steps_per_epoch) return;
  last_draw_ = now;
  std::cout << "\r" << line(s.epoch, s.epochs, s.step_in_epoch, s.steps_per_epoch, s.global_step, s.epoch_loss, val_)
            << "\x1b[K" << std::flush;
}

void Progress::epoch(const EpochInfo& e, int64_t steps_per_epoch) {
  val_ = e.val_loss;
  if (quiet_) return;
  std::cout << (tty_ ? "\r" : "") << line(e.epoch, e.epochs, steps_per_epoch, steps_per_epoch, e.global_step,
                                           e.train_loss, e.val_loss)
            << (e.improved ? "  *" : "") << (tty_ ? "\x1b[K" : "") << "\n"
            << std::flush;
}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::line(int64_t epoch, int64_t epochs, int64_t step, int64_t per_epoch, int64_t global, double loss,
                           double val) const {
  const double elapsed = seconds();
  const double rate = static_cast<double>(global - start_step_) / std::max(elapsed, 1e-9);
  const int64_t remaining = epochs * per_epoch - global;
  return fmt::format("epoch {}/{}  step {}/{}  loss {:.5g}  val {}  {:.0f} steps/s  ETA {}", epoch, epochs, step,
                     per_epoch, loss, std::isfinite(val) ? fmt::format("{:.5g}", val) : std::string("-"), rate,
                     format_duration(static_cast<double>(remaining) / std::max(rate, 1e-9)));
}

}  // namespace unroll::cli
