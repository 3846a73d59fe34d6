// SPDX-License-Identifier: Apache-2.0
// What lives here: tests of train/trainer: same seed -> same bits; resume after a whole epoch and after a
// stop in the middle of an epoch continues bit-exactly from a checkpoint file into fresh objects; early
// stopping; a non-finite loss stops with epoch and step named and keeps the last good checkpoint; anomaly
// mode names the op; checkpoint contents.
#include <cmath>
#include <filesystem>
#include <string>

#include "io/checkpoint.h"
#include "io/datasets.h"
#include "train/baselines.h"
#include "test_helpers.h"
#include "train_test_helpers.h"
#include "train/trainer.h"

using namespace unroll;
namespace fs = std::filesystem;

namespace {

PreparedData sine_data(int64_t n = 240) {
  Series s{"sine", {}};
  for (int64_t i = 0; i < n; ++i) s.values.push_back(std::sin(0.3 * static_cast<double>(i)) + 0.1 * std::cos(1.7 * i) + 0.05 * std::sin(0.37 * i * i));
  SplitSpec split;
  split.train_fraction = 0.6;
  split.validation_fraction = 0.2;
  return prepare_data(std::move(s), split, WindowSpec{8, 1}, ScalerKind::min_max);
}

ForecastModelConfig small_model(const std::string& cell = "lstm", bool residual = false, bool highway = false) {
  ForecastModelConfig c;
  c.net.recurrent.cell = cell;
  c.net.recurrent.input_size = 1;
  c.net.recurrent.hidden_size = 6;
  c.history = 8;
  c.residual = residual;
  c.highway = highway;
  return c;
}

std::unique_ptr<ForecastModel> make_model(const ForecastModelConfig& c, Rng& rng) {
  return std::make_unique<ForecastModel>(c, rng);
}

TrainerConfig small_trainer(const std::string& out, int64_t epochs) {
  TrainerConfig t;
  t.epochs = epochs;
  t.batch_size = 16;
  t.seed = 5;
  t.optimizer.lr = 0.01;
  t.optimizer.clip_norm = 1.0;
  t.out_dir = out;
  return t;
}

std::string scratch(const std::string& name) { return testing::train_scratch(name); }
using testing::same_parameters;

struct Run {
  std::unique_ptr<ForecastModel> model;
  TrainResult result;
};

Run train_fresh(const PreparedData& data, const TrainerConfig& config, const std::string& cell = "lstm",
                const TrainerHooks& hooks = {}) {
  Rng init(config.seed);
  Run r{make_model(small_model(cell), init), {}};
  Trainer trainer(*r.model, data, config);
  r.result = trainer.fit(hooks);
  return r;
}

}  // namespace

TEST_CASE("trainer: the same seed gives the same bits and another seed does not") {
  const PreparedData data = sine_data();
  Run a = train_fresh(data, small_trainer("", 2));
  Run b = train_fresh(data, small_trainer("", 2));
  CHECK(a.result.status == TrainStatus::completed);
  CHECK(a.result.epochs_run == 2);
  CHECK(same_parameters(*a.model, *b.model));
  TrainerConfig other = small_trainer("", 2);
  other.seed = 6;
  Run c = train_fresh(data, other);
  CHECK_FALSE(same_parameters(*a.model, *c.model));
  // and training did something: validation loss fell
  REQUIRE(a.result.history.size() == 2);
  CHECK(a.result.history[1]["val_loss"].get<double>() < a.result.history[0]["val_loss"].get<double>());
}

TEST_CASE("trainer: train 3 epochs == train 1, save, load into fresh objects, train 2 more (bit-identical)") {
  const PreparedData data = sine_data();
  for (const char* cell : {"lstm", "gru"}) {
    CAPTURE(cell);
    TrainerConfig straight = small_trainer(scratch(std::string("straight_") + cell), 3);
    straight.optimizer.kind = "adam";
    straight.schedule.kind = "step";  // (a cosine's length is fixed when a run starts: see trainer.h)
    straight.schedule.step_size = 7;
    straight.schedule.warmup_steps = 3;
    Run full = train_fresh(data, straight, cell);

    TrainerConfig first = straight;
    first.out_dir = scratch(std::string("split_") + cell);
    first.epochs = 1;
    train_fresh(data, first, cell);
    const Checkpoint saved = load_checkpoint(first.out_dir + "/checkpoint.h5");
    CHECK(saved.progress.epoch == 1);

    TrainerConfig rest = first;
    rest.epochs = 3;
    Rng other_init(999);  // different initial weights: resume must overwrite them all
    auto model = make_model(small_model(cell), other_init);
    Trainer trainer(*model, data, rest);
    trainer.resume(saved);
    const TrainResult r = trainer.fit();
    CHECK(r.status == TrainStatus::completed);
    CHECK(r.epochs_run == 3);
    CHECK(same_parameters(*model, *full.model));
    CHECK(r.history.dump() == full.result.history.dump());
  }
}

TEST_CASE("trainer: a stop request mid-epoch saves, and resuming from the file continues bit-exactly") {
  const PreparedData data = sine_data();
  TrainerConfig config = small_trainer(scratch("stop_full"), 2);
  config.optimizer.kind = "rmsprop";
  config.optimizer.momentum = 0.5;
  Run full = train_fresh(data, config);

  config.out_dir = scratch("stop_split");
  volatile std::sig_atomic_t flag = 0;
  TrainerHooks hooks;
  hooks.stop_flag = &flag;
  hooks.on_step = [&](const StepInfo& s) {
    if (s.global_step == 10) flag = 1;  // epoch 2 (one epoch has 9 steps), its first step
  };
  Run stopped = train_fresh(data, config, "lstm", hooks);
  REQUIRE(stopped.result.status == TrainStatus::interrupted);
  const std::string file = config.out_dir + "/checkpoint.h5";
  CHECK(stopped.result.message ==
        "interrupted at epoch 2, step 1 of 9; saved " + file + " (resume with: unroll train --resume " + file + ")");
  const Checkpoint saved = load_checkpoint(file);
  CHECK(saved.progress.epoch == 1);
  CHECK(saved.progress.step == 10);
  CHECK(saved.progress.data_cursor == 16);

  Rng init(1);
  auto model = make_model(small_model(), init);
  Trainer trainer(*model, data, config);
  trainer.resume(saved);
  const TrainResult r = trainer.fit();
  CHECK(r.status == TrainStatus::completed);
  CHECK(r.global_step == 18);
  CHECK(same_parameters(*model, *full.model));
  CHECK(r.history.dump() == full.result.history.dump());
}

TEST_CASE("trainer: early stopping on validation loss after `patience` epochs without improvement") {
  const PreparedData data = sine_data();
  TrainerConfig config = small_trainer(scratch("early"), 10);
  config.optimizer.lr = 0;  // nothing changes: the validation loss never improves after epoch 1
  config.patience = 2;
  Run r = train_fresh(data, config);
  CHECK(r.result.status == TrainStatus::early_stopped);
  CHECK(r.result.epochs_run == 3);
  CHECK(r.result.best_epoch == 1);
  CHECK(fs::exists(config.out_dir + "/best.h5"));
  CHECK(load_checkpoint(config.out_dir + "/best.h5").progress.epoch == 1);
  CHECK(load_checkpoint(config.out_dir + "/checkpoint.h5").progress.epoch == 3);
}

TEST_CASE("trainer: a non-finite loss stops training, names epoch and step, keeps the last good checkpoint") {
  PreparedData data = sine_data();
  TrainerConfig config = small_trainer(scratch("nan"), 1);
  train_fresh(data, config);  // one good epoch on disk
  const std::string file = config.out_dir + "/checkpoint.h5";
  const Checkpoint good = load_checkpoint(file);

  for (double& v : data.scaled) v = std::nan("");  // every window is now poisoned
  config.epochs = 3;
  Rng init(1);
  auto model = make_model(small_model(), init);
  {
    Trainer trainer(*model, data, config);
    trainer.resume(good);
    const TrainResult r = trainer.fit();
    CHECK(r.status == TrainStatus::diverged);
    CHECK(r.message ==
          "training stopped at epoch 2, step 1 of 9 (global step 10): the loss is nan; the last good checkpoint " + file +
              " is kept (hint: start a new run with a lower --lr or a --clip, or find the op with --detect-anomaly)");
  }
  const Checkpoint after = load_checkpoint(file);
  CHECK(after.progress.epoch == 1);
  CHECK(after.progress.step == 9);

  config.detect_anomaly = true;
  Trainer trainer(*model, data, config);
  trainer.resume(good);
  const TrainResult r = trainer.fit();
  CHECK(r.status == TrainStatus::diverged);
  INFO(r.message);
  CHECK(r.message.rfind("training stopped at epoch 2, step 1 of 9 (global step 10): anomaly: op '", 0) == 0);
  CHECK(r.message.find("produced a non-finite value") != std::string::npos);
}

TEST_CASE("trainer: the checkpoint holds optimizer slots by path, rng, schedule, progress and the scaler") {
  const PreparedData data = sine_data();
  TrainerConfig config = small_trainer(scratch("contents"), 1);
  Run r = train_fresh(data, config, "gru");
  const Checkpoint c = load_checkpoint(config.out_dir + "/checkpoint.h5");
  CHECK(c.has_optimizer);
  CHECK(c.optimizer.kind == "adam");
  CHECK(c.optimizer.step == 9);
  REQUIRE(c.optimizer.slots.count("net/rnn/l0/w_hh") == 1);
  CHECK(c.optimizer.slots.at("net/rnn/l0/w_hh").at("exp_avg").shape() == Shape{18, 6});
  CHECK(c.has_rng);
  CHECK(c.progress.schedule["step"] == 9);
  CHECK(c.progress.schedule["config"]["base_lr"] == 0.01);
  CHECK(c.progress.history.size() == 1);
  CHECK(c.scaler == data.scaler.to_json());
  CHECK(c.model_config == small_model("gru").to_json());
  CHECK(TrainerConfig::from_json(c.extra["trainer"]).to_json() == config.to_json());
}

TEST_CASE("forecast model: residual adds the last input, the highway a linear AR over the window") {
  Tape tape;
  Rng rng(3);
  ForecastModel plain(small_model("rnn_tanh"), rng);
  Rng rng2(3);
  ForecastModel both(small_model("rnn_tanh", true, true), rng2);
  CHECK(both.find_parameter("highway/weight") != nullptr);
  CHECK(both.find_parameter("net/head/bias") != nullptr);
  // same initial network (same seed, the highway is registered after it)
  both.find_parameter("highway/weight")->value.fill(0.5);
  both.find_parameter("highway/bias")->value.fill(0.25);
  Tensor x = Tensor::empty(Shape{8, 2, 1}, DType::f32);
  for (int64_t i = 0; i < 16; ++i) x.set(i, 0.1 * static_cast<double>(i));
  const Tensor a = plain.forward(tape, tape.constant(x)).value().clone();
  const Tensor b = both.forward(tape, tape.constant(x)).value().clone();
  for (int64_t bi = 0; bi < 2; ++bi) {
    double window = 0;
    for (int64_t t = 0; t < 8; ++t) window += x.at(t * 2 + bi);
    const double expected = a.at(bi) + x.at(7 * 2 + bi) + 0.5 * window + 0.25;
    CHECK(b.at(bi) == doctest::Approx(expected).epsilon(1e-5));
  }
  CHECK_THROWS_WITH_AS(both.forward(tape, tape.constant(Tensor::zeros(Shape{4, 2, 1}, DType::f32))),
                       "ForecastModel: expected input [8, B, 1] (history 8), got [4, 2, 1]", ShapeError);
}

TEST_CASE("forecast model: init_from_ar makes the first prediction the least-squares AR forecast") {
  const PreparedData data = sine_data();
  const LinearAR ar = LinearAR::fit(data.scaled, data.train);
  for (bool residual : {false, true}) {
    CAPTURE(residual);
    Rng rng(4);
    ForecastModel model(small_model("lstm", residual, true), rng);
    model.init_from_ar(ar.weights, ar.intercept);
    TrainerConfig config = small_trainer("", 0);
    Trainer trainer(model, data, config);
    const std::vector<double> got = trainer.predict(data.test), want = ar.predict(data.scaled, data.test);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-5));
  }
  Rng rng(4);
  ForecastModel no_highway(small_model("lstm"), rng);
  CHECK_THROWS_WITH_AS(no_highway.init_from_ar(ar.weights, ar.intercept),
                       "ForecastModel::init_from_ar: the model has no highway (set highway)", UsageError);
}

TEST_CASE("config JSON: every from_json names an unknown key (listing the known ones) and a field of the wrong type") {
  CHECK_THROWS_WITH_AS(TrainerConfig::from_json({{"epochs", 2}, {"epoch", 3}}),
                       "trainer config: unknown key 'epoch' (hint: known keys are epochs, batch_size, seed, optimizer, "
                       "schedule, patience, detect_anomaly, keep_last, loss, huber_delta, decay_epochs)",
                       DataError);
  CHECK_THROWS_WITH_AS(OptimizerConfig::from_json({{"lr", "fast"}}), "optimizer config: 'lr' must be a number, got \"fast\"",
                       DataError);
  CHECK_THROWS_WITH_AS(OptimizerConfig::from_json({{"nesterov", 1}}),
                       "optimizer config: 'nesterov' must be true or false, got 1", DataError);
  CHECK_THROWS_WITH_AS(ScheduleConfig::from_json({{"warmup_steps", 1.5}}),
                       "schedule config: 'warmup_steps' must be an integer, got 1.5", DataError);
  CHECK_THROWS_WITH_AS(TrainerConfig::from_json({{"seed", -1}}), "trainer config: 'seed' must be an integer >= 0, got -1",
                       DataError);
  CHECK_THROWS_WITH_AS(nlohmann::json::parse(R"({"cell":"lstm","layers":1.5})").get<RecurrentConfig>(),
                       "RecurrentConfig: 'layers' must be an integer, got 1.5", DataError);
  CHECK_THROWS_WITH_AS(nlohmann::json::parse(R"({"cell":"lstm","hidden_size":3000000000})").get<RecurrentConfig>(),
                       "RecurrentConfig: 'hidden_size' must be an integer, got 3000000000", DataError);
  CHECK_THROWS_WITH_AS(ForecastModelConfig::from_json({{"net", nlohmann::json::object()}, {"residual", "yes"}}),
                       "ForecastModelConfig: 'residual' must be true or false, got \"yes\"", DataError);
  CHECK_THROWS_WITH_AS(SplitSpec::from_json({{"train_fraction", 0.7}, {"validation_fraction", 0.1}, {"tests", 1}}),
                       "split spec: unknown key 'tests' (hint: known keys are train_fraction, validation_fraction, "
                       "fit_includes_validation, train, test)",
                       DataError);
  CHECK_THROWS_WITH_AS(DataCursor::from_json(nlohmann::json::array()), "data cursor: expected a JSON object, got []",
                       DataError);
  CHECK_THROWS_WITH_AS(Scaler::from_json({{"kind", "none"}, {"scale", 2}}),
                       "scaler: unknown key 'scale' (hint: known keys are kind, min, max, mean, std)", DataError);
}
