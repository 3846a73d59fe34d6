// SPDX-License-Identifier: Apache-2.0
// What lives here: RunConfig JSON, data loading for the commands, checkpoint -> run, shared evaluation.
#include "apps/run_config.h"
#include "apps/cell_file.h"

#include "examples/cifg_cell.h"

#include <algorithm>
#include <cmath>
#include <fmt/ranges.h>
#include <cstdlib>
#include <filesystem>

#include "graph/check.h"
#include "graph/json_fields.h"
#include "io/csv.h"
#include "models/cell_equations.h"
#include "train/loss.h"

namespace unroll::cli {

const CellRegistry& cli_cells() {
  static const CellRegistry registry = [] {
    CellRegistry cells = builtin_cells();
    examples::register_cifg(cells);
    return cells;
  }();
  return registry;
}


nlohmann::json DataConfig::to_json() const {
  return {{"dataset", dataset},
          {"file", file},
          {"column", column},
          {"length", length},
          {"noise", noise},
          {"data_seed", data_seed},
          {"history", history},
          {"horizon", horizon},
          {"scaler", scaler},
          {"train_fraction", train_fraction},
          {"validation_fraction", validation_fraction},
          {"period", period},
          {"file_hash", file_hash},
          {"file_bytes", file_bytes}};
}

DataConfig DataConfig::from_json(const nlohmann::json& j) {
  const JsonFields f(j, "run config data",
                     {"dataset", "file", "column", "length", "noise", "data_seed", "history", "horizon", "scaler",
                      "train_fraction", "validation_fraction", "period", "file_hash", "file_bytes"});
  DataConfig c;
  f.read("dataset", c.dataset);
  f.read("file", c.file);
  f.read("column", c.column);
  f.read("length", c.length);
  f.read("noise", c.noise);
  f.read("data_seed", c.data_seed);
  f.read("history", c.history);
  f.read("horizon", c.horizon);
  f.read("scaler", c.scaler);
  f.read("train_fraction", c.train_fraction);
  f.read("validation_fraction", c.validation_fraction);
  f.read_at_least("period", c.period, int64_t{0});  // absent before --period: 0
  f.read("file_hash", c.file_hash);
  f.read_at_least("file_bytes", c.file_bytes, int64_t{0});
  c.validate();
  return c;
}

void DataConfig::validate() const {
  UNROLL_CHECK(dataset == "magnet" || dataset == "nottem" || dataset == "csv", UsageError,
               "data: unknown dataset '{}' (hint: use --dataset magnet|nottem, or --data FILE.csv --column NAME)",
               dataset);
  if (dataset == "csv")
    UNROLL_CHECK(!file.empty() && !column.empty(), UsageError,
                 "data: --data FILE.csv needs --column NAME (hint: the header names the columns)");
  UNROLL_CHECK(history >= 1 && history <= 100000, UsageError, "data: --history must be in [1, 100000], got {}", history);
  UNROLL_CHECK(horizon >= 1 && horizon <= 100000, UsageError, "data: --horizon must be in [1, 100000], got {}", horizon);
  UNROLL_CHECK(period >= 0 && period <= 100000, UsageError, "data: --period must be in [1, 100000], got {}", period);
  UNROLL_CHECK(length == 0 || (length >= 1 && length <= 100000000), UsageError,
               "data: --length must be in [1, 100000000], got {}", length);
  UNROLL_CHECK(std::isfinite(noise), UsageError, "data: --noise must be finite");
  parse_scaler_kind(scaler);  // throws UsageError for an unknown name
  UNROLL_CHECK(std::isfinite(train_fraction) && std::isfinite(validation_fraction) && train_fraction > 0 &&
                   validation_fraction >= 0 && train_fraction + validation_fraction < 1,
               UsageError,
               "data: split fractions must satisfy train > 0, validation >= 0, train + validation < 1 (got {} and {})",
               train_fraction, validation_fraction);
}

nlohmann::json RunConfig::to_json() const {
  return {{"data", data.to_json()},
          {"model", model.to_json()},
          {"trainer", trainer.to_json()},
          {"auto_budget", auto_budget},
          {"auto_history", auto_history},
          {"choices", choices}};
}

RunConfig RunConfig::from_json(const nlohmann::json& j) {
  UNROLL_CHECK(j.is_object() && j.contains("data") && j.contains("model") && j.contains("trainer"), DataError,
               "run config: expected an object with data, model and trainer (hint: was the checkpoint written by "
               "`unroll train`?)");
  const JsonFields f(j, "run config", {"data", "model", "trainer", "auto_budget", "auto_history", "choices"});
  RunConfig r;
  r.data = DataConfig::from_json(f.json()["data"]);
  r.model = ForecastModelConfig::from_json(f.json()["model"]);
  r.model.net.recurrent.cell = cell_name(r.model.net.recurrent.cell);  // a hand-written "gru-lbr" or "rnn"
  r.trainer = TrainerConfig::from_json(f.json()["trainer"]);
  f.read("auto_budget", r.auto_budget);  // absent before issue 23: false
  f.read("auto_history", r.auto_history);
  if (f.has("choices")) {
    UNROLL_CHECK(f.json()["choices"].is_object(), DataError, "run config: 'choices' must be an object, got {}",
                 f.json()["choices"].dump().substr(0, 80));
    r.choices = f.json()["choices"];
  }
  r.validate();
  return r;
}

void RunConfig::validate() const {
  data.validate();
  const RecurrentConfig& rc = model.net.recurrent;
  UNROLL_CHECK(builtin_cells().contains(rc.cell) || !rc.cell_equations.empty(), UsageError,
               "model: unknown cell '{}' (hint: use rnn, lstm, gru or gru_lbr; known cells: {})", rc.cell,
               fmt::join(builtin_cells().names(), ", "));
  if (!rc.cell_equations.empty()) parse_cell_equations(rc.cell_equations, "model cell " + rc.cell);
  UNROLL_CHECK(rc.hidden_size <= 65536 && rc.layers <= 64, UsageError,
               "model: --hidden must be <= 65536 and --layers <= 64 (got {} and {})", rc.hidden_size, rc.layers);
  model.validate();
  UNROLL_CHECK(model.history == data.history, UsageError, "model: history {} differs from the data's history {}",
               model.history, data.history);
  UNROLL_CHECK(trainer.batch_size >= 1 && trainer.batch_size <= 1000000, UsageError,
               "train: --batch must be in [1, 1000000], got {}", trainer.batch_size);
  UNROLL_CHECK(trainer.epochs >= 0 && trainer.epochs <= 1000000, UsageError,
               "train: --epochs must be in [0, 1000000], got {}", trainer.epochs);
  Optimizer probe({}, trainer.optimizer);  // validates the optimizer settings
  Schedule schedule_probe(trainer.schedule);
  trainer.validate_loss();
}

std::string model_label(const ForecastModelConfig& m) {
  return cell_label(m.net.recurrent) + (m.highway ? " + AR highway" : "") + (m.residual ? " (residual)" : "") +
         (m.despike > 0 ? " despiked" : "");
}

LinearAR fit_ar_for_highway(const std::vector<double>& series, const WindowSet& train) {
  try {
    return LinearAR::fit(series, train);
  } catch (const NumericError&) {
    return LinearAR::fit(series, train, 1e-8);
  }
}

void fit_training_budget(RunConfig& run, const PreparedData& data) {
  if (!run.auto_budget) return;
  const int64_t batch = run.trainer.batch_size;
  const int64_t per_epoch = (data.train.size() + batch - 1) / batch;
  const int64_t cap_steps = std::clamp<int64_t>(kBudgetEpochs * per_epoch, kMinBudgetSteps, kMaxBudgetSteps);
  const int64_t epochs = std::max<int64_t>(1, (cap_steps + per_epoch - 1) / per_epoch);
  run.trainer.epochs = epochs;
  run.trainer.decay_epochs = epochs;
  if (run.trainer.patience == 0) run.trainer.patience = std::max<int64_t>(10, epochs / 5);
  run.choices["budget"] = {
      {"epochs", epochs},
      {"steps", epochs * per_epoch},
      {"patience", run.trainer.patience},
      {"why", fmt::format("no --epochs: a cap of {} epochs x {} steps ({} epochs' steps, at least {} and at most {}), "
                          "the cosine over the cap, early stopping after {} epochs without a better validation loss",
                          epochs, per_epoch, kBudgetEpochs, kMinBudgetSteps, kMaxBudgetSteps, run.trainer.patience)}};
}

void choose_history(RunConfig& run, const std::string& data_dir) {
  if (!run.auto_history) return;
  const LoadedData probe = load_data(run.data, data_dir);
  const std::optional<OrderChoice> c = choose_ar_order(probe.data, kMaxAutoHistory);
  const int64_t was = run.data.history;
  if (!c) {
    run.choices["history"] = {{"history", was}, {"why", fmt::format("no --history: kept {} (no validation split to choose on)", was)}};
    return;
  }
  const int64_t h = std::clamp(c->order, kMinAutoHistory, kMaxAutoHistory);
  run.data.history = run.model.history = h;
  run.choices["history"] = {
      {"history", h},
      {"ar_order", c->order},
      {"ar_validation_rmse", c->validation_rmse},
      {"why", fmt::format("no --history: {}, from AR({}), the best validation RMSE of AR orders {} (clamped to [{}, {}])",
                          h, c->order, fmt::join(c->tried, ", "), kMinAutoHistory, kMaxAutoHistory)}};
}

void choose_period(RunConfig& run, const LoadedData& loaded) {
  const PreparedData& d = loaded.data;
  std::string why;
  if (run.data.period > 0) {  // load_data took it
    why = fmt::format("seasonal period {} (given with --period)", run.data.period);
  } else if (loaded.seasonal_period > 0) {
    why = fmt::format("seasonal period {} ({}'s own)", loaded.seasonal_period, run.data.dataset);
  } else {
    // Left 0: evaluate_baselines detects the same period and reports it as detected.
    const int64_t detected = detect_period(d.scaled, d.split.train);
    why = detected > 0 ? fmt::format("seasonal period {} (detected on the training split: the first autocorrelation "
                                     "peak of the one-step changes; --period sets it)",
                                     detected)
                       : "no seasonal period (none detected on the training split; --period sets one)";
    run.choices["period"] = {{"period", detected}, {"why", why}};
    return;
  }
  run.choices["period"] = {{"period", loaded.seasonal_period}, {"why", why}};
}

std::string stop_reason(const RunConfig& run, const TrainResult& result) {
  if (result.status == TrainStatus::early_stopped)
    return fmt::format("stopped: {}; the report uses the best epoch's weights (best.h5)", result.message);
  if (run.choices.contains("budget") && run.choices["budget"].value("epochs", int64_t{-1}) == run.trainer.epochs)
    return fmt::format("stopped: reached the budget cap of {} epochs ({} steps; it scales with the data, --epochs sets "
                       "it); best epoch {}",
                       run.trainer.epochs, result.global_step, result.best_epoch);
  return fmt::format("stopped: completed the run's {} epochs; best epoch {}", run.trainer.epochs, result.best_epoch);
}

void fit_despike_threshold(RunConfig& run, const PreparedData& data) {
  run.model.despike = run.model.despike_sigmas > 0
                          ? run.model.despike_sigmas * robust_step_std(data.scaled, data.split.train.begin, data.split.train.end)
                          : 0.0;
}

std::string cell_name(const std::string& model) {
  if (model == "rnn") return "rnn_tanh";
  if (model == "gru-lbr") return "gru_lbr";
  return model;
}

std::string default_data_dir() {
  if (const char* env = std::getenv("UNROLL_DATA_DIR"); env != nullptr && *env != '\0') return env;
#ifdef UNROLL_INSTALLED_DATA_DIR  // relative to the installed command's folder: bin/../share/unroll
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::filesystem::path installed = exe.parent_path() / UNROLL_INSTALLED_DATA_DIR;
  if (!ec && std::filesystem::exists(installed / "nottem.csv", ec)) return installed.lexically_normal().string();
#endif
#ifdef UNROLL_DEFAULT_DATA_DIR
  return UNROLL_DEFAULT_DATA_DIR;
#else
  return "data";
#endif
}

LoadedData load_data(const DataConfig& c, const std::string& data_dir) {
  c.validate();
  const WindowSpec spec{c.history, c.horizon};
  const ScalerKind kind = parse_scaler_kind(c.scaler);
  LoadedData out;
  if (c.dataset == "csv") {
    CsvTable table = read_csv(c.file, {c.column});
    out.file_hash = fnv1a_hex(table.content_hash);
    out.file_bytes = table.bytes;
    UNROLL_CHECK(c.file_hash.empty() || (c.file_hash == out.file_hash && c.file_bytes == out.file_bytes), DataError,
                 "{}: the data changed since the run started: {} bytes with hash {} now, {} bytes with hash {} "
                 "recorded (hint: restore the file, or pass --data with the original file)",
                 c.file, out.file_bytes, out.file_hash, c.file_bytes, c.file_hash);
    Series s{c.column, std::move(table.columns[0])};
    SplitSpec split;
    split.train_fraction = c.train_fraction;
    split.validation_fraction = c.validation_fraction;
    std::error_code ec;
    const std::filesystem::path absolute = std::filesystem::absolute(c.file, ec);
    out.source = ec ? c.file : absolute.lexically_normal().string();  // as recorded (pin_data_file)
    try {
      out.data = prepare_data(std::move(s), split, spec, kind);
      out.seasonal_period = c.period;
    } catch (const DataError& e) {
      throw DataError(fmt::format("{}: column '{}': {}", c.file, c.column, e.what()));
    } catch (const UsageError& e) {
      throw UsageError(fmt::format("{}: column '{}': {}", c.file, c.column, e.what()));
    }
    return out;
  }
  DatasetParams params;
  if (c.length > 0) params.length = c.length;
  if (c.noise >= 0) params.noise = c.noise;
  params.seed = c.data_seed;
  BuiltinDataset d = load_builtin_dataset(c.dataset, data_dir, params);
  out.seasonal_period = c.period > 0 ? c.period : d.seasonal_period;
  out.source = d.source;
  out.data = prepare_data(std::move(d.series), d.split, spec, kind);
  return out;
}

// Note [Data identity]: a run on a CSV records the file's absolute path, size and FNV-1a hash in its run
// config. Everything that rebuilds the run's data later (train --resume, eval, predict, plot) finds the
// file with locate_data_file and load_data refuses it when its size or hash differs, so a file that gained
// rows (or was edited) is never silently used as the run's data. Checkpoints from before this have no hash:
// their data is read unchecked and the user is told so.
void pin_data_file(DataConfig& data, const LoadedData& loaded) {
  if (data.dataset != "csv") return;
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(data.file, ec);
  if (!ec) data.file = absolute.lexically_normal().string();
  data.file_hash = loaded.file_hash;
  data.file_bytes = loaded.file_bytes;
}

std::string locate_data_file(DataConfig& data, const std::string& checkpoint_path, const std::string& given) {
  namespace fs = std::filesystem;
  if (data.dataset != "csv") {
    UNROLL_CHECK(given.empty(), UsageError, "{}: the run used the built-in dataset {}; --data does not apply",
                 checkpoint_path, data.dataset);
    return "";
  }
  const std::string unchecked =
      data.file_hash.empty() ? " (the checkpoint predates data hashes: the file is not checked against the run's data)"
                             : "";
  std::error_code ec;
  const auto absolute = [&](const fs::path& p) {
    const fs::path a = fs::absolute(p, ec);
    return ec ? p.string() : a.lexically_normal().string();
  };
  if (!given.empty()) {
    const std::string recorded = data.file;
    data.file = absolute(given);
    return fmt::format("data: {} (given; the run recorded {}){}", data.file, recorded, unchecked);
  }
  const fs::path recorded(data.file);
  const fs::path beside = fs::path(checkpoint_path).parent_path() / recorded.filename();
  for (const fs::path& candidate : {recorded, beside}) {
    if (candidate.is_absolute() || candidate == beside) {
      if (fs::is_regular_file(candidate, ec) || fs::status(candidate, ec).type() == fs::file_type::fifo) {
        const bool moved = candidate != recorded;
        data.file = absolute(candidate);
        if (!moved && unchecked.empty()) return "";
        return fmt::format("data: {}{}{}", data.file, moved ? fmt::format(" (not found at {})", recorded.string()) : "",
                           unchecked);
      }
    }
  }
  // Not found as recorded or beside the checkpoint: an older checkpoint's relative path, read from the
  // working directory (load_data names the file when it is missing).
  return unchecked.empty() ? "" : fmt::format("data: {}{}", data.file, unchecked);
}

LoadedData load_csv_for_eval(const std::string& file, const std::string& column, const WindowSpec& spec,
                             const Scaler& scaler) {
  LoadedData out;
  out.source = file;
  PreparedData& d = out.data;
  d.series = Series{column, read_csv_column(file, column)};
  d.scaler = scaler;
  d.scaled = scaler.transform(d.series.values);
  d.spec = spec;
  const int64_t n = d.series.size();
  d.split.train = d.split.validation = Range{0, 0};
  d.split.test = d.split.fit = Range{0, n};
  d.test = make_windows(n, d.split.test, spec);
  UNROLL_CHECK(!d.test.empty(), DataError,
               "{}: column '{}' has {} values, too few for one window of history {} and horizon {} (needs at least {})",
               file, column, n, spec.history, spec.horizon, spec.history + spec.horizon);
  // Baselines need a fitting part: the AR model is fitted on these same windows (in-sample).
  d.train = d.test;
  d.fit = d.test;
  return out;
}

LoadedRun load_run(const std::string& checkpoint_path) {
  LoadedRun r;
  r.checkpoint = load_checkpoint(checkpoint_path);
  const Checkpoint& c = r.checkpoint;
  UNROLL_CHECK(c.extra.is_object() && c.extra.contains("run"), DataError,
               "{}: the checkpoint has no run configuration (extra/run) (hint: it was not written by `unroll train`)",
               checkpoint_path);
  r.run = RunConfig::from_json(c.extra["run"]);
  locate_data_file(r.run.data, checkpoint_path);  // the note is for resume; eval, predict and plot just read it
  const ForecastModelConfig saved = ForecastModelConfig::from_json(c.model_config);
  r.run.model = saved;
  Rng rng(r.run.trainer.seed);
  r.model = std::make_unique<ForecastModel>(saved, rng);
  const nlohmann::json expected = saved.to_json();
  load_parameters(*r.model, c, &expected);
  r.scaler = c.scaler.is_null() ? Scaler() : Scaler::from_json(c.scaler);
  return r;
}

Evaluation evaluate(Trainer& trainer, const PreparedData& data, const WindowSet& windows, int64_t seasonal_period) {
  Evaluation e;
  e.targets = windows.targets;
  e.prediction = trainer.predict(windows);
  e.truth = window_targets(data.scaled, windows);
  e.rmse = metrics::rmse(e.prediction, e.truth);
  e.mae = metrics::mae(e.prediction, e.truth);
  e.baselines = evaluate_baselines(data, windows, seasonal_period);
  return e;
}

}  // namespace unroll::cli
