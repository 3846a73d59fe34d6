// SPDX-License-Identifier: Apache-2.0
// What lives here: `unroll experiment memory`: the long-term memory benchmark of the lecture's claim that
// a plain RNN's "long-term memory fails" while LSTM and GRU do not. Every cell of --cells is trained on the
// task (adding problem or copy memory, train/sequence_tasks.h) at every gap of --gaps and every seed, all
// with one budget (the same steps, hidden size, batch, learning rate and clip; a run stops early once its
// validation batch meets the task's solved rule), and scored on the same test sequences per gap. Writes
// DIR/memory.md (cell x gap: solved fraction over seeds and the mean test score, next to chance),
// DIR/memory.json (every run) and DIR/memory.png (solved fraction and test loss against the gap).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>

#include "apps/commands.h"
#include "apps/option_checks.h"
#include "apps/report.h"
#include "apps/run_config.h"
#include "apps/run_folder.h"
#include "graph/check.h"
#include "io/output_files.h"
#include "train/sequence_training.h"

namespace unroll::cli {

namespace {

struct MemoryOptions {
  std::string experiment, task = "adding", out = "runs/memory";
  std::vector<std::string> cells{"rnn_tanh", "lstm", "gru", "gru_lbr"};
  std::vector<int64_t> gaps{10, 25, 50, 100, 200};
  int seeds = 3, hidden = 32, alphabet = 8, recall = 5;
  int64_t steps = 3000, batch = 32, check_every = 100;
  double lr = 0.01, clip = 1.0;
  bool overwrite = false;
};

TaskSpec task_spec(const MemoryOptions& o, int64_t gap) {
  TaskSpec s;
  s.name = o.task;
  s.gap = gap;
  s.alphabet = o.alphabet;
  s.recall = o.recall;
  return s;
}

void validate(const MemoryOptions& o) {
  UNROLL_CHECK(o.experiment == "memory", UsageError, "experiment: unknown experiment '{}' (hint: memory)", o.experiment);
  UNROLL_CHECK(!o.cells.empty() && !o.gaps.empty(), UsageError, "experiment memory: --cells and --gaps need values");
  for (const std::string& c : o.cells)
    UNROLL_CHECK(cli_cells().contains(cell_name(c)), UsageError,
                 "experiment memory: unknown cell '{}' (hint: known cells are {})", c,
                 fmt::join(cli_cells().names(), ", "));
  for (int64_t g : o.gaps) {
    const auto task = make_sequence_task(task_spec(o, g));  // UsageError for a gap the task cannot have
    // What one training step keeps for backward, roughly: 4 gate blocks and 2 states, float32, every step
    // and row (x3 for the gradients and the oneDNN workspaces).
    const double bytes = 3.0 * 6 * 4 * static_cast<double>(task->steps()) * static_cast<double>(o.batch) * o.hidden;
    UNROLL_CHECK(bytes <= 8.0 * (1 << 30), UsageError,
                 "experiment memory: gap {} with --batch {} and --hidden {} needs about {:.0f} GiB per step (limit 8; "
                 "hint: a smaller --batch or --hidden)",
                 g, o.batch, o.hidden, bytes / (1 << 30));
  }
  const size_t runs = o.cells.size() * o.gaps.size() * static_cast<size_t>(o.seeds);
  UNROLL_CHECK(runs <= 10000, UsageError, "experiment memory: {} runs is too many (limit 10000; hint: shorten the lists)",
               runs);
}

struct Run {
  std::string cell;
  int64_t gap = 0;
  int seed = 0;
  SequenceTrainResult result;
  double seconds = 0;
};

struct Summary {
  double solved = 0, loss = 0, metric = 0, steps = 0;
  int finite = 0, count = 0;
};

std::map<std::pair<std::string, int64_t>, Summary> summarize(const std::vector<Run>& runs) {
  std::map<std::pair<std::string, int64_t>, Summary> s;
  for (const Run& r : runs) {
    Summary& m = s[{r.cell, r.gap}];
    ++m.count;
    m.solved += r.result.solved;
    m.steps += static_cast<double>(r.result.steps);
    if (std::isfinite(r.result.test.loss)) {
      ++m.finite;
      m.loss += r.result.test.loss;
      m.metric += r.result.test.metric;
    }
  }
  for (auto& [key, m] : s) {
    m.solved /= m.count;
    m.steps /= m.count;
    m.loss = m.finite ? m.loss / m.finite : NAN;
    m.metric = m.finite ? m.metric / m.finite : NAN;
  }
  return s;
}

int run_memory(const MemoryOptions& o) {
  namespace fs = std::filesystem;
  const OutputFolder folder(o.out, "--out");
  clear_earlier_outputs(o.out, existing_entries(o.out, {"memory.md", "memory.json", "memory.dat", "memory.gp", "memory.png"}),
                        o.overwrite, "experiment memory", "--out", "");
  std::vector<std::string> cells;
  for (const std::string& c : o.cells) cells.push_back(cell_name(c));
  const auto start = std::chrono::steady_clock::now();
  const size_t total = cells.size() * o.gaps.size() * static_cast<size_t>(o.seeds);
  std::vector<Run> runs;
  std::unique_ptr<SequenceTask> any_task;
  for (int64_t gap : o.gaps) {
    std::unique_ptr<SequenceTask> task = make_sequence_task(task_spec(o, gap));
    for (const std::string& cell : cells)
      for (int seed = 1; seed <= o.seeds; ++seed) {
        const auto run_start = std::chrono::steady_clock::now();
        RecurrentConfig rc;
        rc.cell = cell;
        rc.input_size = task->input_size();
        rc.hidden_size = o.hidden;
        Rng init(static_cast<uint64_t>(seed));
        SequenceModel model(rc, task->output_size(), init, cli_cells());
        SequenceTrainConfig tc = memory_budget(o.steps, o.batch, o.lr, o.clip, static_cast<uint64_t>(seed));
        tc.test_seed = 1000 + static_cast<uint64_t>(gap);  // the same test sequences for every cell and seed
        tc.check_every = o.check_every;
        Run run{cell, gap, seed, train_on_task(model, *task, tc), 0};
        run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
        runs.push_back(run);
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const std::string metric = task->metric_name() == task->loss_name()
                                       ? ""
                                       : fmt::format(", {} {:.4f}", task->metric_name(), run.result.test.metric);
        std::cout << fmt::format("[{}/{}] {} gap {} seed {}: test {} {:.4f}{}{} after {} steps ({:.1f}s; {:.0f}s "
                                 "elapsed)\n",
                                 runs.size(), total, cell, gap, seed, task->loss_name(), run.result.test.loss, metric,
                                 run.result.solved ? ", solved" : (run.result.diverged ? ", diverged" : ""),
                                 run.result.steps, run.seconds, elapsed)
                  << std::flush;
      }
    any_task = std::move(task);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const SequenceTask& task = *any_task;
  const auto summary = summarize(runs);
  const std::string task_line =
      o.task == "adding" ? "adding problem (Hochreiter & Schmidhuber 1997): T = gap steps of [value, marker], one "
                           "marked value in each half, predict their sum"
                         : fmt::format("copy memory: {} symbols of {}, then gap blanks and a delimiter; recall the "
                                       "symbols in order",
                                       o.recall, o.alphabet);
  std::string md = fmt::format(
      "# unroll experiment memory: {}\n\n{}.\n\nEach entry: solved runs / seeds, then the mean test {} over seeds "
      "(chance: {:.4g}; mean steps taken in brackets). Solved: {}. One budget for every cell: at most {} Adam "
      "steps (cosine lr {} -> {}, clip {}), batch {}, hidden {}; a run stops early once its validation batch is "
      "solved. Test: 1000 sequences per gap, the same for every cell. {} runs in {:.0f} s.\n\n| cell |",
      o.task, task_line, task.metric_name(), task.chance_metric(), task.solved_rule(), o.steps, o.lr, o.lr / 10, o.clip,
      o.batch, o.hidden, total, seconds);
  for (int64_t g : o.gaps) md += fmt::format(" gap {} |", g);
  md += "\n|---|";
  for (size_t i = 0; i < o.gaps.size(); ++i) md += "---|";
  md += "\n";
  nlohmann::json rows = nlohmann::json::array(), all = nlohmann::json::array();
  std::string dat;
  for (const std::string& cell : cells) {
    md += fmt::format("| {} |", cell);
    dat += fmt::format("# {}: gap solved_fraction mean_loss mean_metric\n", cell);
    for (int64_t g : o.gaps) {
      const Summary& s = summary.at({cell, g});
      const int solved = static_cast<int>(std::lround(s.solved * s.count));
      md += fmt::format(" {}{}/{} {:.4f} [{:.0f}]{} |", solved == s.count ? "**" : "", solved, s.count, s.metric, s.steps,
                        solved == s.count ? "**" : "");
      dat += fmt::format("{} {} {} {}\n", g, s.solved, s.loss, s.metric);
      rows.push_back({{"cell", cell}, {"gap", g}, {"solved_fraction", s.solved}, {"mean_test_loss", s.loss},
                      {"mean_test_metric", s.metric}, {"mean_steps", s.steps}});
    }
    md += "\n";
    dat += "\n\n";
  }
  for (const Run& r : runs)
    all.push_back({{"cell", r.cell}, {"gap", r.gap}, {"seed", r.seed}, {"steps", r.result.steps},
                   {"test_loss", std::isfinite(r.result.test.loss) ? nlohmann::json(r.result.test.loss) : nlohmann::json()},
                   {"test_metric", std::isfinite(r.result.test.metric) ? nlohmann::json(r.result.test.metric) : nlohmann::json()},
                   {"solved", r.result.solved}, {"diverged", r.result.diverged}, {"seconds", r.seconds}});
  const nlohmann::json json = {
      {"task", o.task}, {"loss", task.loss_name()}, {"metric", task.metric_name()}, {"chance_loss", task.chance_loss()},
      {"chance_metric", task.chance_metric()}, {"solved_rule", task.solved_rule()},
      {"budget", {{"steps", o.steps}, {"batch", o.batch}, {"hidden", o.hidden}, {"lr", o.lr}, {"clip", o.clip},
                  {"check_every", o.check_every}}},
      {"summary", rows}, {"runs", all}, {"seconds", seconds}};
  write_file_atomically((fs::path(o.out) / "memory.md").string(), md);
  write_file_atomically((fs::path(o.out) / "memory.json").string(), json.dump(2) + "\n");
  write_file_atomically((fs::path(o.out) / "memory.dat").string(), dat);
  // Left: solved fraction against the gap; right: mean test loss (log) with chance dashed. Names relative
  // to the folder, where gnuplot runs (run_gnuplot).
  std::string gp = fmt::format(
      "set terminal pngcairo size 1100,480 noenhanced\nset output '{}'\nset multiplot layout 1,2\nset logscale x\n"
      "set xrange [{}:{}]\nset xlabel 'gap (steps)'\nset key below\nset title 'solved fraction ({})'\n"
      "set yrange [-0.05:1.05]\nplot ",
      temporary_name("memory.png"), 0.8 * static_cast<double>(*std::min_element(o.gaps.begin(), o.gaps.end())),
      1.25 * static_cast<double>(*std::max_element(o.gaps.begin(), o.gaps.end())), task.solved_rule());
  for (size_t i = 0; i < cells.size(); ++i)
    gp += fmt::format("{}'memory.dat' index {} using 1:2 with linespoints lw 2 dt {} title '{}'", i ? ", " : "", i,
                      i + 1, cells[i]);  // dashes keep lines that coincide (all solved) visible
  gp += fmt::format("\nset title 'mean test {}'\nset autoscale y\nset logscale y\nplot ", task.loss_name());
  for (size_t i = 0; i < cells.size(); ++i)
    gp += fmt::format("'memory.dat' index {} using 1:3 with linespoints lw 2 dt {} title '{}', ", i, i + 1, cells[i]);
  gp += fmt::format("{} with lines dt 2 lc rgb 'black' title 'chance'\nunset multiplot\n", task.chance_loss());
  write_file_atomically((fs::path(o.out) / "memory.gp").string(), gp);
  const std::string plot_note = run_gnuplot(o.out, "memory.gp", {"memory.png"});
  std::cout << "\n" << md
            << fmt::format("\nwrote {0}/memory.md, {0}/memory.json{1}\n", o.out,
                           plot_note.empty() ? ", memory.png" : " (no plot: " + plot_note + ")");
  return kExitOk;
}

}  // namespace

void register_experiment_command(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<MemoryOptions>();
  CLI::App* sub = app.add_subcommand(
      "experiment", "long-term memory benchmark: every cell at every gap of the adding or copy task -> table + plot");
  sub->add_option("name", o->experiment, "the experiment: memory")->required();
  sub->add_option("--task", o->task, "adding | copy")->check(one_of({"adding", "copy"}))->capture_default_str();
  sub->add_option("--cells", o->cells, "cells (rnn_tanh, lstm, gru, gru_lbr, ...)")->delimiter(',')->capture_default_str();
  sub->add_option("--gaps", o->gaps, "gaps (adding: sequence length; copy: blanks)")->delimiter(',')->check(integer_in(1, 10000))->capture_default_str();
  sub->add_option("--seeds", o->seeds, "seeds per cell and gap")->check(integer_in(1, 100))->capture_default_str();
  sub->add_option("--steps", o->steps, "budget: optimizer steps per run at most")->check(integer_in(1, 10000000))->capture_default_str();
  sub->add_option("--hidden", o->hidden, "hidden units")->check(integer_in(1, 1024))->capture_default_str();
  sub->add_option("--batch", o->batch, "sequences per step")->check(integer_in(1, 4096))->capture_default_str();
  sub->add_option("--lr", o->lr, "Adam learning rate (cosine to lr/10)")->check(number_at_least(0, true))->capture_default_str();
  sub->add_option("--clip", o->clip, "gradient-norm clip (0: off)")->check(number_at_least(0))->capture_default_str();
  sub->add_option("--check-every", o->check_every, "validate (and stop when solved) every N steps; 0: never")->check(integer_in(0, 10000000))->capture_default_str();
  sub->add_option("--alphabet", o->alphabet, "copy: symbols in the alphabet")->check(integer_in(2, 1000))->capture_default_str();
  sub->add_option("--recall", o->recall, "copy: symbols to recall")->check(integer_in(1, 1000))->capture_default_str();
  sub->add_option("--out", o->out, "output folder")->capture_default_str();
  sub->add_flag("--overwrite", o->overwrite, "an --out folder holding an earlier experiment's files: remove them first (else refused)");
  table.push_back({sub, [o] { validate(*o); }, [o] { return run_memory(*o); }});
}

}  // namespace unroll::cli
