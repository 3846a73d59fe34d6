// SPDX-License-Identifier: Apache-2.0
// What lives here: `unroll suite`: the defaults of `unroll train` on a fixed set of public series (the R
// `datasets` series in data/, exported by scripts/export_r_datasets.R, plus magnet and nottem), one run
// after another, each exactly `unroll train --data F --column value` (or `unroll train [--dataset nottem]`)
// with only --out, --seed and --quiet added; then DIR/suite.md (model vs every baseline on the test split,
// the settings each run chose on validation, the stop reason and the time), DIR/suite.json and
// DIR/suite.png (model RMSE / best baseline RMSE per series). Nothing here chooses a setting: every choice
// is the train command's, made on the validation split.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "apps/commands.h"
#include "apps/option_checks.h"
#include "apps/report.h"
#include "apps/run_config.h"
#include "apps/run_folder.h"
#include "graph/check.h"
#include "io/output_files.h"

namespace unroll::cli {

namespace {

// One series of the suite: a CSV file in the data folder (column "value"), or a built-in dataset.
struct SuiteSeries {
  const char* name;
  const char* file;     // "" for a built-in dataset
  const char* dataset;  // built-in: "magnet" or "nottem"; "" for a CSV file
  const char* what;
};

// data/NOTICE.md says where each file comes from.
const std::vector<SuiteSeries> kSuite = {
    {"magnet", "", "magnet", "simulated magnet voltage with glitches (30000 steps)"},
    {"nottem", "", "nottem", "monthly Nottingham temperatures 1920-1939"},
    {"AirPassengers", "AirPassengers.csv", "", "monthly airline passengers 1949-1960"},
    {"co2", "co2.csv", "", "monthly Mauna Loa CO2 1959-1997"},
    {"sunspot_month", "sunspot_month.csv", "", "monthly sunspot numbers 1749-2013"},
    {"lynx", "lynx.csv", "", "annual lynx trappings 1821-1934"},
    {"Nile", "Nile.csv", "", "annual Nile flow 1871-1970"},
    {"UKDriverDeaths", "UKDriverDeaths.csv", "", "monthly UK drivers killed or injured 1969-1984"},
    {"UKgas", "UKgas.csv", "", "quarterly UK gas consumption 1960-1986"},
    {"treering", "treering.csv", "", "yearly tree-ring widths, 6000 BC-1979"},
    {"WWWusage", "WWWusage.csv", "", "Internet users on a server, per minute"},
    {"BJsales", "BJsales.csv", "", "Box-Jenkins sales series"},
    {"DAX", "DAX.csv", "", "daily DAX closing prices 1991-1998"},
    {"discoveries", "discoveries.csv", "", "yearly important discoveries 1860-1959"},
};

struct SuiteOptions {
  std::string out = "runs/suite", data_dir;
  std::vector<std::string> series;  // empty: all of kSuite
  uint64_t seed = 1;
  int seeds = 1;
  int64_t epochs = 0;  // > 0: --epochs for every run (a quick check, not the defaults)
  bool overwrite = false;
};

std::vector<SuiteSeries> chosen_series(const SuiteOptions& o) {
  if (o.series.empty()) return kSuite;
  std::vector<SuiteSeries> out;
  for (const std::string& name : o.series) {
    const auto it = std::find_if(kSuite.begin(), kSuite.end(), [&](const SuiteSeries& s) { return name == s.name; });
    if (it == kSuite.end()) {
      std::string known;
      for (const SuiteSeries& s : kSuite) known += (known.empty() ? "" : ", ") + std::string(s.name);
      throw UsageError(fmt::format("suite: unknown series '{}' (known: {})", name.substr(0, 30), known));
    }
    UNROLL_CHECK(std::none_of(out.begin(), out.end(), [&](const SuiteSeries& s) { return name == s.name; }), UsageError,
                 "suite: --series names '{}' twice", name);
    out.push_back(*it);
  }
  return out;
}

std::string run_folder_name(const SuiteSeries& s, uint64_t seed) { return fmt::format("{}_s{}", s.name, seed); }

// The train command line of one run: the defaults plus only what does not change the result (--out,
// --quiet, --data-dir) and the seed (and --epochs for a quick check).
std::vector<std::string> train_args(const SuiteSeries& s, const SuiteOptions& o, const std::string& data_dir,
                                    const std::string& dir, uint64_t seed) {
  std::vector<std::string> a = {"unroll", "train"};
  if (*s.file != '\0')
    a.insert(a.end(), {"--data", (std::filesystem::path(data_dir) / s.file).string(), "--column", "value"});
  else if (std::string(s.dataset) != "magnet")
    a.insert(a.end(), {"--dataset", s.dataset});
  a.insert(a.end(), {"--out", dir, "--seed", std::to_string(seed), "--quiet", "--data-dir", data_dir});
  if (o.epochs > 0) a.insert(a.end(), {"--epochs", std::to_string(o.epochs)});
  return a;
}

double number_or_nan(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : std::nan("");
}

// How a run ended, from its report.json: the early stop, the budget cap or the given epochs.
std::string stop_summary(const nlohmann::json& r) {
  const nlohmann::json& c = r["config"];
  const int64_t epochs = c["trainer"]["epochs"], run = r["epochs_run"], best = r["best_epoch"];
  if (r["status"] == "early_stopped")
    return fmt::format("early stop at epoch {} of {} (best {}, patience {})", run, epochs, best,
                       c["trainer"]["patience"].get<int64_t>());
  const bool cap = c["choices"].contains("budget");
  return fmt::format("{} {} epochs (best {})", cap ? "cap of" : "ran", run, best);
}

struct SeriesResult {
  SuiteSeries series;
  std::vector<nlohmann::json> reports;  // one per seed
  std::vector<double> seconds;          // wall time of each run (data, choices, training, report, plots)
  std::vector<double> rmse;             // model test RMSE per seed
  double mean_rmse = 0, std_rmse = 0;
  int wins = 0;  // seeds whose model beat the best baseline
};

void summarise(SeriesResult& s) {
  double sum = 0;
  for (const auto& r : s.reports) {
    const double x = r["test_rmse"];
    s.rmse.push_back(x);
    sum += x;
    if (x < number_or_nan(r["baselines"]["best"], "rmse")) ++s.wins;
  }
  s.mean_rmse = sum / static_cast<double>(s.rmse.size());
  double var = 0;
  for (double x : s.rmse) var += (x - s.mean_rmse) * (x - s.mean_rmse);
  s.std_rmse = s.rmse.size() > 1 ? std::sqrt(var / static_cast<double>(s.rmse.size() - 1)) : 0;
}

std::string cell(double v) { return std::isfinite(v) ? fmt::format("{:.4f}", v) : "n/a"; }

// One row's JSON: the first seed's chosen settings and baselines (both depend only on the data and the
// defaults, not on the seed), every seed's model RMSE and time.
nlohmann::json row_json(const SeriesResult& s) {
  const nlohmann::json& r = s.reports.front();
  const nlohmann::json& b = r["baselines"];
  nlohmann::json runs = nlohmann::json::array();
  for (size_t i = 0; i < s.reports.size(); ++i)
    runs.push_back({{"seed", s.reports[i]["config"]["trainer"]["seed"]},
                    {"test_rmse", s.rmse[i]},
                    {"validation_rmse", s.reports[i].contains("validation") ? s.reports[i]["validation"]["rmse"] : nlohmann::json()},
                    {"seconds", s.seconds[i]},
                    {"training_seconds", s.reports[i]["training_seconds"]},
                    {"epochs_run", s.reports[i]["epochs_run"]},
                    {"best_epoch", s.reports[i]["best_epoch"]},
                    {"steps", s.reports[i]["steps"]},
                    {"status", s.reports[i]["status"]},
                    {"stop", stop_summary(s.reports[i])}});
  const double best = number_or_nan(b["best"], "rmse");
  return {{"series", s.series.name},
          {"what", s.series.what},
          {"source", r["data"]["source"]},
          {"values", r["data"]["values"]},
          {"windows", r["data"]["windows"]},
          {"model", r["config"]["model"]},
          {"history", r["config"]["data"]["history"]},
          {"choices", r["config"]["choices"]},
          {"test_rmse_mean", s.mean_rmse},
          {"test_rmse_std", s.std_rmse},
          {"baselines", b},
          {"validation_baselines", r.contains("validation") ? r["validation"]["baselines"] : nlohmann::json()},
          {"model_over_best", s.mean_rmse / best},
          {"wins", s.wins},
          {"verdict", s.mean_rmse < best ? "better" : "NOT better"},
          {"runs", runs}};
}

std::string markdown(const std::vector<SeriesResult>& results, const SuiteOptions& o, double seconds) {
  const bool several = o.seeds > 1;
  int better = 0;
  for (const auto& s : results) better += s.mean_rmse < number_or_nan(s.reports.front()["baselines"]["best"], "rmse");
  std::string md = fmt::format(
      "Test RMSE on the scaled series (min-max fitted on the training split; 1 step ahead), {}; the baselines "
      "are fitted on the training split only (AR(p): p chosen on validation). The model is **bold** where it "
      "beats the best baseline: {} of {} series. {} in {:.0f} s.\n\n",
      several ? fmt::format("mean ± sample std over seeds {}-{} (wins: seeds better than the best baseline)", o.seed,
                            o.seed + static_cast<uint64_t>(o.seeds) - 1)
              : fmt::format("seed {}", o.seed),
      better, results.size(),
      o.epochs > 0 ? fmt::format("Every run with --epochs {} (not the defaults)", o.epochs)
                   : std::string("Every run is `unroll train` with its defaults"),
      seconds);
  md += "| series | values | model | persistence | AR(history) | AR(p) val-chosen | seasonal-naive | best baseline | "
        "model / best |";
  md += several ? " wins |" : "";
  md += " history | stop | time |\n|---|---|---|---|---|---|---|---|---|";
  md += several ? "---|" : "";
  md += "---|---|---|\n";
  for (const auto& s : results) {
    const nlohmann::json& r = s.reports.front();
    const nlohmann::json& b = r["baselines"];
    const double best = number_or_nan(b["best"], "rmse");
    std::string model = several ? fmt::format("{:.4f} ± {:.4f}", s.mean_rmse, s.std_rmse) : cell(s.mean_rmse);
    if (s.mean_rmse < best) model = "**" + model + "**";
    const nlohmann::json& sel = b.contains("ar_selected") ? b["ar_selected"] : nlohmann::json::object();
    const std::string seasonal =
        b.contains("seasonal_period")
            ? fmt::format("{} ({})", cell(number_or_nan(b, "seasonal_naive_rmse")), b["seasonal_period"].get<int64_t>())
            : "no period";
    const nlohmann::json& choices = r["config"]["choices"];
    const std::string history =
        choices.contains("history") && choices["history"].contains("ar_order")
            ? fmt::format("{} (AR({}))", r["config"]["data"]["history"].get<int64_t>(), choices["history"]["ar_order"].get<int64_t>())
            : fmt::format("{}", r["config"]["data"]["history"].get<int64_t>());
    double secs = 0;
    for (double t : s.seconds) secs = std::max(secs, t);
    md += fmt::format("| {} | {} | {} | {} | {} ({}) | {} | {} | {} {} | {:.3f} |", s.series.name,
                      r["data"]["values"].get<int64_t>(), model, cell(number_or_nan(b, "persistence_rmse")),
                      cell(number_or_nan(b, "ar_rmse")), b["ar_order"].get<int64_t>(),
                      sel.empty() ? "n/a" : fmt::format("{} ({})", cell(number_or_nan(sel, "rmse")), sel["order"].get<int64_t>()),
                      seasonal, cell(best), b["best"]["name"].get<std::string>(), s.mean_rmse / best);
    if (several) md += fmt::format(" {}/{} |", s.wins, s.reports.size());
    md += fmt::format(" {} | {} | {:.0f} s{} |\n", history, stop_summary(r), secs, several ? " (slowest)" : "");
  }
  return md;
}

// suite.png: model RMSE / best baseline RMSE per series (below 1: the model is better), from suite.dat.
std::string plot(const std::string& dir, const std::vector<SeriesResult>& results) {
  std::string dat = "# series model_over_best\n";
  for (const auto& s : results)
    dat += fmt::format("{} {}\n", s.series.name, s.mean_rmse / number_or_nan(s.reports.front()["baselines"]["best"], "rmse"));
  write_file_atomically((std::filesystem::path(dir) / "suite.dat").string(), dat);
  // Names relative to the suite folder, where gnuplot runs (run_gnuplot): no path is quoted into the script.
  const std::string gp = fmt::format(
      "set terminal pngcairo size 1000,480 noenhanced\nset output '{}'\n"
      "set title 'unroll suite: model test RMSE / best baseline test RMSE (below 1: the model is better)'\n"
      "set style data histograms\nset style fill solid 0.6 border -1\nset boxwidth 0.7\n"
      "set xtics rotate by -40 scale 0\nset ylabel 'model / best baseline'\nset yrange [0:*]\nset grid ytics\n"
      "plot 'suite.dat' using 2:xtic(1) notitle, 1 with lines dt 2 lw 2 title 'best baseline'\n",
      temporary_name("suite.png"));
  write_file_atomically((std::filesystem::path(dir) / "suite.gp").string(), gp);
  return run_gnuplot(dir, "suite.gp", {"suite.png"});
}

int run_suite(const SuiteOptions& o) {
  namespace fs = std::filesystem;
  const std::vector<SuiteSeries> series = chosen_series(o);
  const std::string data_dir = o.data_dir.empty() ? default_data_dir() : o.data_dir;
  for (const SuiteSeries& s : series)
    if (*s.file != '\0')
      UNROLL_CHECK(fs::is_regular_file(fs::path(data_dir) / s.file), IoError,
                   "suite: {} is missing (hint: --data-dir names the folder with the suite's CSV files, the "
                   "source tree's data/; scripts/export_r_datasets.R writes them)",
                   (fs::path(data_dir) / s.file).string());
  // The suite folder is locked for the whole suite (each run also locks its own folder under runs/); an
  // earlier suite's files are refused unless --overwrite (then removed first).
  const OutputFolder folder(o.out, "--out");
  clear_earlier_outputs(o.out, existing_entries(o.out, {"suite.md", "suite.json", "suite.dat", "suite.gp", "suite.png", "runs"}),
                        o.overwrite, "suite", "--out", "");
  const auto start = std::chrono::steady_clock::now();
  std::vector<SeriesResult> results;
  for (const SuiteSeries& s : series) {
    SeriesResult res{s, {}, {}, {}, 0, 0, 0};
    for (int k = 0; k < o.seeds; ++k) {
      const uint64_t seed = o.seed + static_cast<uint64_t>(k);
      const std::string dir = (fs::path(o.out) / "runs" / run_folder_name(s, seed)).string();
      std::vector<std::string> args = train_args(s, o, data_dir, dir, seed);
      std::vector<const char*> argv;
      for (const auto& a : args) argv.push_back(a.c_str());
      const auto t0 = std::chrono::steady_clock::now();
      const int code = run_main(static_cast<int>(argv.size()), argv.data());  // the train command, in-process
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (code != kExitOk) {  // train printed its one line; a signal or failure ends the suite with its code
        std::cerr << fmt::format("unroll: suite: the run on {} (seed {}) ended with exit code {}; its folder is {}\n",
                                 s.name, seed, code, dir);
        return code;
      }
      res.reports.push_back(read_run_json((fs::path(dir) / "report.json").string(), "suite"));
      res.seconds.push_back(secs);
      const nlohmann::json& r = res.reports.back();
      const nlohmann::json& best = r["baselines"]["best"];
      std::cout << fmt::format("{} seed {}: test RMSE {:.5f}, best baseline {} {:.5f} ({}), history {}, {}; {:.1f} s\n",
                               s.name, seed, r["test_rmse"].get<double>(), best["name"].get<std::string>(),
                               number_or_nan(best, "rmse"),
                               r["test_rmse"].get<double>() < number_or_nan(best, "rmse") ? "model better" : "model NOT better",
                               r["config"]["data"]["history"].get<int64_t>(), stop_summary(r), secs)
                << std::flush;
    }
    summarise(res);
    results.push_back(std::move(res));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string md = markdown(results, o, seconds);
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& s : results) rows.push_back(row_json(s));
  write_file_atomically((fs::path(o.out) / "suite.md").string(), md);
  write_file_atomically((fs::path(o.out) / "suite.json").string(),
                        nlohmann::json{{"rows", rows},
                                       {"seconds", seconds},
                                       {"seed", o.seed},
                                       {"seeds", o.seeds},
                                       {"epochs", o.epochs > 0 ? nlohmann::json(o.epochs) : nlohmann::json("defaults")}}
                                .dump(2) + "\n");
  const std::string plot_note = plot(o.out, results);
  std::cout << "\n" << md
            << fmt::format("\nwrote {0}/suite.md, {0}/suite.json{1}; the runs are in {0}/runs/\n", o.out,
                           plot_note.empty() ? ", " + o.out + "/suite.png" : " (no plot: " + plot_note + ")");
  return kExitOk;
}

}  // namespace

void register_suite_command(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<SuiteOptions>();
  CLI::App* sub = app.add_subcommand(
      "suite", "train the defaults on the forecasting suite (R datasets series, magnet, nottem) -> table + plot");
  std::string names;
  for (const SuiteSeries& s : kSuite) names += (names.empty() ? "" : ",") + std::string(s.name);
  sub->add_option("--series", o->series, "a subset, comma-separated (default: all of " + names + ")")->delimiter(',');
  sub->add_option("--seed", o->seed, "the seed of every run (with --seeds N: the first of N)")->check(unsigned_in(0))->capture_default_str();
  sub->add_option("--seeds", o->seeds, "runs per series, seeds --seed, --seed + 1, ...")->check(integer_in(1, 100))->capture_default_str();
  sub->add_option("--epochs", o->epochs, "pass --epochs to every run (a quick check: the table is then not the defaults')")
      ->check(integer_in(1, 1000000));
  sub->add_option("--data-dir", o->data_dir, "the folder with the suite's CSV files and nottem.csv (default: as for train)");
  sub->add_option("--out", o->out, "output folder (runs in DIR/runs/NAME_sSEED)")->capture_default_str();
  sub->add_flag("--overwrite", o->overwrite, "an --out folder holding an earlier suite's files: remove them first (else refused)");
  table.push_back({sub, [o] { chosen_series(*o); }, [o] { return run_suite(*o); }});
}

}  // namespace unroll::cli
