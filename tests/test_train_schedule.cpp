// SPDX-License-Identifier: Apache-2.0
// What lives here: tests of TrainerConfig::decay_epochs, the cosine length `unroll train` fixes so that the
// schedule depends on the step alone: train 1 epoch, resume with epochs 3 == a straight 3-epoch run (bit-
// identical), which a cosine following `epochs` cannot give; the learning rate per epoch follows the
// cosine over decay_epochs; the field round-trips.
#include <cmath>
#include <filesystem>

#include "io/checkpoint.h"
#include "io/datasets.h"
#include "test_helpers.h"
#include "train_test_helpers.h"
#include "train/trainer.h"

using namespace unroll;
namespace fs = std::filesystem;

namespace {

PreparedData wave_data() {
  Series s{"wave", {}};
  for (int64_t i = 0; i < 200; ++i) s.values.push_back(std::sin(0.25 * static_cast<double>(i)) + 0.2 * std::cos(1.3 * i));
  SplitSpec split;
  split.train_fraction = 0.6;
  split.validation_fraction = 0.2;
  return prepare_data(std::move(s), split, WindowSpec{6, 1}, ScalerKind::min_max);
}

std::unique_ptr<ForecastModel> model(uint64_t seed) {
  Rng rng(seed);
  return std::make_unique<ForecastModel>(testing::small_lstm_forecaster(), rng);
}

TrainerConfig cosine(const std::string& out, int64_t epochs, int64_t decay_epochs) {
  TrainerConfig t;
  t.epochs = epochs;
  t.batch_size = 16;  // 114 training windows: 8 steps per epoch
  t.seed = 3;
  t.optimizer.lr = 0.01;
  t.schedule.kind = "cosine";
  t.decay_epochs = decay_epochs;
  t.out_dir = out;
  return t;
}

std::string scratch(const std::string& name) { return testing::train_scratch(name); }
using testing::same_parameters;

// Train `first` epochs into a folder, then resume from the file to `total` epochs in fresh objects.
std::unique_ptr<ForecastModel> split_run(const PreparedData& data, const std::string& name, int64_t first,
                                         int64_t total, int64_t decay_epochs) {
  const std::string dir = scratch(name);
  {
    auto m = model(1);
    Trainer t(*m, data, cosine(dir, first, decay_epochs));
    REQUIRE(t.fit().status == TrainStatus::completed);
  }
  auto m = model(77);  // other initial weights: resume overwrites them
  Trainer t(*m, data, cosine(dir, total, decay_epochs));
  t.resume(load_checkpoint(dir + "/checkpoint.h5"));
  REQUIRE(t.fit().status == TrainStatus::completed);
  return m;
}

}  // namespace

TEST_CASE("trainer: a cosine over fixed decay_epochs resumes with more epochs bit-identically") {
  const PreparedData data = wave_data();
  auto straight = model(1);
  Trainer t(*straight, data, cosine("", 3, 4));
  const TrainResult full = t.fit();
  REQUIRE(full.status == TrainStatus::completed);
  // lr recorded at the end of each epoch: cosine from 0.01 to 0 over 4 x 8 = 32 steps, at steps 8, 16, 24
  REQUIRE(full.history.size() == 3);
  for (int e = 0; e < 3; ++e) {
    const double expected = 0.005 * (1 + std::cos(3.141592653589793 * (8.0 * (e + 1) - 1) / 32.0));
    CHECK(full.history[e]["lr"].get<double>() == doctest::Approx(expected).epsilon(1e-12));
  }
  auto resumed = split_run(data, "cosine_fixed", 1, 3, 4);
  CHECK(same_parameters(*straight, *resumed));

  // a cosine that follows `epochs` (decay_epochs 0) has another length after a resume with more epochs
  auto straight0 = model(1);
  Trainer t0(*straight0, data, cosine("", 3, 0));
  REQUIRE(t0.fit().status == TrainStatus::completed);
  auto resumed0 = split_run(data, "cosine_follows_epochs", 1, 3, 0);
  CHECK_FALSE(same_parameters(*straight0, *resumed0));
}

TEST_CASE("trainer: decay_epochs round-trips and must be >= 0") {
  TrainerConfig c;
  c.decay_epochs = 8;
  CHECK(TrainerConfig::from_json(c.to_json()).decay_epochs == 8);
  nlohmann::json j = c.to_json();
  j["decay_epochs"] = -1;
  CHECK_THROWS_WITH_AS(TrainerConfig::from_json(j), "trainer config: 'decay_epochs' must be an integer >= 0, got -1",
                       DataError);
  j.erase("decay_epochs");  // written before the option: the cosine follows epochs
  CHECK(TrainerConfig::from_json(j).decay_epochs == 0);
}
