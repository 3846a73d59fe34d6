// SPDX-License-Identifier: Apache-2.0
// What lives here: `unroll train`: options (apps/train_options.h, with the per-dataset defaults of
// apps/dataset_defaults.cpp) -> RunConfig, data and model, the Trainer with the progress line of
// apps/progress.h and the stop handlers of apps/signals.h (Note [Stopping] in train/trainer.h), then the
// test-split report (report.json, forecast.csv, the model-vs-baselines table) and plots. Under mpirun every
// rank runs this with the same flags (docs/distributed.md): rank 0 alone owns the folder and prints; the
// others train and evaluate their shares silently (Note [Data parallel] in train/data_parallel.h).
#include <csignal>
#include <filesystem>
#include <iostream>

#include "apps/cell_file.h"
#include "apps/commands.h"
#include "apps/ensemble.h"
#include "apps/memory_check.h"
#include "apps/option_checks.h"
#include "apps/probe_data.h"
#include "apps/progress.h"
#include "apps/report.h"
#include "apps/run_config.h"
#include "apps/run_folder.h"
#include "apps/signals.h"
#include "apps/train_options.h"
#include "graph/check.h"
#include "io/output_files.h"
#include "train/communicator.h"

namespace unroll::cli {

namespace {

RunConfig run_config_from(const TrainOptions& o) {
  RunConfig r;
  r.auto_budget = o.auto_budget;
  r.auto_history = o.auto_history;
  DataConfig& d = r.data;
  d.dataset = o.data_file.empty() ? o.dataset : "csv";
  d.file = o.data_file;
  d.column = o.column;
  d.length = o.length;
  d.noise = o.noise;
  d.data_seed = o.data_seed;
  d.history = o.history;
  d.horizon = o.horizon;
  d.scaler = o.scaler;
  d.train_fraction = o.train_fraction;
  d.validation_fraction = o.val_fraction;
  d.period = o.period;
  RecurrentConfig& rc = r.model.net.recurrent;
  rc.cell = cell_name(o.model);
  if (!o.cell_file.empty()) use_cell_file(rc, o.cell_file);
  rc.input_size = 1;
  rc.hidden_size = o.hidden;
  rc.layers = o.layers;
  rc.dropout = o.dropout;
  r.model.net.output_size = 1;
  r.model.net.head = "last";
  r.model.history = o.history;
  r.model.residual = o.residual;
  r.model.highway = o.highway;
  r.model.despike_sigmas = o.despike;
  TrainerConfig& t = r.trainer;
  t.epochs = o.epochs;
  t.batch_size = o.batch;
  t.seed = o.seed;
  t.patience = o.patience;
  t.detect_anomaly = o.detect_anomaly;
  t.keep_last = o.keep_last;
  t.loss = o.loss;
  t.huber_delta = o.huber_delta;
  t.optimizer.kind = o.optimizer;
  t.optimizer.lr = o.lr;
  t.optimizer.weight_decay = o.weight_decay;
  t.optimizer.clip_norm = o.clip;
  t.optimizer.momentum = o.momentum;
  t.optimizer.nesterov = o.nesterov;
  t.schedule.kind = o.schedule;
  t.decay_epochs = o.decay_epochs;
  t.schedule.warmup_steps = o.warmup;
  t.schedule.step_size = o.step_size;
  t.schedule.gamma = o.gamma;
  return r;
}

// --resume FILE continues in FILE's folder, whose checkpoint.h5 it will overwrite: refuse when that is a
// newer state than FILE (e.g. --resume DIR/best.h5 with training gone on since), which would silently
// rewind the run. A checkpoint.h5 that does not load does not stop the resume (it is what gets replaced).
void check_resume_does_not_rewind(const std::string& resume, const Checkpoint& from, const std::string& out_dir) {
  namespace fs = std::filesystem;
  const fs::path last = fs::path(out_dir) / "checkpoint.h5";
  std::error_code ec;
  if (!fs::exists(last, ec) || fs::equivalent(last, resume, ec)) return;
  int64_t last_step = -1;
  try {
    last_step = load_checkpoint(last.string()).progress.step;
  } catch (const Error&) {
    return;
  }
  UNROLL_CHECK(last_step <= from.progress.step, UsageError,
               "train: --resume {} (step {}) would overwrite the newer {} (step {}) and rewind the run (hint: resume "
               "from {}, or copy {} into a new folder and resume it there)",
               resume, from.progress.step, last.string(), last_step, last.string(), resume);
}

int run_train(TrainOptions& o, CLI::App* sub) {
  namespace fs = std::filesystem;
  if (!o.resume.empty() && is_ensemble_folder(o.resume)) {
    for (const char* flag : {"--epochs", "--patience", "--detect-anomaly", "--data"})
      UNROLL_CHECK(sub->count(flag) == 0, UsageError, "train: --resume of an ensemble folder takes no {} (its members' "
                   "settings are fixed; resume a member with --resume DIR/members/seed_N/checkpoint.h5)", flag);
    return resume_ensemble(o.resume, o.quiet);
  }
  if (sub->count("--ensemble") > 0) return run_ensemble(ensemble_member_args(*sub), o.ensemble, o.seed, o.out, o.overwrite, o.quiet);
  const std::unique_ptr<Communicator> comm = world_communicator();
  const bool lead = comm->rank() == 0;  // the only rank that writes files or prints
  if (!lead) o.quiet = o.no_plot = true;
  RunConfig run;
  std::unique_ptr<Checkpoint> resume_from;
  std::string out_dir = o.out, data_note;
  if (!o.resume.empty()) {
    resume_from = std::make_unique<Checkpoint>(load_checkpoint(o.resume));
    UNROLL_CHECK(resume_from->extra.is_object() && resume_from->extra.contains("run"), DataError,
                 "{}: the checkpoint has no run configuration (hint: --resume takes a checkpoint.h5 written by "
                 "`unroll train`)",
                 o.resume);
    run = RunConfig::from_json(resume_from->extra["run"]);
    data_note = locate_data_file(run.data, o.resume, o.data_file);
    if (sub->count("--epochs") > 0) run.trainer.epochs = o.epochs;
    if (sub->count("--detect-anomaly") > 0) run.trainer.detect_anomaly = true;
    if (sub->count("--patience") > 0) run.trainer.patience = o.patience;
    out_dir = fs::path(o.resume).parent_path().string();
    if (out_dir.empty()) out_dir = ".";
  } else {
    run = run_config_from(with_dataset_defaults(o, [&](const char* flag) { return sub->count(flag) > 0; }));
  }
  run.validate();
  check_memory(run, "train");
  // The folder is checked (creatable, a writable folder) and locked before any data is read or any step
  // trained; the lock holds until this function returns (or the process dies).
  std::unique_ptr<OutputFolder> folder;
  if (lead) {
    folder = std::make_unique<OutputFolder>(out_dir, resume_from ? "--resume's folder" : "--out");
    if (resume_from) {
      check_resume_does_not_rewind(o.resume, *resume_from, out_dir);
      remove_files(out_dir, kDerivedRunFiles);  // they describe the state before this continuation
    } else {
      clear_earlier_outputs(out_dir, existing_run_files(out_dir), o.overwrite, "train", "--out",
                            fmt::format("--resume {}/checkpoint.h5 continues it; ", out_dir));
    }
    run.trainer.out_dir = out_dir;
  }

  const std::string data_dir = o.data_dir.empty() ? default_data_dir() : o.data_dir;
  if (!resume_from) choose_history(run, data_dir);
  const LoadedData loaded = load_data(run.data, data_dir);
  choose_period(run, loaded);  // before the Trainer copies the run config
  const PreparedData& data = loaded.data;
  if (!data_note.empty() && lead) std::cerr << "unroll train: note: " << data_note << "\n";  // once the data is accepted
  if (!resume_from) {  // once; then part of the config and the checkpoint
    fit_despike_threshold(run, data);
    fit_training_budget(run, data);
    pin_data_file(run.data, loaded);
  }
  const int64_t decay = run.trainer.cosine_epochs();
  if (lead && run.trainer.schedule.kind == "cosine" && run.trainer.epochs > decay && run.trainer.schedule.min_lr == 0)
    std::cerr << fmt::format("unroll train: note: the cosine schedule reaches learning rate 0 after epoch {} "
                             "(its horizon, --decay-epochs {}) and continues at that final rate, so {} will not "
                             "change the weights (hint: start the run with --epochs {})\n",
                             decay, decay,
                             run.trainer.epochs == decay + 1 ? fmt::format("epoch {}", decay + 1)
                                                             : fmt::format("epochs {}-{}", decay + 1, run.trainer.epochs),
                             run.trainer.epochs);
  Rng init_rng(run.trainer.seed);
  auto model = std::make_unique<ForecastModel>(run.model, init_rng);
  if (run.model.highway && !resume_from) {
    const LinearAR ar = fit_ar_for_highway(data.scaled, data.train);
    model->init_from_ar(ar.weights, ar.intercept);
  }
  Trainer trainer(*model, data, run.trainer, run.to_json());
  if (resume_from) trainer.resume(*resume_from);
  trainer.set_communicator(comm.get());

  const int64_t steps_per_epoch = (data.train.size() + run.trainer.batch_size - 1) / run.trainer.batch_size;
  if (!o.quiet) {
    std::cout << fmt::format("unroll train: {} ({} values; windows train {}, validation {}, test {}), {} x{} hidden {}, "
                             "{} parameters, history {}, horizon {}, {} lr {} ({}), {} loss, {} epochs x {} steps, out {}\n",
                             run.data.dataset == "csv" ? run.data.file + ":" + run.data.column : run.data.dataset,
                             data.series.size(), data.train.size(), data.validation.size(), data.test.size(),
                             model_label(run.model), run.model.net.recurrent.layers, run.model.net.recurrent.hidden_size,
                             model->parameter_count(), run.data.history, run.data.horizon, run.trainer.optimizer.kind,
                             run.trainer.optimizer.lr,
                             run.trainer.schedule.kind == "cosine"
                                 ? fmt::format("cosine to 0 over {} epochs", run.trainer.cosine_epochs())
                                 : run.trainer.schedule.kind,
                             run.trainer.loss == "huber" ? fmt::format("huber (delta {})", run.trainer.huber_delta)
                                                         : std::string("mse"),
                             run.trainer.epochs, steps_per_epoch, out_dir);
    if (run.choices.contains("history")) std::cout << "inputs: " << run.choices["history"]["why"].get<std::string>() << "\n";
    if (run.choices.contains("period")) std::cout << "baselines: " << run.choices["period"]["why"].get<std::string>() << "\n";
    if (run.choices.contains("budget")) std::cout << "budget: " << run.choices["budget"]["why"].get<std::string>() << "\n";
    if (run.model.despike > 0)
      std::cout << fmt::format("robust inputs: spikes beyond {} robust standard deviations of the training split's one-step "
                               "changes ({:.6g} scaled) are replaced by their 3-point median (--despike 0 switches this off)\n",
                               run.model.despike_sigmas, run.model.despike);
    if (comm->size() > 1)
      std::cout << fmt::format("data parallel: {}, each takes {}-{} rows of every batch of {}\n", comm->describe(),
                               run.trainer.batch_size / comm->size(),
                               (run.trainer.batch_size + comm->size() - 1) / comm->size(), run.trainer.batch_size);
    if (resume_from)
      std::cout << fmt::format("resuming from {} at epoch {}, step {}\n", o.resume, trainer.progress().epoch + 1,
                               trainer.progress().step);
  }

  install_stop_handlers();
  Progress progress(o.quiet, trainer.progress().step);
  TrainerHooks hooks;
  hooks.stop_flag = stop_flag();
  // A failed write to standard output (the reader of a pipe went away: `unroll train | head -1`) stops
  // training like a signal: checkpoint saved, one line, exit 128 + SIGPIPE.
  hooks.on_step = [&](const StepInfo& s) {
    progress.step(s);
    if (stdout_failed() && stop_signal() == 0) request_stop(SIGPIPE);
  };
  hooks.on_epoch = [&](const EpochInfo& e) {
    progress.epoch(e, steps_per_epoch);
    if (stdout_failed() && stop_signal() == 0) request_stop(SIGPIPE);
  };
  const TrainResult result = trainer.fit(hooks);
  const double training_seconds = progress.seconds();
  // The handlers stay until the report is written: a signal after training finished (checkpoint.h5 and
  // best.h5 are complete) stops before the next stage with the same one-line message shape, and resuming
  // the finished run only evaluates and writes the report.
  // Returns the exit code (128 + signal) once a signal came, else 0.
  const auto stopped_after_training = [&] {
    const int sig = static_cast<int>(comm->agree(stop_signal()));  // every rank stops at the same stage
    if (sig == 0 || sig == SIGPIPE) return 0;  // training finished: write the files; run_main reports stdout
    comm->finish();
    if (!lead) return 128 + sig;
    const std::string checkpoint = (fs::path(out_dir) / "checkpoint.h5").string();
    std::cout << std::flush;
    std::cerr << fmt::format("unroll: stopped by {} after training finished; saved {}, the report was not written "
                             "(resume with: unroll train --resume {})\n",
                             stop_signal_name(sig), checkpoint, checkpoint);
    return 128 + sig;
  };

  if (result.status != TrainStatus::completed && result.status != TrainStatus::early_stopped) comm->finish();
  const int stopped_by = result.stop_value != 0 ? result.stop_value : stop_signal();
  if (!lead && result.status == TrainStatus::interrupted) return 128 + (stopped_by != 0 ? stopped_by : SIGINT);
  if (!lead && result.status == TrainStatus::diverged) return kExitFailedCheck;
  if (result.status == TrainStatus::interrupted) {
    std::cout << std::flush;
    std::cerr << "unroll: " << (stopped_by == SIGPIPE ? "standard output was closed (broken pipe); " : "")
              << result.message << "\n";
    return 128 + (stopped_by != 0 ? stopped_by : SIGINT);
  }
  if (result.status == TrainStatus::diverged) {
    std::cout << std::flush;
    std::cerr << "unroll: " << result.message << "\n";
    return kExitFailedCheck;
  }
  if (!o.quiet) std::cout << stop_reason(run, result) << "\n";

  // Evaluate the best validation state on the test split.
  if (const int code = stopped_after_training()) return code;
  const fs::path best = fs::path(out_dir) / "best.h5";
  if (lead && fs::exists(best)) load_parameters(*model, load_checkpoint(best.string()));
  broadcast_parameters(*model, *comm);  // best.h5 is rank 0's file
  const Evaluation e = evaluate(trainer, data, data.test, loaded.seasonal_period);
  if (const int code = stopped_after_training()) return code;
  nlohmann::json report = metrics_json(e);
  if (!data.validation.empty()) {
    // The same metrics on the validation split (what settings are chosen on; the test split is only reported).
    const Evaluation v = evaluate(trainer, data, data.validation, loaded.seasonal_period);
    if (const int code = stopped_after_training()) return code;
    report["validation"] = {{"rmse", v.rmse}, {"mae", v.mae}, {"windows", v.prediction.size()},
                            {"baselines", v.baselines.to_json()}};
  }
  if (!lead) {
    comm->finish();
    return kExitOk;
  }
  report["scaler"] = data.scaler.to_json();
  report["config"] = run.to_json();
  report["data"] = {{"source", loaded.source},
                    {"values", data.series.size()},
                    {"split", data.split.to_json()},
                    {"windows", {{"train", data.train.size()}, {"validation", data.validation.size()}, {"test", data.test.size()}}}};
  report["parameters"] = model->parameter_count();
  report["epochs_run"] = result.epochs_run;
  report["steps"] = result.global_step;
  report["status"] = train_status_name(result.status);
  report["best_epoch"] = result.best_epoch;
  report["best_val_loss"] = std::isfinite(result.best_val_loss) ? nlohmann::json(result.best_val_loss) : nlohmann::json();
  report["training_seconds"] = training_seconds;
  report["resumed"] = resume_from != nullptr;
  report["history"] = result.history;
  report["saturation"] = saturation_json(*model, run, data, 256);  // gates of the best state on test windows
  write_file_atomically((fs::path(out_dir) / "report.json").string(), report.dump(2) + "\n");
  write_forecast_csv((fs::path(out_dir) / "forecast.csv").string(), e, data.scaler);
  std::string plot_note;
  if (!o.no_plot) plot_note = make_plots(out_dir, result.history);
  restore_default_stop_handlers();
  comm->finish();
  if (!o.quiet) {
    std::cout << fmt::format("\ndone: {} epochs in {:.1f} s; best validation loss {:.6g} at epoch {}\n",
                             result.epochs_run, training_seconds, result.best_val_loss, result.best_epoch)
              << comparison_table(e, model_label(run.model), run.data.history)
              << fmt::format("wrote {0}/checkpoint.h5, {0}/best.h5, {0}/report.json, {0}/forecast.csv{1}\n", out_dir,
                             o.no_plot || !plot_note.empty() ? "" : ", loss.png, forecast.png");
    if (!plot_note.empty()) std::cout << "plots skipped: " << plot_note << "\n";
  }
  return kExitOk;
}

}  // namespace

void register_train_command(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* sub = app.add_subcommand("train", "train a forecaster (defaults: LSTM 128, history 16, horizon 1, Adam, magnet)");
  sub->add_option("--dataset", o->dataset, "built-in data")->check(one_of({"magnet", "nottem"}))->capture_default_str();
  auto* data_opt = sub->add_option("--data", o->data_file,
                                   "a CSV file with a header (instead of --dataset); with --resume: where the run's "
                                   "CSV is now (it must be the same file: size and hash are checked)");
  sub->add_option("--column", o->column, "the CSV column to forecast")->needs(data_opt);
  data_opt->excludes("--dataset");
  sub->add_option("--data-dir", o->data_dir, "where nottem.csv is (default: $UNROLL_DATA_DIR, the installed share/unroll or the source data/)");
  sub->add_option("--length", o->length, "magnet: number of samples (default: the generator's 30000)")->check(integer_in(0, 100000000));
  sub->add_option("--noise", o->noise, "magnet: white-noise standard deviation in volts")->check(number_at_least(0));
  sub->add_option("--data-seed", o->data_seed, "magnet: generator seed")->check(unsigned_in(0))->capture_default_str();
  sub->add_option("--scaler", o->scaler, "min_max | z_score | none (fitted on the training split)")->capture_default_str();
  sub->add_option("--train-fraction", o->train_fraction, "CSV data: training fraction")->check(number_in(0, 1, true, true))->capture_default_str();
  sub->add_option("--val-fraction", o->val_fraction, "CSV data: validation fraction")->check(number_in(0, 1, false, true))->capture_default_str();
  sub->add_option("--model", o->model, "rnn | lstm | gru | gru_lbr (or any registered cell)")->capture_default_str();
  sub->add_option("--cell-file", o->cell_file, "a cell written as equations (docs/cells.md) instead of --model; the "
                  "checkpoints keep its text")->excludes("--model");
  sub->add_option("--hidden", o->hidden, "hidden units per layer")->check(integer_in(1, 65536))->capture_default_str();
  sub->add_option("--layers", o->layers, "stacked layers")->check(integer_in(1, 64))->capture_default_str();
  sub->add_option("--dropout", o->dropout, "dropout between layers")->check(number_in(0, 0.99))->capture_default_str();
  sub->add_option("--residual", o->residual,
                  "predict the change from the last input (skip connection input -> output); false = the plain "
                  "network")->check(true_or_false())->capture_default_str();
  sub->add_option("--highway", o->highway,
                  "add a linear autoregression over the window (LSTNet's AR component), started at the least-squares AR fit "
                  "on the training windows and trained jointly with the network (default: true for CSV data, false for magnet and nottem)")
      ->check(true_or_false())->capture_default_str();
  sub->add_option("--despike", o->despike,
                  "robust inputs: replace an input that differs from the median of its 3-point neighbourhood in the "
                  "window by more than K robust standard deviations of the training split's one-step changes by that "
                  "median (isolated spikes; 0 = off; default 20 on magnet with history >= 3, else 0)")
      ->check(number_at_least(0))
      ->capture_default_str();
  sub->add_option("--history", o->history, "input steps per window (CSV data without --history: the AR order with the best validation RMSE, clamped to [8, 32])")->check(integer_in(1, 100000))->capture_default_str();
  sub->add_option("--period", o->period, "the seasonal-naive baseline's period (default: nottem 12; else detected on the training split)")->check(integer_in(1, 100000));
  sub->add_option("--horizon", o->horizon, "predict this many steps after the last input")->check(integer_in(1, 100000))->capture_default_str();
  sub->add_option("--epochs", o->epochs, "total epochs; also the cosine's horizon unless --decay-epochs is given (a resumed run counts from its start and keeps "
                  "its horizon: beyond it training continues at the final learning rate). Default: magnet 16, nottem 200; CSV "
                  "data: until the validation loss stops improving, capped at 20 epochs' steps (at least 4000, at most 20000)")->check(integer_in(0, 1000000))->capture_default_str();
  sub->add_option("--batch", o->batch, "batch size")->check(integer_in(1, 1000000))->capture_default_str();
  sub->add_option("--lr", o->lr, "learning rate")->check(number_at_least(0))->capture_default_str();
  sub->add_option("--loss", o->loss,
                  "training loss: mse | huber (robust to isolated outliers in the targets; validation, best.h5 and "
                  "the report stay MSE/RMSE)")
      ->check(one_of({"mse", "huber"}))
      ->capture_default_str();
  sub->add_option("--huber-delta", o->huber_delta, "huber: quadratic within +-delta of the target (scaled units)")
      ->check(number_at_least(0, true))->capture_default_str();
  sub->add_option("--optimizer", o->optimizer, "adam | sgd | rmsprop")->check(one_of({"adam", "sgd", "rmsprop"}))->capture_default_str();
  sub->add_option("--momentum", o->momentum, "sgd/rmsprop momentum")->check(number_in(0, 1, false, true))->capture_default_str();
  sub->add_flag("--nesterov", o->nesterov, "sgd: Nesterov momentum");
  sub->add_option("--weight-decay", o->weight_decay, "L2 weight decay")->check(number_at_least(0))->capture_default_str();
  sub->add_option("--clip", o->clip, "clip the global gradient norm to this (0 = off)")->check(number_at_least(0))->capture_default_str();
  sub->add_option("--schedule", o->schedule, "constant | step | cosine")->check(one_of({"constant", "step", "cosine"}))->capture_default_str();
  sub->add_option("--decay-epochs", o->decay_epochs,
                  "cosine: epochs until the learning rate reaches 0 (then it stays there); default: --epochs. Stored in "
                  "the checkpoint: `--resume --epochs E2` beyond it continues at the final rate, bit-identical to a "
                  "straight run with --epochs E2 and this --decay-epochs")
      ->check(integer_in(1, 1000000))
      ->capture_default_str();
  sub->add_option("--warmup", o->warmup, "linear warm-up steps")->check(integer_in(0, 1000000000))->capture_default_str();
  sub->add_option("--step-size", o->step_size, "step schedule: steps between decays")->check(integer_in(1, 1000000000))->capture_default_str();
  sub->add_option("--gamma", o->gamma, "step schedule: decay factor")->check(number_at_least(0, true))->capture_default_str();
  sub->add_option("--patience", o->patience, "early stopping: epochs without a better validation loss (0 = off)")->check(integer_in(0, 1000000))->capture_default_str();
  sub->add_option("--seed", o->seed, "seed for initialisation, shuffling and dropout")->check(unsigned_in(0))->capture_default_str();
  sub->add_option("--keep-last", o->keep_last, "keep this many older checkpoint.h5 files (.1, .2, ...)")->check(integer_in(0, 1000));
  sub->add_option("--out", o->out, "output folder")->capture_default_str();
  sub->add_option("--resume", o->resume, "continue the run saved in this checkpoint.h5 (in its folder), or the ensemble in this folder");
  sub->add_option("--ensemble", o->ensemble, "train K members with seeds --seed, --seed+1, ..., each a full run in "
                  "OUT/members/seed_N; OUT/forecast.csv is the mean of their forecasts")->check(integer_in(1, kMaxEnsemble));
  sub->add_flag("--overwrite", o->overwrite,
                "a new run into an --out folder holding an earlier run's files removes them first (else refused)");
  sub->add_flag("--detect-anomaly", o->detect_anomaly, "check every recorded op for NaN/Inf and name the first");
  sub->add_flag("--quiet", o->quiet, "no progress or table");
  sub->add_flag("--no-plot", o->no_plot, "skip the PNG plots");
  table.push_back({sub,
                   [o, sub] {
                     if (!o->resume.empty()) {
                       for (const char* fixed : {"--dataset", "--column", "--length", "--noise", "--data-seed",
                                                 "--scaler", "--train-fraction", "--val-fraction", "--model", "--cell-file", "--hidden",
                                                 "--layers", "--dropout", "--residual", "--highway", "--despike", "--history", "--period", "--horizon", "--batch", "--lr", "--loss", "--huber-delta",
                                                 "--optimizer", "--momentum", "--nesterov", "--weight-decay", "--clip",
                                                 "--schedule", "--decay-epochs", "--warmup", "--step-size", "--gamma", "--seed", "--out", "--overwrite", "--ensemble"})
                         UNROLL_CHECK(sub->count(fixed) == 0, UsageError,
                                      "train: {} cannot be combined with --resume (the run's settings come from the "
                                      "checkpoint; only --epochs, --patience and --detect-anomaly may change, and --data "
                                      "may point at the run's moved CSV)",
                                      fixed);
                       return;
                     }
                     UNROLL_CHECK(o->data_file.empty() == o->column.empty(), UsageError,
                                  "train: --data FILE.csv and --column NAME go together");
                     TrainOptions no_file = *o;  // touches no file: run_train reads a --cell-file
                     no_file.cell_file.clear();
                     run_config_from(no_file).validate();
                   },
                   [o, sub] { return run_train(*o, sub); }});
}

}  // namespace unroll::cli
