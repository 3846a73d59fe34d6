// SPDX-License-Identifier: Apache-2.0
// What lives here: `unroll eval` (test-split metrics of a checkpoint, or of every window of another CSV,
// printed and written as JSON) and `unroll predict` (one prediction per window, original units, CSV).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>

#include "apps/commands.h"
#include "apps/report.h"
#include "apps/run_config.h"
#include "graph/check.h"
#include "io/output_files.h"

namespace unroll::cli {

namespace {

struct EvalOptions {
  std::string checkpoint, data_file, column, data_dir, out;
  bool json = false;
};

// The data an evaluation runs on: the run's own test split, or every window of --data/--column.
LoadedData eval_data(const LoadedRun& run, const EvalOptions& o) {
  if (!o.data_file.empty())
    return load_csv_for_eval(o.data_file, o.column, WindowSpec{run.run.data.history, run.run.data.horizon}, run.scaler);
  return load_data(run.run.data, o.data_dir.empty() ? default_data_dir() : o.data_dir);
}

void check_pairing(const EvalOptions& o) {
  UNROLL_CHECK(o.data_file.empty() == o.column.empty(), UsageError, "--data FILE.csv and --column NAME go together");
}

// Where an output file goes: checked before any work (a missing folder, or a path that is not a regular
// file, is refused up front). "-" = standard output, "" = none.
void check_output_target(const std::string& out) {
  namespace fs = std::filesystem;
  if (out.empty() || out == "-") return;
  check_replaceable(out);
  const fs::path parent = fs::path(out).parent_path();
  std::error_code ec;
  UNROLL_CHECK(parent.empty() || fs::is_directory(parent, ec), IoError,
               "--out {}: the folder {} does not exist (hint: create it first, or write to - for standard output)", out,
               parent.string());
}

int run_eval(const EvalOptions& o) {
  namespace fs = std::filesystem;
  // --json alone prints only; otherwise --out FILE (or - for standard output), by default eval.json beside
  // the checkpoint: then the checkpoint's folder must be writable and is locked like a run's.
  const std::string out = !o.out.empty() ? o.out
                          : o.json       ? std::string()
                                         : (fs::path(o.checkpoint).parent_path() / "eval.json").string();
  check_output_target(out);
  std::optional<OutputFolder> folder;
  if (o.out.empty() && !o.json) {
    const std::string dir = fs::path(o.checkpoint).parent_path().string();
    UNROLL_CHECK(::access((dir.empty() ? "." : dir).c_str(), W_OK) == 0, IoError,
                 "eval: cannot write eval.json beside {}: {} (hint: --json prints the metrics without writing a file; "
                 "--out FILE writes them elsewhere)",
                 o.checkpoint, std::strerror(errno));
    folder.emplace(dir.empty() ? "." : dir, "eval: the checkpoint's folder",
                   "wait for it to finish, or use --json or --out FILE, which do not write into that folder");
  }
  LoadedRun run = load_run(o.checkpoint);
  const LoadedData loaded = eval_data(run, o);
  TrainerConfig tc = run.run.trainer;
  tc.out_dir.clear();
  Trainer trainer(*run.model, loaded.data, tc);
  const Evaluation e = evaluate(trainer, loaded.data, loaded.data.test, o.data_file.empty() ? loaded.seasonal_period : 0);
  nlohmann::json j = metrics_json(e);
  j["checkpoint"] = o.checkpoint;
  j["data"] = loaded.source;
  j["split"] = o.data_file.empty() ? "test" : "all windows (scaler from the checkpoint; AR fitted in-sample)";
  j["scaler"] = run.scaler.to_json();
  if (!out.empty() && out != "-") write_file_atomically(out, j.dump(2) + "\n");
  if (o.json || out == "-") {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << fmt::format("unroll eval: {} on {} ({} windows)\n", o.checkpoint, loaded.source, e.prediction.size())
              << comparison_table(e, model_label(run.run.model), run.run.data.history)
              << fmt::format("wrote {}\n", out);
  }
  return kExitOk;
}

int run_predict(const EvalOptions& o) {
  check_output_target(o.out);
  LoadedRun run = load_run(o.checkpoint);
  const LoadedData loaded = eval_data(run, o);
  TrainerConfig tc = run.run.trainer;
  tc.out_dir.clear();
  Trainer trainer(*run.model, loaded.data, tc);
  Evaluation e;
  e.targets = loaded.data.test.targets;
  e.prediction = trainer.predict(loaded.data.test);
  e.truth = window_targets(loaded.data.scaled, loaded.data.test);
  if (o.out == "-") {
    std::cout << forecast_csv(e, run.scaler);  // standard output holds the CSV alone
    return kExitOk;
  }
  write_file_atomically(o.out, forecast_csv(e, run.scaler));
  std::cout << fmt::format("unroll predict: wrote {} predictions to {}\n", e.prediction.size(), o.out);
  return kExitOk;
}

}  // namespace

void register_eval_command(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* sub = app.add_subcommand("eval", "test-split metrics of a checkpoint against the baselines");
  sub->add_option("--checkpoint", o->checkpoint, "checkpoint.h5 or best.h5 written by unroll train")->required();
  sub->add_option("--data", o->data_file, "evaluate on every window of this CSV instead (saved scaler)");
  sub->add_option("--column", o->column, "the CSV column");
  sub->add_option("--data-dir", o->data_dir, "where nottem.csv is");
  sub->add_option("--out", o->out,
                  "metrics JSON (- = standard output; default: eval.json beside the checkpoint, none with --json)");
  sub->add_flag("--json", o->json, "print the metrics as JSON");
  table.push_back({sub, [o] { check_pairing(*o); }, [o] { return run_eval(*o); }});
}

void register_predict_command(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* sub = app.add_subcommand("predict", "one prediction per window (index, prediction, target) as CSV");
  sub->add_option("--checkpoint", o->checkpoint, "checkpoint.h5 or best.h5 written by unroll train")->required();
  sub->add_option("--data", o->data_file, "a CSV file (default: the run's own test split)");
  sub->add_option("--column", o->column, "the CSV column");
  sub->add_option("--data-dir", o->data_dir, "where nottem.csv is");
  sub->add_option("--out", o->out, "output CSV (- = standard output)")->required();
  table.push_back({sub, [o] { check_pairing(*o); }, [o] { return run_predict(*o); }});
}

}  // namespace unroll::cli
