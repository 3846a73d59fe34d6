// What lives here: `unroll eval` (test-split metrics of a checkpoint, or of every window of another CSV,
// printed and written as JSON) and `unroll predict` (one prediction per window, original units, CSV).
#include <filesystem>
#include <iostream>

#include "apps/commands.h"
#include "apps/report.h"
#include "apps/run_config.h"
#include "graph/check.h"

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

int run_eval(const EvalOptions& o) {
  namespace fs = std::filesystem;
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
  const std::string out = !o.out.empty() ? o.out : (fs::path(o.checkpoint).parent_path() / "eval.json").string();
  write_text_file(out, j.dump(2) + "\n");
  if (o.json) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << fmt::format("unroll eval: {} on {} ({} windows)\n", o.checkpoint, loaded.source, e.prediction.size())
              << comparison_table(e, model_label(run.run.model), run.run.data.history)
              << fmt::format("wrote {}\n", out);
  }
  return kExitOk;
}

int run_predict(const EvalOptions& o) {
  LoadedRun run = load_run(o.checkpoint);
  const LoadedData loaded = eval_data(run, o);
  TrainerConfig tc = run.run.trainer;
  tc.out_dir.clear();
  Trainer trainer(*run.model, loaded.data, tc);
  Evaluation e;
  e.targets = loaded.data.test.targets;
  e.prediction = trainer.predict(loaded.data.test);
  e.truth = window_targets(loaded.data.scaled, loaded.data.test);
  write_forecast_csv(o.out, e, run.scaler);
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
  sub->add_option("--out", o->out, "metrics JSON (default: eval.json beside the checkpoint)");
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
  sub->add_option("--out", o->out, "output CSV")->required();
  table.push_back({sub, [o] { check_pairing(*o); }, [o] { return run_predict(*o); }});
}

}  // namespace unroll::cli
