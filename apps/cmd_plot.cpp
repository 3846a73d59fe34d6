// SPDX-License-Identifier: Apache-2.0
// What lives here: `unroll plot DIR`: PNG plots of a training run (loss per epoch from the checkpoint's
// history; forecast vs truth on the test split from DIR/forecast.csv, recomputed from best.h5 if absent or
// older than the checkpoint). Takes the folder's lock like a run (io/output_files.h).
#include <filesystem>
#include <iostream>

#include "apps/commands.h"
#include "apps/report.h"
#include "apps/run_config.h"
#include "graph/check.h"
#include "io/output_files.h"

namespace unroll::cli {

namespace {

struct PlotOptions {
  std::string dir, data_dir;
};

int run_plot(const PlotOptions& o) {
  namespace fs = std::filesystem;
  const fs::path dir(o.dir);
  UNROLL_CHECK(fs::is_directory(dir), IoError, "plot: {} is not a folder (hint: pass the --out folder of unroll train)",
               o.dir);
  const fs::path last = dir / "checkpoint.h5", best = dir / "best.h5";
  UNROLL_CHECK(fs::exists(last) || fs::exists(best), IoError,
               "plot: {} holds neither checkpoint.h5 nor best.h5 (hint: pass the --out folder of unroll train)", o.dir);
  // plot writes into the run's folder: not while a run holds it (it would draw a state about to change).
  const OutputFolder folder(o.dir, "plot", "plot the run when it has finished or stopped");
  const Checkpoint ckpt = load_checkpoint((fs::exists(last) ? last : best).string());
  // forecast.csv is drawn only when it is newer than the checkpoint it was computed from; an older one
  // (a run continued or restarted since) is recomputed from best.h5 (or checkpoint.h5).
  const fs::path source = fs::exists(best) ? best : last, forecast = dir / "forecast.csv";
  std::error_code ec;
  if (!fs::exists(forecast) || fs::last_write_time(forecast, ec) < fs::last_write_time(source, ec)) {
    LoadedRun run = load_run(source.string());
    const LoadedData loaded = load_data(run.run.data, o.data_dir.empty() ? default_data_dir() : o.data_dir);
    TrainerConfig tc = run.run.trainer;
    tc.out_dir.clear();
    Trainer trainer(*run.model, loaded.data, tc);
    const Evaluation e = evaluate(trainer, loaded.data, loaded.data.test, loaded.seasonal_period);
    write_forecast_csv(forecast.string(), e, run.scaler);
  }
  const std::string why = make_plots(o.dir, ckpt.progress.history);
  UNROLL_CHECK(why.empty(), IoError, "plot: {}", why);
  std::cout << fmt::format("unroll plot: wrote {0}/loss.png and {0}/forecast.png\n", o.dir);
  return kExitOk;
}

}  // namespace

void register_plot_command(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<PlotOptions>();
  CLI::App* sub = app.add_subcommand("plot", "PNG plots of a run: loss curves and forecast vs truth");
  sub->add_option("dir", o->dir, "the --out folder of unroll train")->required();
  sub->add_option("--data-dir", o->data_dir, "where nottem.csv is");
  table.push_back({sub, nullptr, [o] { return run_plot(*o); }});
}

}  // namespace unroll::cli
