// SPDX-License-Identifier: Apache-2.0
// What lives here: the per-dataset tuned defaults of `unroll train` (apps/train_options.h), each chosen on
// the validation split (docs/training.md). They apply only to options not given on the command line and
// never on --resume (the checkpoint's run configuration wins). Also resolves the cosine's horizon.
#include "apps/train_options.h"

namespace unroll::cli {

// The global defaults of TrainOptions are magnet's: lr 0.012 with the cosine had the best validation RMSE of
// {0.0015, 0.003, 0.006, 0.012, 0.024} on magnet (nottem: 0.003).
TrainOptions with_dataset_defaults(const TrainOptions& o, const std::function<bool(const char* flag)>& given) {
  TrainOptions with_defaults = o;
  if (o.data_file.empty() && o.dataset == "magnet") {
    if (!given("--despike") && o.history >= 3) {
      // magnet's isolated glitches: robust inputs (Note [Robust inputs]) at 20 robust standard deviations,
      // chosen on validation at horizons 1, 4 and 16 (docs/training.md). CSV data and nottem: off unless asked.
      with_defaults.despike = 20;
    }
    if (!given("--epochs")) {
      // magnet's default run: 16 epochs (the cosine follows), better on validation than 8 at horizons 1, 4
      // and 16 (with robust inputs; docs/training.md).
      with_defaults.epochs = 16;
    }
  }
  if (o.data_file.empty() && o.dataset == "nottem") {
    // 240 monthly values give 10 batches of 16 per epoch: the magnet defaults (8 epochs of 64) would
    // barely train. Per-dataset defaults, used only when the option is not given.
    if (!given("--epochs")) with_defaults.epochs = 200;
    // nottem's validation RMSE was better with a constant learning rate than with the cosine (0.0554 vs
    // 0.0593, docs/training.md), magnet's with the cosine at every horizon.
    if (!given("--schedule")) with_defaults.schedule = "constant";
    if (!given("--lr")) with_defaults.lr = 3e-3;  // nottem's validation: 0.0554 vs 0.061 at 0.0015 and 0.006
    if (!given("--batch")) with_defaults.batch = 16;
    if (!given("--patience")) with_defaults.patience = 40;
  }
  // CSV data without --epochs: train until the validation loss stops improving, under a cap that scales
  // with the data (resolved once the data is loaded). The built-in datasets keep their validated budgets.
  if (!o.data_file.empty() && !given("--epochs")) with_defaults.auto_budget = true;
  // CSV data: the AR highway (LSTNet's linear component, started at the least-squares AR fit). On the
  // validation splits of the suite's twelve CSV series (docs/forecasting.md) it lowered the validation RMSE
  // on 8 (by up to 45 % on trending series whose test values leave the training range: AirPassengers,
  // co2, UKgas), tied on 3 (within 0.5 %) and raised it on 1 (UKDriverDeaths, 8 %). nottem's validation
  // says no (0.076 against 0.055) and magnet's that it only ties AR: they keep it off.
  if (!o.data_file.empty() && !given("--highway")) with_defaults.highway = true;
  // CSV data without --history: the history is chosen on the validation split (apps/run_config.h).
  if (!o.data_file.empty() && !given("--history")) with_defaults.auto_history = true;
  // The cosine's horizon follows the run's epochs unless --decay-epochs says otherwise (issue 23).
  if (!given("--decay-epochs")) with_defaults.decay_epochs = with_defaults.epochs;
  return with_defaults;
}

}  // namespace unroll::cli
