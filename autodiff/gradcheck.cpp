// SPDX-License-Identifier: Apache-2.0
// What lives here: the gradcheck implementation (see gradcheck.h).
#include "autodiff/gradcheck.h"

#include <cmath>
#include <functional>
#include <limits>

#include "autodiff/backward.h"
#include "graph/rng.h"

namespace unroll {

namespace {

// The tensors gradcheck perturbs: copies of the inputs, then the parameters' own values.
struct Subject {
  std::string name;
  Tensor value;
};

// f(x + h), f(x), f(x - h) of one entry (or one weighted direction) and the steps actually taken.
struct Differences {
  double plus = 0, base = 0, minus = 0, step_up = 0, step_down = 0;
  double central() const { return (plus - minus) / (step_up + step_down); }
  double forward() const { return (plus - base) / step_up; }
  double backward() const { return (base - minus) / step_down; }
};

double default_step(DType dtype) {
  return std::cbrt(dtype == DType::f64 ? std::numeric_limits<double>::epsilon()
                                       : static_cast<double>(std::numeric_limits<float>::epsilon()));
}

class Checker {
 public:
  Checker(const GradcheckFn& f, const std::vector<Tensor>& inputs, const std::vector<Parameter*>& params,
          const GradcheckOptions& options)
      : f_(f), params_(params), options_(options) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::string name = i < options.input_names.size() ? options.input_names[i] : fmt::format("input {}", i);
      subjects_.push_back({name, inputs[i].clone()});
    }
    for (Parameter* p : params) subjects_.push_back({p->name.empty() ? "parameter" : p->name, p->value});
    report_.worst_per_input.resize(subjects_.size());
    report_.kinks_per_input.assign(subjects_.size(), 0);
    for (size_t s = 0; s < subjects_.size(); ++s) report_.worst_per_input[s].input = subjects_[s].name;
  }

  GradcheckReport run() {
    for (const Subject& s : subjects_)
      if (s.value.dtype() == DType::f32) {
        report_.warnings.push_back(fmt::format("gradcheck: '{}' is float32; finite differences in float32 are too "
                                               "coarse to trust (hint: check in float64)",
                                               s.name));
        if (options_.warn) fmt::print(stderr, "warning: {}\n", report_.warnings.back());
      }
    // Analytic side, on one tape.
    Tape tape;
    std::vector<Var> wrt;
    const Var y = evaluate(tape, &wrt);
    output_size_ = y.value().numel();
    int64_t input_size = 0;
    for (const Subject& s : subjects_) input_size += s.value.numel();
    report_.directional = output_size_ * input_size > options_.max_jacobian_entries;
    if (report_.directional)
      check_directions(y, wrt);
    else
      check_jacobian(y, wrt);
    return report_;
  }

 private:
  Var evaluate(Tape& tape, std::vector<Var>* wrt) {
    tape.reset();
    std::vector<Var> leaves;
    for (size_t s = 0; s < subjects_.size() - params_.size(); ++s) leaves.push_back(tape.leaf(subjects_[s].value, true));
    const Var y = f_(tape, leaves);
    UNROLL_CHECK(y.defined() && &y.tape() == &tape, UsageError,
                 "gradcheck: the function must return a handle recorded on the tape it was given");
    if (wrt) {
      *wrt = leaves;
      for (Parameter* p : params_) wrt->push_back(tape.param(*p));
    }
    return y;
  }

  std::vector<double> output_values() {
    Tape tape;
    const Var y = evaluate(tape, nullptr);
    return y.value().to_vector();
  }

  double step_for(const Subject& s, int64_t k) const {
    const double base = options_.step > 0 ? options_.step : default_step(s.value.dtype());
    return base * std::max(1.0, std::abs(s.value.at(k)));
  }

  double badness(double analytic, double numeric) const {
    if (!std::isfinite(analytic) || !std::isfinite(numeric)) return std::numeric_limits<double>::infinity();
    return std::abs(analytic - numeric) / (options_.atol + options_.rtol * std::abs(numeric));
  }

  // The kink rule of gradcheck.h: the analytic value lies on one one-sided difference, far from the other.
  static bool on_one_side(double analytic, const Differences& d) {
    const double fwd = d.forward(), bwd = d.backward();
    return std::min(std::abs(analytic - fwd), std::abs(analytic - bwd)) <= 0.1 * std::abs(fwd - bwd);
  }

  // `at_step(f)` gives the differences of the same entry with the step scaled by f: several kinks within
  // the step (a perturbation moves many ReLU inputs at once) can hide the one-sided pattern, and a step
  // 16 or 256 times smaller straddles fewer of them. A wrong gradient is wrong at every step.
  void compare(size_t subject, int64_t index, int64_t output, double analytic, const Differences& d,
               const std::function<Differences(double)>& at_step) {
    GradcheckEntry e;
    e.input = subjects_[subject].name;
    e.index = index;
    e.output = output;
    e.analytic = analytic;
    const auto judge = [&](double numeric) {
      e.numeric = numeric;
      e.abs_error = std::abs(analytic - numeric);
      e.rel_error = e.abs_error / std::max(std::abs(numeric), 1e-300);
      e.badness = badness(analytic, numeric);
    };
    judge(d.central());
    ++report_.entries_checked;
    if (e.badness > 1.0 && std::isfinite(e.badness)) {
      bool kink = on_one_side(analytic, d);
      for (double scale : {1.0 / 16, 1.0 / 256}) {
        if (kink || e.badness <= 1.0) break;
        const Differences smaller = at_step(scale);
        if (badness(analytic, smaller.central()) <= 1.0) judge(smaller.central());  // checked at the smaller step
        else kink = on_one_side(analytic, smaller);
      }
      if (kink) {
        ++report_.kinks_skipped;
        ++report_.kinks_per_input[subject];
        return;
      }
    }
    if (!(e.badness <= 1.0)) report_.ok = false;
    if (e.badness > report_.worst_per_input[subject].badness || report_.worst_per_input[subject].index < 0)
      report_.worst_per_input[subject] = e;
    if (e.badness > report_.worst.badness || report_.worst.index < 0) report_.worst = e;
  }

  void check_jacobian(Var y, const std::vector<Var>& wrt) {
    // analytic[s][j * numel_s + k] = d y_j / d x_sk, one reverse pass per output element.
    std::vector<std::vector<double>> analytic(subjects_.size());
    Tensor seed = Tensor::zeros(y.shape(), y.dtype());
    for (int64_t j = 0; j < output_size_; ++j) {
      seed.fill(0.0);
      seed.set(j, 1.0);
      const std::vector<Tensor> g = grad(y, wrt, &seed);
      for (size_t s = 0; s < subjects_.size(); ++s) {
        const std::vector<double> row = g[s].to_vector();
        analytic[s].insert(analytic[s].end(), row.begin(), row.end());
      }
    }
    const std::vector<double> base = output_values();
    for (size_t s = 0; s < subjects_.size(); ++s) {
      Tensor& x = subjects_[s].value;
      for (int64_t k = 0; k < x.numel(); ++k) {
        const double original = x.at(k), h = step_for(subjects_[s], k);
        x.set(k, original + h);
        const double x_plus = x.at(k);  // the step actually taken, after rounding to the dtype
        const std::vector<double> plus = output_values();
        x.set(k, original - h);
        const double x_minus = x.at(k);
        const std::vector<double> minus = output_values();
        x.set(k, original);
        // Outputs at a smaller step, computed only when an entry needs them (once per scale).
        double cached_scale = 0, up = 0, down = 0;
        std::vector<double> small_plus, small_minus;
        for (int64_t j = 0; j < output_size_; ++j) {
          const auto at = static_cast<size_t>(j);
          const auto at_step = [&](double scale) {
            if (scale != cached_scale) {
              x.set(k, original + scale * h);
              up = x.at(k) - original;
              small_plus = output_values();
              x.set(k, original - scale * h);
              down = original - x.at(k);
              small_minus = output_values();
              x.set(k, original);
              cached_scale = scale;
            }
            return Differences{small_plus[at], base[at], small_minus[at], up, down};
          };
          compare(s, k, j, analytic[s][static_cast<size_t>(j * x.numel() + k)],
                  {plus[at], base[at], minus[at], x_plus - original, original - x_minus}, at_step);
        }
      }
    }
  }

  void check_directions(Var y, const std::vector<Var>& wrt) {
    Rng rng(options_.seed);
    for (int d = 0; d < options_.directions; ++d) {
      Tensor u = Tensor::empty(y.shape(), y.dtype());
      for (int64_t j = 0; j < u.numel(); ++j) u.set(j, rng.normal());
      std::vector<Tensor> v;
      for (const Subject& s : subjects_) {
        v.push_back(Tensor::empty(s.value.shape(), s.value.dtype()));
        for (int64_t k = 0; k < s.value.numel(); ++k) v.back().set(k, rng.normal());
      }
      const std::vector<Tensor> g = grad(y, wrt, &u);
      // One subject at a time, so the report says which input's gradient is wrong.
      for (size_t s = 0; s < subjects_.size(); ++s) {
        Tensor& x = subjects_[s].value;
        double analytic = 0;
        for (int64_t k = 0; k < x.numel(); ++k) analytic += g[s].at(k) * v[s].at(k);
        const double h = options_.step > 0 ? options_.step : default_step(x.dtype());
        const Tensor original = x.clone();
        const auto weighted_output = [&](double step) {
          for (int64_t k = 0; k < x.numel(); ++k) x.set(k, original.at(k) + step * v[s].at(k));
          const std::vector<double> out = output_values();
          double total = 0;
          for (int64_t j = 0; j < u.numel(); ++j) total += u.at(j) * out[static_cast<size_t>(j)];
          return total;
        };
        const double plus = weighted_output(h), minus = weighted_output(-h), base = weighted_output(0);
        x.copy_from(original);
        const auto at_step = [&](double scale) {
          const Differences smaller{weighted_output(scale * h), base, weighted_output(-scale * h), scale * h, scale * h};
          x.copy_from(original);
          return smaller;
        };
        compare(s, d, -1, analytic, {plus, base, minus, h, h}, at_step);
      }
    }
  }

  const GradcheckFn& f_;
  const std::vector<Parameter*>& params_;
  const GradcheckOptions& options_;
  std::vector<Subject> subjects_;
  int64_t output_size_ = 0;
  GradcheckReport report_;
};

}  // namespace

std::string GradcheckReport::summary() const {
  const GradcheckEntry& w = worst;
  return fmt::format(
      "gradcheck {}: {} entries{}; worst: '{}' index {}{}: analytic {:.10g}, numeric {:.10g}, abs error {:.3g}, "
      "rel error {:.3g}{}",
      ok ? "PASSED" : "FAILED", entries_checked, directional ? " (random directions)" : " (full Jacobian)", w.input,
      w.index, w.output >= 0 ? fmt::format(" (output {})", w.output) : "", w.analytic, w.numeric, w.abs_error,
      w.rel_error,
      kinks_skipped == 0 ? std::string()
                         : fmt::format("; {} entries straddle a kink (one-sided differences disagree, the analytic "
                                       "value matches one side): kink, skipped",
                                       kinks_skipped));
}

GradcheckReport gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs, const std::vector<Parameter*>& params,
                          const GradcheckOptions& options) {
  UNROLL_CHECK(!inputs.empty() || !params.empty(), UsageError, "gradcheck: nothing to check (no inputs, no parameters)");
  return Checker(f, inputs, params, options).run();
}

}  // namespace unroll
