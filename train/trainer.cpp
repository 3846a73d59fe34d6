// SPDX-License-Identifier: Apache-2.0
// What lives here: the Trainer loop (see trainer.h), its config JSON, and checkpoint assembly/restore.
#include "train/trainer.h"

#include <cmath>
#include <filesystem>
#include <limits>

#include "autodiff/backward.h"
#include "graph/check.h"
#include "graph/json_fields.h"
#include "ops/ops.h"
#include "train/data_parallel.h"
#include "train/huber_loss.h"

namespace unroll {

namespace {

constexpr uint64_t kDropoutStream = 0x6472'6f70'6f75'7421ULL;  // keeps dropout draws apart from shuffling
const double kNaN = std::numeric_limits<double>::quiet_NaN();

DType model_dtype(ForecastModel& model) {
  const auto params = model.parameters();
  return params.empty() ? DType::f32 : params.front()->value.dtype();
}

std::string fmt_loss(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : fmt::format("{}", v); }

}  // namespace

const char* train_status_name(TrainStatus s) {
  switch (s) {
    case TrainStatus::completed: return "completed";
    case TrainStatus::early_stopped: return "early_stopped";
    case TrainStatus::interrupted: return "interrupted";
    case TrainStatus::diverged: return "diverged";
  }
  return "?";
}

nlohmann::json TrainerConfig::to_json() const {
  return {{"epochs", epochs},       {"batch_size", batch_size},       {"seed", seed},
          {"optimizer", optimizer.to_json()}, {"schedule", schedule.to_json()}, {"patience", patience},
          {"detect_anomaly", detect_anomaly}, {"keep_last", keep_last}, {"loss", loss}, {"huber_delta", huber_delta},
          {"decay_epochs", decay_epochs}};
}

TrainerConfig TrainerConfig::from_json(const nlohmann::json& j) {
  const JsonFields f(j, "trainer config",
                     {"epochs", "batch_size", "seed", "optimizer", "schedule", "patience", "detect_anomaly", "keep_last",
                      "loss", "huber_delta", "decay_epochs"});
  TrainerConfig c;
  f.read_at_least<int64_t>("epochs", c.epochs, 0);
  f.read_at_least<int64_t>("batch_size", c.batch_size, 1);
  f.read_at_least<int64_t>("patience", c.patience, 0);
  f.read_at_least<int64_t>("decay_epochs", c.decay_epochs, 0);
  f.read("seed", c.seed);
  if (f.has("optimizer")) c.optimizer = OptimizerConfig::from_json(j["optimizer"]);
  if (f.has("schedule")) c.schedule = ScheduleConfig::from_json(j["schedule"]);
  f.read("detect_anomaly", c.detect_anomaly);
  f.read("loss", c.loss);  // absent in checkpoints written before the option: mse
  f.read("huber_delta", c.huber_delta);
  c.validate_loss();
  f.read_at_least("keep_last", c.keep_last, 0);
  return c;
}

void TrainerConfig::validate_loss() const {
  UNROLL_CHECK(loss == "mse" || loss == "huber", UsageError, "trainer: unknown loss '{}' (hint: use mse or huber)",
               loss);
  UNROLL_CHECK(std::isfinite(huber_delta) && huber_delta > 0, UsageError,
               "trainer: the Huber delta must be a positive finite number, got {} (hint: it is in scaled units, e.g. "
               "0.02)",
               huber_delta);
}

Trainer::Trainer(ForecastModel& model, const PreparedData& data, TrainerConfig config, nlohmann::json run_config)
    : model_(model),
      data_(data),
      config_(std::move(config)),
      run_config_(std::move(run_config)),
      optimizer_(model.named_parameters(), config_.optimizer),
      rng_(config_.seed ^ kDropoutStream) {
  // Training reads only the parameters' gradients: intermediate ones are released (and views share their
  // input's: Note [Gradient views]), which changes no value.
  tape_.set_release_grads(true);
  UNROLL_CHECK(config_.batch_size > 0, UsageError, "trainer: batch size must be positive, got {}", config_.batch_size);
  UNROLL_CHECK(config_.epochs >= 0, UsageError, "trainer: epochs must be >= 0, got {}", config_.epochs);
  config_.validate_loss();
  UNROLL_CHECK(!data_.train.empty(), DataError,
               "trainer: the training split has no window (hint: use a longer series or a shorter --history/--horizon)");
  progress_.shuffle_seed = config_.seed;
  progress_.history = nlohmann::json::array();
  // Resolve the schedule now (base lr, cosine length) so a resumed run keeps the original one.
  ScheduleConfig s = config_.schedule;
  s.base_lr = config_.optimizer.lr;
  if (s.kind == "cosine") {
    const int64_t per_epoch = (data_.train.size() + config_.batch_size - 1) / config_.batch_size;
    s.total_steps = std::max<int64_t>(1, per_epoch * std::max<int64_t>(config_.cosine_epochs(), 1) - s.warmup_steps);
  }
  const Schedule check(s);
  progress_.schedule = check.state(0);
}

Checkpoint Trainer::checkpoint() const {
  Checkpoint c = module_checkpoint(model_, model_.config().to_json());
  c.optimizer = optimizer_.export_state();
  c.has_optimizer = true;
  c.rng = rng_.state();
  c.has_rng = true;
  c.progress = progress_;
  c.progress.schedule["step"] = optimizer_.steps_taken();
  c.scaler = data_.scaler.to_json();
  c.extra = {{"run", run_config_},
             {"trainer", config_.to_json()},
             {"partial_epoch", {{"loss_sum", partial_loss_sum_}, {"batches", partial_loss_count_}}}};
  return c;
}

void Trainer::resume(const Checkpoint& ckpt) {
  const nlohmann::json expected = model_.config().to_json();
  load_parameters(model_, ckpt, &expected);
  UNROLL_CHECK(ckpt.has_optimizer, IoError,
               "resume: the checkpoint has no optimizer state (hint: it was saved as a model only; start a new run "
               "and load its weights instead)");
  optimizer_.import_state(ckpt.optimizer);
  if (ckpt.has_rng) rng_.set_state(ckpt.rng);
  progress_ = ckpt.progress;
  if (!progress_.history.is_array()) progress_.history = nlohmann::json::array();
  UNROLL_CHECK(progress_.schedule.is_object() && progress_.schedule.contains("config"), IoError,
               "resume: the checkpoint's progress has no learning-rate schedule (found {})", progress_.schedule.dump());
  ScheduleConfig::from_json(progress_.schedule["config"]);  // validates
  partial_loss_sum_ = 0;
  partial_loss_count_ = 0;
  checkpoint_on_disk_ = true;
  if (ckpt.extra.is_object() && ckpt.extra.contains("partial_epoch")) {
    const JsonFields p(ckpt.extra["partial_epoch"], "checkpoint /extra partial_epoch", {"loss_sum", "batches"});
    p.read("loss_sum", partial_loss_sum_);
    p.read_at_least("batches", partial_loss_count_, int64_t{0});
  }
}

void Trainer::save(const std::string& file, const Checkpoint& ckpt, bool rotate) {
  if (config_.out_dir.empty()) return;
  std::filesystem::create_directories(config_.out_dir);
  SaveOptions options;
  if (rotate) options.keep_last = config_.keep_last;
  save_checkpoint((std::filesystem::path(config_.out_dir) / file).string(), ckpt, options);
  if (file == "checkpoint.h5") checkpoint_on_disk_ = true;
}

double Trainer::best_val_from_history(int64_t* best_epoch, int64_t* since_best) const {
  double best = kNaN;
  *best_epoch = 0;
  *since_best = 0;
  for (const auto& h : progress_.history) {
    const auto val = h.find("val_loss"), train = h.find("train_loss");
    const auto score = val != h.end() && val->is_number() ? val : train;
    const double v = score != h.end() && score->is_number() ? score->get<double>() : kNaN;  // null: a NaN loss
    if (std::isfinite(v) && (!std::isfinite(best) || v < best)) {
      best = v;
      *best_epoch = h.value("epoch", int64_t{0});
      *since_best = 0;
    } else {
      ++*since_best;
    }
  }
  return best;
}

std::vector<double> Trainer::predict(const WindowSet& windows) {
  const bool distributed = comm_ != nullptr && comm_->size() > 1;
  const Share share = distributed ? rank_share(windows.size(), comm_->rank(), comm_->size()) : Share{0, windows.size()};
  std::vector<double> out;
  out.reserve(static_cast<size_t>(share.size()));
  const bool was_training = model_.training();
  model_.eval();
  const DType dtype = model_dtype(model_);
  const int64_t chunk = 512;
  std::vector<int64_t> idx;
  for (int64_t begin = share.begin; begin < share.end; begin += chunk) {
    idx.clear();
    for (int64_t k = begin; k < std::min(share.end, begin + chunk); ++k) idx.push_back(k);
    const Batch b = make_batch(data_.scaled, windows, idx, dtype);
    tape_.reset();
    NoGradGuard no_grad(tape_);
    const Var pred = model_.forward(tape_, tape_.constant(b.x), nullptr);
    for (int64_t i = 0; i < pred.value().numel(); ++i) out.push_back(pred.value().at(i));
  }
  tape_.reset();
  model_.train(was_training);
  if (!distributed) return out;
  const int64_t width = comm_->allreduce_max(share.size() > 0 ? static_cast<int64_t>(out.size()) / share.size() : 0);
  return gather_rows(*comm_, out, windows.size(), width);
}

double Trainer::evaluate_mse(const WindowSet& windows) {
  if (windows.empty()) return kNaN;
  const std::vector<double> p = predict(windows), t = window_targets(data_.scaled, windows);
  double s = 0;
  for (size_t i = 0; i < p.size(); ++i) s += (p[i] - t[i]) * (p[i] - t[i]);
  return s / static_cast<double>(p.size());
}

TrainResult Trainer::fit(const TrainerHooks& hooks) {
  const Schedule schedule(ScheduleConfig::from_json(progress_.schedule["config"]));
  BatchStream stream(data_.scaled, data_.train, config_.batch_size, /*shuffle=*/true, progress_.shuffle_seed,
                     model_dtype(model_));
  tape_.set_anomaly_detection(config_.detect_anomaly);
  const bool distributed = comm_ != nullptr && comm_->size() > 1;
  // The stop flag's value, agreed over the ranks when distributed (every rank calls this at the same points).
  const auto stop_value = [&] {
    const int local = hooks.stop_flag != nullptr ? static_cast<int>(*hooks.stop_flag) : 0;
    return distributed ? static_cast<int>(comm_->agree(local)) : local;
  };
  const std::string last_file =
      config_.out_dir.empty() ? "" : (std::filesystem::path(config_.out_dir) / "checkpoint.h5").string();

  TrainResult result;
  int64_t best_epoch = 0, since_best = 0;
  double best = best_val_from_history(&best_epoch, &since_best);
  auto finish = [&](TrainStatus status, std::string message) {
    result.status = status;
    result.message = std::move(message);
    result.epochs_run = progress_.epoch;
    result.global_step = progress_.step;
    result.best_val_loss = best;
    result.best_epoch = best_epoch;
    result.history = progress_.history;
    return result;
  };
  if (config_.patience > 0 && progress_.epoch > 0 && since_best >= config_.patience)
    return finish(TrainStatus::early_stopped,
                  fmt::format("early stopping: no better validation loss for {} epochs (best {} at epoch {})",
                              since_best, fmt_loss(best), best_epoch));

  model_.train();
  Batch batch, share;
  for (int64_t epoch = progress_.epoch; epoch < config_.epochs; ++epoch) {
    stream.seek({epoch, progress_.data_cursor});
    const int64_t per_epoch = stream.batches_per_epoch();
    int64_t step_in_epoch = (progress_.data_cursor + config_.batch_size - 1) / config_.batch_size;
    double lr = schedule.lr(optimizer_.steps_taken() + 1);
    while (stream.next(batch)) {
      ++step_in_epoch;
      tape_.reset();
      double loss_value = kNaN;
      std::string anomaly;
      // Note [Data parallel]: this rank's rows of the global batch, and their weight in its mean loss.
      if (distributed) share = batch_rows(batch, rank_share(batch.size(), comm_->rank(), comm_->size()));
      const Batch& mine = distributed ? share : batch;
      const double weight = static_cast<double>(mine.size()) / static_cast<double>(batch.size());
      try {
        if (mine.size() > 0) {
          const Var x = tape_.constant(mine.x), y = tape_.constant(mine.y);
          const Var pred = model_.forward(tape_, x, &rng_);
          const Var loss = config_.loss == "huber" ? huber_loss(pred, y, config_.huber_delta) : mse(pred, y);
          loss_value = loss.item();
          if (std::isfinite(loss_value)) {
            model_.zero_grad();
            backward(loss);
          }
        } else {  // a rank without rows adds zeros
          loss_value = 0;
          model_.zero_grad();
        }
      } catch (const NumericError& e) {
        anomaly = e.what();
      }
      if (distributed) {  // the global batch's loss; NaN when any rank's is not finite
        double global[1] = {anomaly.empty() ? loss_value * weight : kNaN};
        comm_->allreduce_sum(std::span<double>(global));
        loss_value = global[0];
        if (std::isfinite(loss_value)) allreduce_gradients(model_, *comm_, weight);
      }
      if (!anomaly.empty() || !std::isfinite(loss_value)) {
        const std::string where = fmt::format("epoch {}, step {} of {} (global step {})", epoch + 1, step_in_epoch,
                                              per_epoch, progress_.step + 1);
        const std::string kept =
            last_file.empty() || !checkpoint_on_disk_
                ? std::string("no checkpoint was written")
                : fmt::format("the last good checkpoint {} is kept", last_file);
        if (!anomaly.empty())
          return finish(TrainStatus::diverged, fmt::format("training stopped at {}: {}; {}", where, anomaly, kept));
        return finish(TrainStatus::diverged,
                      fmt::format("training stopped at {}: the loss is {}; {} (hint: start a new run with a lower "
                                  "--lr or a --clip, or find the op with --detect-anomaly)",
                                  where, std::isnan(loss_value) ? std::string("nan") : fmt::format("{}", loss_value),
                                  kept));  // a NaN's sign bit depends on the kernels: always "nan"
      }
      lr = schedule.lr(optimizer_.steps_taken() + 1);
      optimizer_.step(lr);
      ++progress_.step;
      progress_.data_cursor = stream.cursor().position;
      partial_loss_sum_ += loss_value;
      ++partial_loss_count_;
      if (hooks.on_step)
        hooks.on_step({epoch + 1, config_.epochs, step_in_epoch, per_epoch, progress_.step, loss_value,
                       partial_loss_sum_ / static_cast<double>(partial_loss_count_), lr});
      if (const int stop = stop_value(); stop != 0) {
        result.stop_value = stop;
        progress_.epoch = epoch;
        save("checkpoint.h5", checkpoint(), true);
        return finish(TrainStatus::interrupted,
                      last_file.empty()
                          ? fmt::format("interrupted at epoch {}, step {} of {}", epoch + 1, step_in_epoch, per_epoch)
                          : fmt::format("interrupted at epoch {}, step {} of {}; saved {} (resume with: unroll train "
                                        "--resume {})",
                                        epoch + 1, step_in_epoch, per_epoch, last_file, last_file));
      }
    }
    const double train_loss =
        partial_loss_count_ > 0 ? partial_loss_sum_ / static_cast<double>(partial_loss_count_) : kNaN;
    const double val_loss = evaluate_mse(data_.validation);
    const double score = std::isfinite(val_loss) ? val_loss : train_loss;
    const bool improved = std::isfinite(score) && (!std::isfinite(best) || score < best);
    if (improved) {
      best = score;
      best_epoch = epoch + 1;
      since_best = 0;
    } else {
      ++since_best;
    }
    nlohmann::json h = {{"epoch", epoch + 1}, {"train_loss", train_loss}, {"lr", lr}, {"step", progress_.step}};
    h["val_loss"] = std::isfinite(val_loss) ? nlohmann::json(val_loss) : nlohmann::json(nullptr);
    progress_.history.push_back(h);
    progress_.epoch = epoch + 1;
    progress_.data_cursor = 0;
    partial_loss_sum_ = 0;
    partial_loss_count_ = 0;
    const Checkpoint ckpt = checkpoint();
    save("checkpoint.h5", ckpt, true);
    if (improved) save("best.h5", ckpt, false);
    if (hooks.on_epoch) hooks.on_epoch({epoch + 1, config_.epochs, train_loss, val_loss, lr, improved, progress_.step});
    if (config_.patience > 0 && since_best >= config_.patience && epoch + 1 < config_.epochs)
      return finish(TrainStatus::early_stopped,
                    fmt::format("early stopping after epoch {}: no better validation loss for {} epochs (best {} at "
                                "epoch {})",
                                epoch + 1, since_best, fmt_loss(best), best_epoch));
    if (epoch + 1 < config_.epochs && (result.stop_value = stop_value()) != 0)
      return finish(TrainStatus::interrupted,
                    last_file.empty() ? fmt::format("interrupted after epoch {}", epoch + 1)
                                      : fmt::format("interrupted after epoch {}; saved {} (resume with: unroll train "
                                                    "--resume {})",
                                                    epoch + 1, last_file, last_file));
  }
  return finish(TrainStatus::completed, fmt::format("trained {} epochs ({} steps)", progress_.epoch, progress_.step));
}

}  // namespace unroll
