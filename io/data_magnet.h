// SPDX-License-Identifier: Apache-2.0
// What lives here: `magnet`, the seeded synthetic voltage series of a superconducting accelerator magnet,
// modelled on the LHC magnet-monitoring papers (Wielgosz, Skoczen, Mertik 2017). One sample is one step of
// an abstract, compressed clock. The model (docs/data.md has the formulas and the constants):
//   current I: trapezoidal cycles (ramp up, flat top, ramp down, pause) to a level drawn per cycle, the
//              ramp's dI/dt rounded at both ends (parabolic current), ramp rate drawn per cycle;
//   voltage V = L(I)·dI/dt (inductive, iron-saturated inductance) + eddy-current lag + slow drift
//              + quench-like events (fast exponential rise, slower decay; only on a high-current flat top)
//              + white noise + isolated one-sample glitches, then a 12-bit ADC (clip and quantise).
// Same parameters and seed give the same bits; every random draw comes from one explicit Rng.
#pragma once
#include <cstdint>
#include <vector>

namespace unroll {

struct MagnetParams {
  int64_t length = 30000;  // samples
  double noise = 0.05;     // standard deviation of the white noise, volts (0 switches it off)
  uint64_t seed = 1;
  // Rates of the rare events (0 switches them off).
  double quench_rate = 1.0 / 400;    // per flat-top sample above quench_threshold
  double glitch_rate = 1.0 / 1000;   // per sample
  double quench_threshold = 0.85;    // fraction of the nominal current
  double glitch_min = 3, glitch_max = 10;  // volts: a glitch adds ±uniform(glitch_min, glitch_max)
  int64_t ramp_rounding = 12;        // samples over which dI/dt rises to (and falls from) the ramp rate
  double time_scale = 1.0;           // multiplies the flat-top and pause durations
};

// The generator's fixed physical constants (documented in docs/data.md).
struct MagnetConstants {
  static constexpr double nominal_current = 11850.0;  // A
  static constexpr double inductance = 0.1;           // H at zero current
  static constexpr double saturation = 0.25;          // L(I) = inductance * (1 - saturation * (I/I_nom)^2)
  static constexpr double adc_range = 25.0;           // V: the ADC reads [-adc_range, +adc_range]
  static constexpr int adc_bits = 12;
};

// Every component, sample by sample, for tests, plots and documentation. `voltage` is the ADC output.
struct MagnetSignals {
  std::vector<double> current;      // A
  std::vector<double> voltage;      // V, quantised
  std::vector<double> clean;        // V, before noise, glitches and the ADC
  std::vector<uint8_t> in_quench;   // 1 while a quench-like event contributes noticeably (> 1% of its peak)
  std::vector<uint8_t> quench_start;  // 1 on the sample where an event starts
  std::vector<uint8_t> glitch;      // 1 on glitched samples
};

// Throws UsageError for a non-positive length, negative noise or rates outside [0, 1].
MagnetSignals generate_magnet_signals(const MagnetParams& params);
// Just the ADC voltage.
std::vector<double> generate_magnet(const MagnetParams& params);

}  // namespace unroll
