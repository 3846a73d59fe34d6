// SPDX-License-Identifier: Apache-2.0
// What lives here: apps/ensemble.h.
//
// Note [Ensemble]
// ~~~~~~~~~~~~~~~
// Each member is an ordinary `unroll train` run (its own checkpoint.h5, best.h5, report.json and
// forecast.csv in OUT/members/seed_N), so `eval`, `predict` and `--resume` work on a member as on any run.
// The ensemble's forecast is the arithmetic mean of the members' forecast.csv predictions (original units,
// as written: 9 significant digits); its RMSE is taken after mapping predictions and targets through the
// run's scaler (scaled units, like every test_rmse), so it equals the RMSE of the mean of the members'
// forecast.csv files recomputed by anyone. OUT/ensemble.json holds the members' arguments: `--resume OUT`
// keeps finished members (report.json present), resumes the others from their checkpoint.h5, starts
// missing ones, then writes the ensemble report again.
#include "apps/ensemble.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "apps/commands.h"
#include "apps/run_folder.h"
#include "graph/check.h"
#include "io/datasets.h"
#include "io/output_files.h"

namespace unroll::cli {

namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kEnsembleFiles = {"ensemble.json", "report.json", "forecast.csv", "members"};

struct Forecast {
  std::vector<std::string> index;
  std::vector<double> prediction, target;
};

Forecast read_forecast(const std::string& path) {
  std::ifstream in(path);
  UNROLL_CHECK(in.good(), IoError, "train: cannot read {}", path);
  Forecast f;
  std::string line;
  std::getline(in, line);
  UNROLL_CHECK(line == "index,prediction,target", DataError, "train: {}: unexpected header '{}'", path, line);
  while (std::getline(in, line)) {
    const size_t a = line.find(','), b = line.find(',', a == std::string::npos ? a : a + 1);
    UNROLL_CHECK(a != std::string::npos && b != std::string::npos, DataError, "train: {}: bad line '{}'", path, line);
    try {
      f.index.push_back(line.substr(0, a));
      f.prediction.push_back(std::stod(line.substr(a + 1, b - a - 1)));
      f.target.push_back(std::stod(line.substr(b + 1)));
    } catch (const std::exception&) {
      throw DataError(fmt::format("train: {}: bad line '{}'", path, line));
    }
  }
  return f;
}

std::string member_dir(const std::string& out, uint64_t seed) {
  return (fs::path(out) / "members" / fmt::format("seed_{}", seed)).string();
}

int run_member(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return run_main(static_cast<int>(argv.size()), argv.data());  // the train command, in-process
}

// Trains (or resumes) every unfinished member, then averages the forecasts into OUT's report.
int run_members(const std::string& out, const nlohmann::json& spec, bool quiet) {
  const int k = spec["members"];
  const uint64_t seed = spec["seed"];
  const std::vector<std::string> member_args = spec["train_args"];
  for (int i = 0; i < k; ++i) {
    const uint64_t s = seed + static_cast<uint64_t>(i);
    const std::string dir = member_dir(out, s);
    if (fs::exists(fs::path(dir) / "report.json")) {
      if (!quiet) std::cout << fmt::format("member seed {}: finished earlier, kept\n", s);
      continue;
    }
    std::vector<std::string> args = {"unroll", "train"};
    const std::string checkpoint = (fs::path(dir) / "checkpoint.h5").string();
    if (fs::exists(checkpoint)) {
      args.insert(args.end(), {"--resume", checkpoint, "--quiet"});
    } else {
      args.insert(args.end(), member_args.begin(), member_args.end());
      args.insert(args.end(), {"--seed", std::to_string(s), "--out", dir, "--quiet", "--overwrite"});
    }
    const int code = run_member(args);
    if (code != kExitOk) {  // the member printed its one line
      if (code > 128)
        std::cerr << fmt::format("unroll: ensemble: member seed {} stopped; the finished members are kept (resume the "
                                 "ensemble with: unroll train --resume {})\n",
                                 s, out);
      else
        std::cerr << fmt::format("unroll: ensemble: member seed {} ended with exit code {}; its folder is {}\n", s,
                                 code, dir);
      return code;
    }
    if (!quiet) {
      const nlohmann::json r = read_run_json((fs::path(dir) / "report.json").string(), "train");
      std::cout << fmt::format("member seed {}: test RMSE {:.5f} ({} epochs), {}\n", s, r["test_rmse"].get<double>(),
                               r["epochs_run"].get<int64_t>(), dir)
                << std::flush;
    }
  }

  // Average the members' forecasts (Note [Ensemble]).
  std::vector<nlohmann::json> reports;
  std::vector<double> rmse;
  Forecast mean;
  for (int i = 0; i < k; ++i) {
    const std::string dir = member_dir(out, seed + static_cast<uint64_t>(i));
    reports.push_back(read_run_json((fs::path(dir) / "report.json").string(), "train"));
    rmse.push_back(reports.back()["test_rmse"]);
    const Forecast f = read_forecast((fs::path(dir) / "forecast.csv").string());
    if (i == 0) {
      mean = f;
      std::fill(mean.prediction.begin(), mean.prediction.end(), 0.0);
    }
    UNROLL_CHECK(f.index == mean.index && f.target == mean.target, DataError,
                 "train: ensemble: {}/forecast.csv forecasts other targets than the first member's (members must "
                 "share the data and its split)", dir);
    for (size_t j = 0; j < f.prediction.size(); ++j) mean.prediction[j] += f.prediction[j];
  }
  const Scaler scaler = Scaler::from_json(reports[0]["scaler"]);
  double sq = 0, abs_sum = 0;
  for (size_t j = 0; j < mean.prediction.size(); ++j) {
    mean.prediction[j] /= static_cast<double>(k);
    const double err = scaler.transform(mean.prediction[j]) - scaler.transform(mean.target[j]);
    sq += err * err;
    abs_sum += std::abs(err);
  }
  const double n = static_cast<double>(std::max<size_t>(1, mean.prediction.size()));
  const double ens_rmse = std::sqrt(sq / n), ens_mae = abs_sum / n;
  double sum = 0;
  for (double x : rmse) sum += x;
  const double avg = sum / k;
  double var = 0;
  for (double x : rmse) var += (x - avg) * (x - avg);
  const double sd = k > 1 ? std::sqrt(var / (k - 1)) : 0.0;
  const nlohmann::json baselines = reports[0]["baselines"];
  const nlohmann::json best = baselines.contains("best") ? baselines["best"] : nlohmann::json::object();
  const bool have_best = best.contains("rmse") && best["rmse"].is_number();
  const double best_rmse = have_best ? best["rmse"].get<double>() : std::nan("");
  const std::string verdict = have_best ? (ens_rmse < best_rmse ? "better" : "NOT better") : "n/a";
  int wins = 0;
  nlohmann::json seeds = nlohmann::json::array();
  for (int i = 0; i < k; ++i) {
    seeds.push_back(seed + static_cast<uint64_t>(i));
    if (have_best && rmse[i] < best_rmse) ++wins;
  }

  std::string csv = "index,prediction,target\n";
  for (size_t j = 0; j < mean.prediction.size(); ++j)
    csv += fmt::format("{},{:.9g},{:.9g}\n", mean.index[j], mean.prediction[j], mean.target[j]);
  nlohmann::json report = {
      {"test_rmse", ens_rmse},
      {"test_mae", ens_mae},
      {"windows", mean.prediction.size()},
      {"baselines", baselines},
      {"scaler", reports[0]["scaler"]},
      {"ensemble",
       {{"members", k},
        {"seeds", seeds},
        {"folders", "members/seed_N"},
        {"forecast", "mean of the members' forecast.csv predictions (original units); RMSE in scaled units"},
        {"member_test_rmse", rmse},
        {"member_mean", avg},
        {"member_std", sd},
        {"member_min", *std::min_element(rmse.begin(), rmse.end())},
        {"member_max", *std::max_element(rmse.begin(), rmse.end())},
        {"members_better_than_best_baseline", wins},
        {"test_rmse", ens_rmse},
        {"verdict", verdict}}},
      {"config", reports[0]["config"]}};
  write_file_atomically((fs::path(out) / "report.json").string(), report.dump(2) + "\n");
  write_file_atomically((fs::path(out) / "forecast.csv").string(), csv);
  if (!quiet) {
    std::cout << fmt::format("\nensemble of {} (seeds {}-{}), test split (scaled):\n", k, seed, seed + k - 1)
              << fmt::format("  members: RMSE mean {:.5f}, std {:.5f}, min {:.5f}, max {:.5f}; {} of {} better than the best baseline\n",
                             avg, sd, *std::min_element(rmse.begin(), rmse.end()),
                             *std::max_element(rmse.begin(), rmse.end()), wins, k)
              << fmt::format("  ensemble (mean forecast): RMSE {:.5f}, MAE {:.5f}\n", ens_rmse, ens_mae);
    if (have_best)
      std::cout << fmt::format("  verdict: the ensemble is {} than the best baseline, {} ({:.5f} vs {:.5f})\n", verdict,
                               best["name"].get<std::string>(), ens_rmse, best_rmse);
    std::cout << fmt::format("wrote {0}/report.json, {0}/forecast.csv; members in {0}/members/\n", out);
  }
  return kExitOk;
}

}  // namespace

std::vector<std::string> ensemble_member_args(const CLI::App& sub) {
  std::vector<std::string> args;
  for (const CLI::Option* opt : sub.get_options()) {
    const std::string name = opt->get_name();
    if (opt->count() == 0 || name == "--ensemble" || name == "--seed" || name == "--out" || name == "--overwrite" ||
        name == "--quiet")
      continue;
    args.push_back(name);
    if (opt->get_expected_max() == 0) continue;  // a flag
    for (const std::string& v : opt->results()) args.push_back(v);
  }
  return args;
}

bool is_ensemble_folder(const std::string& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::exists(fs::path(dir) / "ensemble.json", ec);
}

int run_ensemble(const std::vector<std::string>& member_args, int k, uint64_t seed, const std::string& out,
                 bool overwrite, bool quiet) {
  const OutputFolder folder(out, "--out");  // each member also locks its own folder under members/
  std::vector<std::string> found = existing_entries(out, kEnsembleFiles);
  for (const auto& f : existing_run_files(out))
    if (std::find(found.begin(), found.end(), f) == found.end()) found.push_back(f);
  clear_earlier_outputs(out, found, overwrite, "train", "--out",
                        fmt::format("--resume {} continues an ensemble; ", out));
  const nlohmann::json spec = {{"members", k}, {"seed", seed}, {"train_args", member_args}};
  write_file_atomically((fs::path(out) / "ensemble.json").string(), spec.dump(2) + "\n");
  if (!quiet)
    std::cout << fmt::format("unroll train: ensemble of {} members, seeds {}-{}, each a full run in {}/members/seed_N\n",
                             k, seed, seed + k - 1, out);
  return run_members(out, spec, quiet);
}

int resume_ensemble(const std::string& out, bool quiet) {
  const OutputFolder folder(out, "--resume's folder");
  const nlohmann::json spec = read_run_json((fs::path(out) / "ensemble.json").string(), "train");
  UNROLL_CHECK(spec.is_object() && spec.contains("members") && spec["members"].is_number_integer() &&
                   spec["members"].get<int>() >= 1 && spec["members"].get<int>() <= kMaxEnsemble &&
                   spec.contains("seed") && spec["seed"].is_number_unsigned() && spec.contains("train_args") &&
                   spec["train_args"].is_array(),
               DataError, "train: {}/ensemble.json is not an ensemble description written by `unroll train --ensemble`",
               out);
  for (const auto& a : spec["train_args"])
    UNROLL_CHECK(a.is_string(), DataError, "train: {}/ensemble.json: train_args must be strings", out);
  remove_files(out, {"report.json", "forecast.csv"});
  if (!quiet)
    std::cout << fmt::format("unroll train: resuming the ensemble in {} ({} members)\n", out, spec["members"].get<int>());
  return run_members(out, spec, quiet);
}

}  // namespace unroll::cli
