// SPDX-License-Identifier: Apache-2.0
// What lives here: gradcheck, the public finite-difference gradient checker users run on their own ops
// and cells. Central differences in float64 with a dtype-aware step; the full Jacobian for small
// problems, random directional derivatives for large ones; the report names the worst entry.
//
// Kinks (ReLU, abs, clamp): when the two points x - h and x + h straddle a point where the derivative
// jumps, the central difference is the average of two slopes and matches neither. Such an entry fails the
// tolerance, but its one-sided differences (f(x+h) - f(x)) / h and (f(x) - f(x-h)) / h disagree with each
// other and the analytic value lies on one of them (closer to it than a tenth of their gap): it is then
// counted as "kink, skipped" instead of failing. A failing entry is also retried with a step 16 and 256
// times smaller (a random direction moves many ReLU inputs and may straddle several kinks): it passes when
// the smaller step agrees within tolerance, and is skipped when that step shows the one-sided pattern.
// A wrong gradient agrees with neither side at any step (on a smooth function both sides differ from each
// other only by O(h)), so it still fails.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "graph/tape.h"

namespace unroll {

/// Tolerances and sampling of gradcheck().
struct GradcheckOptions {
  double atol = 1e-6;  ///< an entry fails when |analytic - numeric| > atol + rtol * |numeric|
  double rtol = 1e-4;
  double step = 0;  ///< 0: cbrt(machine epsilon of the dtype) * max(1, |x|)
  int64_t max_jacobian_entries = 200000;  ///< above (outputs x inputs): random directional derivatives
  int directions = 6;
  uint64_t seed = 20261126;
  std::vector<std::string> input_names;  ///< names for the tensor inputs ("input 0", ... by default)
  bool warn = true;                      ///< print a warning to stderr for float32 inputs
};

/// One compared gradient entry (the worst one per input is reported).
struct GradcheckEntry {
  std::string input;      ///< input or parameter name
  int64_t index = -1;     ///< flat index into it (a direction number in directional mode)
  int64_t output = -1;    ///< flat output index (-1 in directional mode)
  double analytic = 0, numeric = 0, abs_error = 0, rel_error = 0;
  double badness = 0;     ///< abs_error / (atol + rtol * |numeric|); > 1 fails
};

/// gradcheck()'s verdict: ok, the worst entries, warnings; summary() is one line.
struct GradcheckReport {
  bool ok = true;
  bool directional = false;
  int64_t entries_checked = 0;
  GradcheckEntry worst;                     ///< over everything (kinks excluded)
  std::vector<GradcheckEntry> worst_per_input;  ///< inputs first, then parameters
  int64_t kinks_skipped = 0;                ///< entries whose differences straddle a kink (see above)
  std::vector<int64_t> kinks_per_input;     ///< the same, per entry of worst_per_input
  std::vector<std::string> warnings;
  std::string summary() const;              ///< one line: PASSED/FAILED with the worst entry and the kinks
};

/// f records a computation on `tape` from `inputs` (leaf vars for the given tensors, requiring grad) and
/// any of `params` (via tape.param); it must be deterministic. Inputs are copied; parameters are perturbed
/// in place and restored.
using GradcheckFn = std::function<Var(Tape& tape, const std::vector<Var>& inputs)>;
GradcheckReport gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                          const std::vector<Parameter*>& params = {}, const GradcheckOptions& options = {});

}  // namespace unroll
