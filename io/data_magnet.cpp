// SPDX-License-Identifier: Apache-2.0
// What lives here: the `magnet` generator (see io/data_magnet.h and docs/data.md). Three independent Rng
// streams derived from the seed: cycles (levels, rates, durations), events (quench starts and shapes) and
// measurement (noise, glitches), so changing the noise level leaves the current cycles and quenches intact.
#include "io/data_magnet.h"

#include <algorithm>
#include <cmath>

#include "graph/check.h"
#include "graph/rng.h"

namespace unroll {

namespace {

constexpr double kTwoPi = 6.283185307179586;

struct Quench {
  int64_t start = -1;
  double amplitude = 0, tau_rise = 1, tau_decay = 1, norm = 1, peak_time = 0;
  double value(int64_t n) const {
    const double t = static_cast<double>(n - start);
    return amplitude * norm * (std::exp(-t / tau_decay) - std::exp(-t / tau_rise));
  }
};

class Generator {
 public:
  explicit Generator(const MagnetParams& p)
      : p_(p),
        cycles_(p.seed),
        events_(p.seed ^ 0x5ca1ab1e0ddba11ULL),
        drift_a_period_(0),
        drift_b_period_(0) {
    drift_a_period_ = cycles_.uniform(4000, 8000);
    drift_a_phase_ = cycles_.uniform(0, kTwoPi);
    drift_b_period_ = cycles_.uniform(700, 1500);
    drift_b_phase_ = cycles_.uniform(0, kTwoPi);
    const auto n = static_cast<size_t>(p.length);
    s_.current.reserve(n);
    s_.clean.reserve(n);
    s_.in_quench.reserve(n);
    s_.quench_start.reserve(n);
  }

  MagnetSignals run() {
    const double i_nom = MagnetConstants::nominal_current;
    while (!full()) {
      const double level = i_nom * cycles_.uniform(0.25, 1.0);
      const double k = p_.time_scale;
      const double rate_up = i_nom / cycles_.uniform(90, 150);  // A per sample at full ramp rate
      const double rate_down = i_nom / cycles_.uniform(90, 150);
      const auto flat = static_cast<int64_t>(std::lround(k * cycles_.uniform(100, 400)));
      const auto pause = static_cast<int64_t>(std::lround(k * cycles_.uniform(50, 200)));
      ramp(level, rate_up);
      hold(flat, true);
      ramp(0.0, rate_down);
      hold(pause, false);
    }
    return std::move(s_);
  }

 private:
  bool full() const { return static_cast<int64_t>(s_.current.size()) >= p_.length; }

  // Moves the current to `target` with dI per sample r·g(k), g rising linearly over ramp_rounding samples,
  // flat at 1, falling linearly; r is rescaled so the ramp lands exactly on the target.
  void ramp(double target, double rate) {
    const double delta = target - current_;
    const auto steps = static_cast<int64_t>(std::ceil(std::abs(delta) / rate)) + p_.ramp_rounding;
    std::vector<double> shape(static_cast<size_t>(steps));
    double total = 0;
    for (int64_t k = 0; k < steps; ++k) {
      const double g = std::min({1.0, (static_cast<double>(k) + 0.5) / static_cast<double>(p_.ramp_rounding),
                                 (static_cast<double>(steps - k) - 0.5) / static_cast<double>(p_.ramp_rounding)});
      shape[static_cast<size_t>(k)] = g;
      total += g;
    }
    for (int64_t k = 0; k < steps && !full(); ++k) emit(delta * shape[static_cast<size_t>(k)] / total, false);
    if (!full()) current_ = target;  // remove rounding drift
  }

  void hold(int64_t samples, bool flat_top) {
    for (int64_t k = 0; k < samples && !full(); ++k) emit(0.0, flat_top);
  }

  void emit(double d_current, bool flat_top) {
    const auto n = static_cast<int64_t>(s_.current.size());
    const double i_nom = MagnetConstants::nominal_current;
    const double mid = current_ + 0.5 * d_current;
    const double inductance =
        MagnetConstants::inductance * (1.0 - MagnetConstants::saturation * (mid / i_nom) * (mid / i_nom));
    const double inductive = inductance * d_current;  // V, one sample = one second of the compressed clock
    eddy_ += (0.02 * d_current - eddy_) / 20.0;       // eddy currents: first-order lag, time constant 20
    const double drift = 0.5 * std::sin(kTwoPi * static_cast<double>(n) / drift_a_period_ + drift_a_phase_) +
                         0.2 * std::sin(kTwoPi * static_cast<double>(n) / drift_b_period_ + drift_b_phase_);
    current_ += d_current;

    // Quench-like events: only on a flat top above the threshold, one at a time.
    uint8_t started = 0;
    if (flat_top && current_ >= p_.quench_threshold * i_nom) {
      const double u = events_.uniform();
      if (quench_.start < 0 && u < p_.quench_rate) {
        quench_.start = n;
        quench_.amplitude = events_.uniform(6, 14);
        quench_.tau_rise = events_.uniform(2, 4);
        quench_.tau_decay = events_.uniform(25, 60);
        const double tr = quench_.tau_rise, td = quench_.tau_decay;
        quench_.peak_time = std::log(td / tr) * tr * td / (td - tr);
        quench_.norm = 1.0 / (std::exp(-quench_.peak_time / td) - std::exp(-quench_.peak_time / tr));
        started = 1;
      }
    }
    double resistive = 0;
    uint8_t active = 0;
    if (quench_.start >= 0) {
      resistive = quench_.value(n);
      active = 1;
      if (static_cast<double>(n - quench_.start) > quench_.peak_time && resistive < 0.01 * quench_.amplitude) {
        quench_.start = -1;  // over: the contribution is below 1% of the peak
        active = 0;
        resistive = 0;
      }
    }
    s_.current.push_back(current_);
    s_.clean.push_back(inductive + eddy_ + drift + resistive);
    s_.in_quench.push_back(active);
    s_.quench_start.push_back(started);
  }

  const MagnetParams& p_;
  Rng cycles_, events_;
  double drift_a_period_, drift_a_phase_ = 0, drift_b_period_, drift_b_phase_ = 0;
  double current_ = 0, eddy_ = 0;
  Quench quench_;
  MagnetSignals s_;
};

}  // namespace

MagnetSignals generate_magnet_signals(const MagnetParams& p) {
  UNROLL_CHECK(p.length > 0, UsageError, "magnet: length must be positive, got {} (hint: e.g. 30000 samples)",
               p.length);
  UNROLL_CHECK(std::isfinite(p.noise) && p.noise >= 0, UsageError,
               "magnet: noise must be a finite standard deviation >= 0 volts, got {} (hint: the default is 0.05)",
               p.noise);
  for (const auto& [name, rate] : {std::pair{"quench_rate", p.quench_rate}, std::pair{"glitch_rate", p.glitch_rate},
                                   std::pair{"quench_threshold", p.quench_threshold}}) {
    UNROLL_CHECK(rate >= 0 && rate <= 1, UsageError, "magnet: {} must lie in [0, 1], got {}", name, rate);
  }
  UNROLL_CHECK(p.glitch_min >= 0 && p.glitch_min <= p.glitch_max && std::isfinite(p.glitch_max), UsageError,
               "magnet: glitch amplitudes need 0 <= glitch_min <= glitch_max, got {} and {}", p.glitch_min,
               p.glitch_max);
  UNROLL_CHECK(p.ramp_rounding >= 1 && p.ramp_rounding <= 1000, UsageError,
               "magnet: ramp_rounding must lie in [1, 1000] samples, got {}", p.ramp_rounding);
  UNROLL_CHECK(p.time_scale >= 0.01 && p.time_scale <= 100, UsageError,
               "magnet: time_scale must lie in [0.01, 100], got {}", p.time_scale);
  MagnetSignals s = Generator(p).run();
  const auto n = static_cast<size_t>(p.length);
  s.current.resize(n);
  s.clean.resize(n);
  s.in_quench.resize(n);
  s.quench_start.resize(n);

  // Measurement: white noise, isolated glitches, then the ADC.
  Rng measure(p.seed ^ 0x00ad0c0de5eed5ULL);
  const double range = MagnetConstants::adc_range;
  const double steps = std::ldexp(1.0, MagnetConstants::adc_bits) - 1;  // 4095 intervals between 4096 codes
  const double lsb = 2 * range / steps;
  s.voltage.resize(n);
  s.glitch.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    double v = s.clean[i] + p.noise * measure.normal();
    const double u = measure.uniform();
    if (u < p.glitch_rate) {
      const double sign = measure.uniform() < 0.5 ? -1.0 : 1.0;
      v += sign * measure.uniform(p.glitch_min, p.glitch_max);
      s.glitch[i] = 1;
    }
    const double code = std::clamp(std::nearbyint((v + range) / lsb), 0.0, steps);
    s.voltage[i] = code * lsb - range;
  }
  return s;
}

std::vector<double> generate_magnet(const MagnetParams& params) { return generate_magnet_signals(params).voltage; }

}  // namespace unroll
