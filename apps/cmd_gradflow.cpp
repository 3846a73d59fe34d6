// SPDX-License-Identifier: Apache-2.0
// What lives here: `unroll gradflow`: how far back the gradient of a last-step loss reaches. For each
// cell of --cell (at initialisation, seeded) or for the network of a --checkpoint from `unroll train`, the
// norm of dL/dh_t (and dL/dc_t for the LSTM) at every step t of one batch of sequences, in float64, where
// L = mse(head(h_{T-1}), target) (train/gradient_flow.h). At initialisation the sequences are the adding
// problem's (train/sequence_tasks.h), and --train N first trains each cell on that task with the memory
// experiment's budget (at most N steps, stopping once solved); for a checkpoint, windows of its test split. Writes DIR/gradflow.json
// and DIR/gradflow.png (log scale, one line per cell).
#include <cmath>
#include <filesystem>
#include <iostream>

#include "apps/commands.h"
#include "apps/option_checks.h"
#include "apps/probe_data.h"
#include "apps/report.h"
#include "apps/run_config.h"
#include "apps/run_folder.h"
#include "graph/check.h"
#include "io/output_files.h"
#include "train/gradient_flow.h"
#include "train/sequence_training.h"

namespace unroll::cli {

namespace {

struct GradflowOptions {
  std::vector<std::string> cells{"rnn_tanh", "lstm", "gru"};
  std::string checkpoint, out = "runs/gradflow", data_dir;
  int64_t steps = 100, batch = 1, train = 0;
  int hidden = 32;
  uint64_t seed = 1;
  bool overwrite = false;
};

void validate(const GradflowOptions& o, const CLI::App& sub) {
  if (!o.checkpoint.empty()) {
    UNROLL_CHECK(sub.count("--cell") == 0 && sub.count("--hidden") == 0 && sub.count("--train") == 0, UsageError,
                 "gradflow: --cell, --hidden and --train describe a new model; a --checkpoint brings its own");
    return;
  }
  for (const std::string& c : o.cells)
    UNROLL_CHECK(cli_cells().contains(cell_name(c)), UsageError, "gradflow: unknown cell '{}' (hint: known cells are {})",
                 c, fmt::join(cli_cells().names(), ", "));
  // float64 step graphs kept for backward, roughly 40 values per step, row and unit (x8 bytes).
  const double bytes = 8.0 * 40 * static_cast<double>(o.steps) * static_cast<double>(o.batch) * o.hidden;
  UNROLL_CHECK(bytes <= 8.0 * (1 << 30), UsageError,
               "gradflow: --steps {} x --batch {} x --hidden {} needs about {:.0f} GiB (limit 8; hint: fewer of them)",
               o.steps, o.batch, o.hidden, bytes / (1 << 30));
  UNROLL_CHECK(o.steps >= 2, UsageError, "gradflow: --steps must be at least 2 at initialisation (the adding problem), got {}",
               o.steps);
}

struct Curve {
  std::string cell, note;  // note: how it was trained ("" at initialisation)
  GradientFlow flow;
};

int run_gradflow(const GradflowOptions& o, const CLI::App& sub) {
  namespace fs = std::filesystem;
  const OutputFolder folder(o.out, "--out");
  clear_earlier_outputs(o.out, existing_entries(o.out, {"gradflow.json", "gradflow.dat", "gradflow.gp", "gradflow.png"}),
                        o.overwrite, "gradflow", "--out", "");
  std::vector<Curve> curves;
  std::string source;
  if (!o.checkpoint.empty()) {
    LoadedRun run = load_run(o.checkpoint);
    const LoadedData loaded = load_data(run.run.data, o.data_dir.empty() ? default_data_dir() : o.data_dir);
    const ProbeWindows w = test_windows(run.run, loaded.data, sub.count("--steps") ? o.steps : 0, o.batch);
    Forecaster& net = run.model->net();
    net.to(DType::f64);
    curves.push_back({run.run.model.net.recurrent.cell, "", gradient_flow(net.rnn(), net.head(), w.x, w.target)});
    source = fmt::format("checkpoint {} (test windows of its data, {} steps, {} sequence(s))", o.checkpoint,
                         w.x.shape()[0], w.x.shape()[1]);
  } else {
    const auto task = make_sequence_task({"adding", o.steps});
    Rng data(o.seed);
    const SequenceBatch b = task->batch(o.batch, data);
    for (const std::string& c : o.cells) {
      RecurrentConfig rc;
      rc.cell = cell_name(c);
      rc.input_size = task->input_size();
      rc.hidden_size = o.hidden;
      Rng init(o.seed);
      SequenceModel model(rc, task->output_size(), init, cli_cells());
      std::string note;
      if (o.train > 0) {  // the memory experiment's budget on this very task, stopping once solved
        const SequenceTrainResult r = train_on_task(model, *task, memory_budget(o.train, 32, 0.01, 1.0, o.seed));
        note = fmt::format(" (trained {} steps, test MSE {:.3g})", r.steps, r.test.loss);
      }
      model.to(DType::f64);
      curves.push_back({rc.cell, note, gradient_flow(model.rnn(), model.head(), b.x, b.values)});
    }
    source = fmt::format("{} (seed {}, hidden {}), {} adding-problem sequence(s) of {} steps",
                         o.train > 0 ? fmt::format("trained on the adding problem for at most {} steps", o.train)
                                     : "initialisation",
                         o.seed, o.hidden, o.batch, o.steps);
  }
  nlohmann::json cells = nlohmann::json::array();
  std::string dat;
  for (const Curve& c : curves) {
    nlohmann::json states = nlohmann::json::object();
    for (size_t k = 0; k < c.flow.states.size(); ++k) {
      states[c.flow.states[k]] = c.flow.norms[k];
      dat += fmt::format("# {}{} dL/d{}_t: t norm\n", c.cell, c.note, c.flow.states[k]);
      for (size_t t = 0; t < c.flow.norms[k].size(); ++t) dat += fmt::format("{} {:.17g}\n", t, c.flow.norms[k][t]);
      dat += "\n\n";
    }
    const std::vector<double>& h = c.flow.norms[0];
    cells.push_back({{"cell", c.cell}, {"label", c.cell + c.note}, {"loss", c.flow.loss}, {"norms", states},
                     {"ratio_first_to_last", h.back() > 0 ? h.front() / h.back() : NAN}});
    std::cout << fmt::format("{:<10} ||dL/dh_t||: t=0 {:.3e}, t={} {:.3e}, t={} {:.3e}  (first/last {:.3e}){}\n", c.cell,
                             h.front(), h.size() / 2, h[h.size() / 2], h.size() - 1, h.back(),
                             h.back() > 0 ? h.front() / h.back() : NAN, c.note);
  }
  write_file_atomically((fs::path(o.out) / "gradflow.json").string(),
                        nlohmann::json{{"source", source},
                                       {"loss", "mse(head(h_{T-1}), target): the last step only"},
                                       {"cells", cells}}.dump(2) + "\n");
  write_file_atomically((fs::path(o.out) / "gradflow.dat").string(), dat);
  std::string gp = fmt::format("set terminal pngcairo size 900,560 noenhanced\nset output '{}'\nset logscale y\nset format y '1e%T'\n"
                               "set xlabel 'step t'\nset ylabel '||dL/ds_t||'\nset key below\n"
                               "set title 'gradient of the last-step loss reaching step t'\nplot ",
                               temporary_name("gradflow.png"));
  size_t block = 0;
  for (const Curve& c : curves)
    for (size_t k = 0; k < c.flow.states.size(); ++k, ++block)
      gp += fmt::format("{}'gradflow.dat' index {} using 1:2 with lines lw 2 {}title '{} {}{}'", block ? ", " : "", block,
                        k ? "dt 2 " : "", c.cell, c.flow.states[k], c.note);
  gp += "\n";
  write_file_atomically((fs::path(o.out) / "gradflow.gp").string(), gp);
  const std::string plot_note = run_gnuplot(o.out, "gradflow.gp", {"gradflow.png"});
  std::cout << fmt::format("wrote {0}/gradflow.json{1}\n", o.out,
                           plot_note.empty() ? ", gradflow.png" : " (no plot: " + plot_note + ")");
  return kExitOk;
}

}  // namespace

void register_gradflow_command(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<GradflowOptions>();
  CLI::App* sub = app.add_subcommand("gradflow", "norm of dLoss/dh_t at every step t, per cell (JSON + log-scale plot)");
  sub->add_option("--cell", o->cells, "cells at initialisation (rnn_tanh, lstm, gru, gru_lbr, ...)")->delimiter(',')->capture_default_str();
  sub->add_option("--steps", o->steps, "sequence length T")->check(integer_in(1, 100000))->capture_default_str();
  sub->add_option("--batch", o->batch, "sequences")->check(integer_in(1, 4096))->capture_default_str();
  sub->add_option("--hidden", o->hidden, "hidden units at initialisation")->check(integer_in(1, 1024))->capture_default_str();
  sub->add_option("--train", o->train, "first train each cell this many steps on the adding problem (0: at initialisation)")->check(integer_in(0, 10000000))->capture_default_str();
  sub->add_option("--seed", o->seed, "seed of the weights and the sequences")->check(unsigned_in(0))->capture_default_str();
  sub->add_option("--checkpoint", o->checkpoint, "a checkpoint of unroll train instead of cells at initialisation");
  sub->add_option("--data-dir", o->data_dir, "where nottem.csv is");
  sub->add_option("--out", o->out, "output folder")->capture_default_str();
  sub->add_flag("--overwrite", o->overwrite, "an --out folder holding earlier gradflow files: replace them (else refused)");
  table.push_back({sub, [o, sub] { validate(*o, *sub); }, [o, sub] { return run_gradflow(*o, *sub); }});
}

}  // namespace unroll::cli
