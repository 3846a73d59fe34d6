// SPDX-License-Identifier: Apache-2.0
// What lives here: magnet_floor, the error decomposition behind docs/training.md "Where the magnet error
// is". On the same data, split, scaling and windows `unroll train` uses (apps/run_config.cpp load_data),
// it splits each predictor's squared error on validation and test into windows whose TARGET is a glitch,
// windows with a glitch inside the HISTORY (not at the target), windows touching a quench-like event (no
// glitch) and the rest. Predictors: the oracle predicting the noise-free `clean` signal at the target (the
// floor set by the target's own noise, glitch and quantisation), persistence, AR(history) fitted as
// evaluate_baselines does, that AR on despiked windows (Note [Robust inputs]; no flags used), checkpoints
// given on the command line (best.h5 of `unroll train` runs), and two references marked * that use the
// generator's flags or clean signal and are for analysis only.
// Usage: magnet_floor [--horizon K] [best.h5 ...]   (magnet with the generator's defaults, history 16)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "apps/run_config.h"
#include "io/data_magnet.h"
#include "train/forecast_model.h"

using namespace unroll;
using namespace unroll::cli;

struct Cat { double sse = 0; int64_t n = 0; };

int main(int argc, char** argv) {
  int64_t horizon = 1;
  std::vector<std::string> ckpts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--horizon") horizon = std::stoll(argv[++i]);
    else ckpts.push_back(a);
  }
  DataConfig dc;
  dc.horizon = horizon;
  LoadedData loaded = load_data(dc, default_data_dir());
  const PreparedData& d = loaded.data;
  MagnetParams mp;
  mp.seed = dc.data_seed;
  MagnetSignals sig = generate_magnet_signals(mp);
  for (size_t i = 0; i < sig.voltage.size(); ++i)
    if (sig.voltage[i] != d.series.values[i]) { std::fprintf(stderr, "series mismatch at %zu\n", i); return 1; }
  std::vector<double> clean_s = d.scaler.transform(sig.clean);
  std::printf("scaler offset %.6f scale %.6f V; windows train %ld val %ld test %ld; horizon %ld\n", d.scaler.offset(),
              d.scaler.scale(), d.train.size(), d.validation.size(), d.test.size(), horizon);
  int64_t g_train = 0;
  for (int64_t i = d.split.train.begin; i < d.split.train.end; ++i) g_train += sig.glitch[i];
  std::printf("glitches in the training range: %ld\n", g_train);

  {
    // How far each sample is from its centred 3-point median, in robust sigmas (train split), for
    // glitch samples and for all others (what a despike threshold must separate).
    const double rs = robust_step_std(d.scaled, d.split.train.begin, d.split.train.end);
    std::vector<double> dev_clean, dev_glitch;
    for (int64_t i = d.split.train.begin + 1; i + 1 < d.split.train.end; ++i) {
      double v[3] = {d.scaled[i - 1], d.scaled[i], d.scaled[i + 1]};
      std::sort(v, v + 3);
      const double dv = std::abs(d.scaled[i] - v[1]) / rs;
      (sig.glitch[i] ? dev_glitch : dev_clean).push_back(dv);
      // trailing neighbourhood (the last input of a window)
    }
    std::vector<double> dev_trail;
    for (int64_t i = d.split.train.begin + 2; i < d.split.train.end; ++i) {
      if (sig.glitch[i] || sig.glitch[i - 1] || sig.glitch[i - 2]) continue;
      double v[3] = {d.scaled[i - 2], d.scaled[i - 1], d.scaled[i]};
      std::sort(v, v + 3);
      dev_trail.push_back(std::abs(d.scaled[i] - v[1]) / rs);
    }
    std::sort(dev_clean.begin(), dev_clean.end());
    std::sort(dev_glitch.begin(), dev_glitch.end());
    std::sort(dev_trail.begin(), dev_trail.end());
    auto q = [](const std::vector<double>& v, double f) { return v[std::min(v.size() - 1, size_t(f * v.size()))]; };
    std::printf("robust_step_std (train, scaled) %.6g = %.4f V\n", rs, rs * d.scaler.scale());
    std::printf("centred |x - med3| / rs, non-glitch: p50 %.2f p99 %.2f p99.9 %.2f max %.2f\n", q(dev_clean, .5), q(dev_clean, .99),
                q(dev_clean, .999), dev_clean.back());
    std::printf("trailing |x - med3| / rs, no glitch near: p50 %.2f p99 %.2f p99.9 %.2f p99.99 %.2f max %.2f; counts > 10,20,40: ", q(dev_trail, .5),
                q(dev_trail, .99), q(dev_trail, .999), q(dev_trail, .9999), dev_trail.back());
    for (double k : {10.0, 20.0, 40.0}) std::printf("%ld ", (long)std::count_if(dev_trail.begin(), dev_trail.end(), [&](double x) { return x > k; }));
    std::printf("\nglitch samples |x - med3| / rs: min %.2f max %.2f (n %zu)\n", dev_glitch.front(), dev_glitch.back(), dev_glitch.size());
  }
  const LinearAR ar = LinearAR::fit(d.scaled, d.fit);
  // analysis-only: AR fitted on training windows with no glitch at target or in history (uses the flags)
  WindowSet fit_clean = d.fit; fit_clean.targets.clear();
  for (int64_t k = 0; k < d.fit.size(); ++k) {
    bool g = false;
    for (int64_t i = d.fit.first_input(k); i <= d.fit.targets[k]; ++i) g |= sig.glitch[i] != 0;
    if (!g) fit_clean.targets.push_back(d.fit.targets[k]);
  }
  const LinearAR ar_clean = LinearAR::fit(d.scaled, fit_clean);

  struct Model { std::string name; std::unique_ptr<LoadedRun> run; };
  std::vector<Model> models;
  for (auto& c : ckpts) models.push_back({c, std::make_unique<LoadedRun>(load_run(c))});

  const char* cat_names[4] = {"target glitch", "history glitch", "quench (no glitch)", "rest"};
  for (int which = 0; which < 2; ++which) {
    const WindowSet& w = which == 0 ? d.validation : d.test;
    const char* split = which == 0 ? "validation" : "test";
    std::vector<int> cat(w.size());
    int64_t counts[4] = {0, 0, 0, 0};
    for (int64_t k = 0; k < w.size(); ++k) {
      const int64_t t = w.targets[k], f = w.first_input(k), last = t - horizon;
      bool hg = false, q = sig.in_quench[t] != 0;
      for (int64_t i = f; i <= last; ++i) { hg |= sig.glitch[i] != 0; q |= sig.in_quench[i] != 0; }
      cat[k] = sig.glitch[t] ? 0 : hg ? 1 : q ? 2 : 3;
      counts[cat[k]]++;
    }
    const std::vector<double> truth = window_targets(d.scaled, w);
    std::vector<std::pair<std::string, std::vector<double>>> preds;
    std::vector<double> oracle(w.size());
    for (int64_t k = 0; k < w.size(); ++k) oracle[k] = clean_s[w.targets[k]];
    preds.push_back({"oracle clean[t]", oracle});
    preds.push_back({"persistence", persistence_forecast(d.scaled, w)});
    preds.push_back({"AR(16)", ar.predict(d.scaled, w)});
    preds.push_back({"AR(16) on clean inputs*", ar.predict(clean_s, w)});
    for (double K : {20.0, 30.0}) {
      // the same AR (fitted on the raw windows) applied to despiked windows (no flags used)
      const double thr = K * robust_step_std(d.scaled, d.split.train.begin, d.split.train.end);
      const int64_t T = w.spec.history;
      std::vector<double> p(w.size());
      for (int64_t k = 0; k < w.size(); ++k) {
        Tensor x = Tensor::empty(Shape{T, 1, 1}, DType::f64);
        for (int64_t j = 0; j < T; ++j) x.set(j, d.scaled[w.first_input(k) + j]);
        const Tensor y = despike_inputs(x, thr);
        double v = ar.intercept;
        for (int64_t j = 0; j < T; ++j) v += ar.weights[j] * y.at(j);
        p[k] = v;
      }
      preds.push_back({fmt::format("AR(16) on despiked inputs K={}", K), p});
    }
    preds.push_back({"AR(16) fit w/o glitch windows*", ar_clean.predict(d.scaled, w)});
    for (auto& m : models) {
      TrainerConfig tc = m.run->run.trainer;
      tc.out_dir.clear();
      Trainer tr(*m.run->model, d, tc);
      preds.push_back({m.name, tr.predict(w)});
    }
    std::printf("\n== %s: %ld windows (target glitch %ld, history glitch %ld, quench %ld, rest %ld)\n", split, w.size(),
                counts[0], counts[1], counts[2], counts[3]);
    std::printf("%-34s %9s | %s\n", "predictor", "RMSE", "per category: share of total MSE (n*MSE_cat/N) / RMSE within the category");
    for (auto& [name, p] : preds) {
      Cat c[4];
      double sse = 0;
      for (int64_t k = 0; k < w.size(); ++k) {
        const double e = (p[k] - truth[k]) * (p[k] - truth[k]);
        sse += e;
        c[cat[k]].sse += e;
        c[cat[k]].n++;
      }
      const double N = static_cast<double>(w.size());
      std::printf("%-34s %9.6f |", name.c_str(), std::sqrt(sse / N));
      for (int j = 0; j < 4; ++j)
        std::printf(" %s %.3e (%4.1f%%) / %.6f;", cat_names[j], c[j].sse / N, 100 * c[j].sse / sse,
                    c[j].n ? std::sqrt(c[j].sse / c[j].n) : 0.0);
      std::printf("  RMSE w/o target glitches %.6f\n", std::sqrt((sse - c[0].sse) / (N - c[0].n)));
    }
  }
  return 0;
}
