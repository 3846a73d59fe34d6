// SPDX-License-Identifier: Apache-2.0
// What lives here: `unroll sweep`: the paper's grid (cells x history x horizon x seeds) trained one run
// after another, each evaluated at its best validation epoch on the test split; writes DIR/sweep.md (mean
// and spread of test RMSE next to the persistence and AR baselines), DIR/sweep.json and DIR/sweep.png.
// The full grid (3 x 6 x 3 x 3 = 162 runs) takes hours; --cells/--histories/--horizons/--seeds and
// --epochs/--length make a reduced one. Each finished run leaves runs/<name>/result.json; --resume continues
// an interrupted sweep without training those again. Under `mpirun -np N` (docs/distributed.md) rank 0
// hands the runs out one at a time to ranks 1..N-1 as they become free (each run single-process, the same
// computation as in a serial sweep, so the same numbers) and writes the same files.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "apps/commands.h"
#include "apps/memory_check.h"
#include "apps/option_checks.h"
#include "apps/report.h"
#include "apps/run_config.h"
#include "apps/run_folder.h"
#include "graph/check.h"
#include "io/output_files.h"
#include "train/communicator.h"

namespace unroll::cli {

namespace {

struct SweepOptions {
  std::vector<int> cells{32, 64, 128};
  std::vector<int64_t> histories{1, 2, 4, 8, 16, 32};
  std::vector<int64_t> horizons{1, 4, 16};
  int seeds = 3;
  std::string dataset = "magnet", model = "lstm", out = "runs/sweep", data_dir;
  int64_t epochs = 8, length = 0, batch = 64;
  double lr = 0.012, clip = 1.0;  // `unroll train`'s magnet default with the cosine (chosen on validation, docs/training.md)
  bool residual = true, highway = false, overwrite = false, resume = false;
};

RunConfig base_config(const SweepOptions& o) {
  RunConfig r;
  r.data.dataset = o.dataset;
  r.data.length = o.length;
  r.model.net.recurrent.cell = cell_name(o.model);
  r.model.residual = o.residual;
  r.model.highway = o.highway;
  r.trainer.epochs = o.epochs;
  r.trainer.batch_size = o.batch;
  r.trainer.optimizer.lr = o.lr;
  r.trainer.optimizer.clip_norm = o.clip;
  r.trainer.schedule.kind = "cosine";  // runs are never resumed here, so the schedule may depend on --epochs
  return r;
}

void validate(const SweepOptions& o) {
  UNROLL_CHECK(!o.cells.empty() && !o.histories.empty() && !o.horizons.empty() && o.seeds >= 1 && o.seeds <= 100,
               UsageError, "sweep: the grid is empty (hint: --cells, --histories, --horizons need values, --seeds >= 1)");
  const size_t runs = o.cells.size() * o.histories.size() * o.horizons.size() * static_cast<size_t>(o.seeds);
  UNROLL_CHECK(runs <= 10000, UsageError, "sweep: {} runs is too many (limit 10000; hint: shorten the lists)", runs);
  for (int c : o.cells) {
    RunConfig r = base_config(o);
    r.model.net.recurrent.hidden_size = c;
    for (int64_t h : o.histories)
      for (int64_t k : o.horizons) {
        r.data.history = h;
        r.model.history = h;
        r.data.horizon = k;
        r.validate();
      }
  }
}

struct Cell {
  std::vector<double> rmse;
  double persistence = 0, ar = 0;
};

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
double stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

// One run of the grid, in the order a serial sweep trains them (horizon, history, cells, seed).
struct Job {
  int cells = 0;
  int64_t history = 0, horizon = 0;
  int seed = 0;
};
struct RunResult {
  double rmse = 0, persistence = 0, ar = 0;
};

std::vector<Job> grid_jobs(const SweepOptions& o) {
  std::vector<Job> jobs;
  for (int64_t k : o.horizons)
    for (int64_t h : o.histories)
      for (int c : o.cells)
        for (int seed = 1; seed <= o.seeds; ++seed) jobs.push_back({c, h, k, seed});
  return jobs;
}

std::string run_dir(const SweepOptions& o, const Job& j) {
  return (std::filesystem::path(o.out) / "runs" /
          fmt::format("c{}_h{}_k{}_s{}", j.cells, j.history, j.horizon, j.seed)).string();
}

nlohmann::json result_json(const RunResult& r) {
  return {{"test_rmse", r.rmse}, {"persistence_rmse", r.persistence}, {"ar_rmse", r.ar}};
}
RunResult result_from(const nlohmann::json& j) {
  return {j.at("test_rmse").get<double>(), j.at("persistence_rmse").get<double>(), j.at("ar_rmse").get<double>()};
}

// A finished run's result.json (false when absent or unreadable: the run is trained again).
bool read_result(const SweepOptions& o, const Job& j, RunResult* out) {
  const std::filesystem::path file = std::filesystem::path(run_dir(o, j)) / "result.json";
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return false;
  try {
    *out = result_from(read_run_json(file.string(), "sweep"));
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// Trains and evaluates one run (single process); `loaded` caches the data of the last (history, horizon).
RunResult run_one(const SweepOptions& o, const Job& j, std::unique_ptr<LoadedData>& loaded) {
  namespace fs = std::filesystem;
  RunConfig r = base_config(o);
  r.data.history = j.history;
  r.model.history = j.history;
  r.data.horizon = j.horizon;
  if (!loaded || loaded->data.spec.history != j.history || loaded->data.spec.horizon != j.horizon)
    loaded = std::make_unique<LoadedData>(load_data(r.data, o.data_dir.empty() ? default_data_dir() : o.data_dir));
  r.model.net.recurrent.hidden_size = j.cells;
  r.trainer.seed = static_cast<uint64_t>(j.seed);
  r.trainer.out_dir = run_dir(o, j);
  Rng init(r.trainer.seed);
  auto model = std::make_unique<ForecastModel>(r.model, init);
  if (r.model.highway) {
    const LinearAR ar = fit_ar_for_highway(loaded->data.scaled, loaded->data.train);
    model->init_from_ar(ar.weights, ar.intercept);
  }
  Trainer trainer(*model, loaded->data, r.trainer, r.to_json());
  const TrainResult tr = trainer.fit();
  UNROLL_CHECK(tr.status == TrainStatus::completed || tr.status == TrainStatus::early_stopped, NumericError,
               "sweep: run {} stopped: {}", r.trainer.out_dir, tr.message);
  load_parameters(*model, load_checkpoint((fs::path(r.trainer.out_dir) / "best.h5").string()));
  const Evaluation e = evaluate(trainer, loaded->data, loaded->data.test, loaded->seasonal_period);
  const RunResult out{e.rmse, e.baselines.persistence.rmse, e.baselines.ar.rmse};
  write_file_atomically((fs::path(r.trainer.out_dir) / "result.json").string(), result_json(out).dump(2) + "\n");
  return out;
}

// Rank 0 of a distributed sweep: hands `todo` out one run at a time to the ranks that ask, in grid order,
// and calls done(index, result) as results come back; ends when every worker has been told to stop.
template <class Done>
void hand_out_runs(const std::vector<size_t>& todo, Communicator& comm, Done done) {
  size_t next = 0;
  int working = comm.size() - 1;
  while (working > 0) {
    int from = 0;
    const nlohmann::json msg = nlohmann::json::parse(comm.receive_any(&from));
    if (msg.contains("job")) done(msg["job"].get<size_t>(), result_from(msg["result"]));
    if (next < todo.size()) {
      comm.send(from, nlohmann::json{{"job", todo[next++]}}.dump());
    } else {
      comm.send(from, R"({"stop":true})");
      --working;
    }
  }
}

// A worker rank: asks rank 0 for runs, trains each, returns its result, until told to stop.
void serve_runs(const SweepOptions& o, const std::vector<Job>& jobs, Communicator& comm) {
  std::unique_ptr<LoadedData> loaded;
  nlohmann::json reply = nlohmann::json::object();  // the first message only asks for work
  for (;;) {
    comm.send(0, reply.dump());
    const nlohmann::json msg = nlohmann::json::parse(comm.receive_any(nullptr));
    if (msg.contains("stop")) return;
    const size_t index = msg.at("job").get<size_t>();
    UNROLL_CHECK(index < jobs.size(), UsageError, "sweep: rank 0 sent run {} of {}", index, jobs.size());
    reply = {{"job", index}, {"result", result_json(run_one(o, jobs[index], loaded))}};
  }
}

int run_sweep(const SweepOptions& o) {
  namespace fs = std::filesystem;
  {  // the largest run of the grid must fit in memory
    RunConfig largest = base_config(o);
    largest.model.net.recurrent.hidden_size = *std::max_element(o.cells.begin(), o.cells.end());
    largest.data.history = *std::max_element(o.histories.begin(), o.histories.end());
    check_memory(largest, "sweep");
  }
  const std::unique_ptr<Communicator> comm = world_communicator();
  const std::vector<Job> jobs = grid_jobs(o);
  const size_t total = jobs.size();
  std::vector<RunResult> finished(total);
  std::vector<bool> have(total, false);
  if (comm->rank() > 0) {  // a worker: runs what rank 0 hands out until it says stop
    serve_runs(o, jobs, *comm);
    comm->finish();
    return kExitOk;
  }
  // The sweep folder (and with it every run folder under runs/) is locked for the whole sweep; an earlier
  // sweep's files are refused unless --overwrite (then removed first) or --resume (finished runs are kept).
  const OutputFolder folder(o.out, "--out");
  if (!o.resume)
    clear_earlier_outputs(o.out, existing_entries(o.out, {"sweep.md", "sweep.json", "sweep.dat", "sweep.gp", "sweep.png", "runs"}),
                          o.overwrite, "sweep", "--out", "--resume continues it; ");
  const auto start = std::chrono::steady_clock::now();
  size_t done = 0;
  const auto record = [&](size_t index, const RunResult& r, bool again) {
    finished[index] = r;
    have[index] = true;
    ++done;
    const Job& j = jobs[index];
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << fmt::format("[{}/{}] cells {} history {} horizon {} seed {}: test RMSE {:.5f} (persistence "
                             "{:.5f}, AR {:.5f})  {}\n",
                             done, total, j.cells, j.history, j.horizon, j.seed, r.rmse, r.persistence, r.ar,
                             again ? std::string("finished earlier") : fmt::format("{:.0f}s elapsed", elapsed))
              << std::flush;
  };
  std::vector<size_t> todo;
  for (size_t i = 0; i < total; ++i) {
    RunResult earlier;
    if (o.resume && read_result(o, jobs[i], &earlier))
      record(i, earlier, true);
    else
      todo.push_back(i);
  }
  if (comm->size() == 1) {
    std::unique_ptr<LoadedData> loaded;
    for (size_t i : todo) record(i, run_one(o, jobs[i], loaded), false);
  } else {
    hand_out_runs(todo, *comm, [&](size_t i, const RunResult& r) { record(i, r, false); });
  }
  std::map<std::tuple<int, int64_t, int64_t>, Cell> results;
  for (size_t i = 0; i < total; ++i) {  // grid order: seeds in order within a cell, as a serial sweep
    Cell& cell = results[{jobs[i].cells, jobs[i].history, jobs[i].horizon}];
    cell.rmse.push_back(finished[i].rmse);
    cell.persistence = finished[i].persistence;
    cell.ar = finished[i].ar;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Markdown table, one row per (horizon, history), one column per cell count.
  std::string md = fmt::format(
      "# unroll sweep: {} {} on {}\n\nTest RMSE on the scaled series (mean ± sample std over {} seed(s)), each run "
      "evaluated at its best validation epoch; {} epochs, batch {}, lr {}, clip {}, residual {}, highway {}{}. Lower is better; **bold** = "
      "better than both baselines. {} runs in {:.0f} s.\n\n",
      o.model, "cells", o.dataset, o.seeds, o.epochs, o.batch, o.lr, o.clip, o.residual, o.highway,
      o.length > 0 ? fmt::format(", series length {}", o.length) : "", total, seconds);
  md += "| horizon | history |";
  for (int c : o.cells) md += fmt::format(" {} cells |", c);
  md += " persistence | AR(history) |\n|---|---|";
  for (size_t i = 0; i < o.cells.size(); ++i) md += "---|";
  md += "---|---|\n";
  nlohmann::json rows = nlohmann::json::array();
  std::string dat;
  for (int64_t k : o.horizons) {
    for (int64_t h : o.histories) {
      md += fmt::format("| {} | {} |", k, h);
      const Cell* any = nullptr;
      for (int c : o.cells) {
        const Cell& cell = results.at({c, h, k});
        any = &cell;
        const double m = mean(cell.rmse), s = stddev(cell.rmse);
        const bool better = m < cell.persistence && m < cell.ar;
        md += better ? fmt::format(" **{:.4f}** ± {:.4f} |", m, s) : fmt::format(" {:.4f} ± {:.4f} |", m, s);
        rows.push_back({{"cells", c}, {"history", h}, {"horizon", k}, {"rmse", cell.rmse}, {"mean", m}, {"std", s},
                        {"persistence_rmse", cell.persistence}, {"ar_rmse", cell.ar}});
      }
      md += fmt::format(" {:.4f} | {:.4f} |\n", any->persistence, any->ar);
    }
  }
  for (int64_t k : o.horizons)
    for (int c : o.cells) {
      dat += fmt::format("# horizon {} cells {}\n", k, c);
      for (int64_t h : o.histories) {
        const Cell& cell = results.at({c, h, k});
        dat += fmt::format("{} {} {} {} {}\n", h, mean(cell.rmse), stddev(cell.rmse), cell.persistence, cell.ar);
      }
      dat += "\n\n";
    }
  write_file_atomically((fs::path(o.out) / "sweep.md").string(), md);
  write_file_atomically((fs::path(o.out) / "sweep.json").string(),
                  nlohmann::json{{"rows", rows}, {"seconds", seconds}, {"epochs", o.epochs}}.dump(2) + "\n");
  write_file_atomically((fs::path(o.out) / "sweep.dat").string(), dat);
  // Plot: test RMSE against history, one panel per horizon, one line per cell count, baselines dashed.
  // Names relative to the sweep folder, where gnuplot runs (run_gnuplot): no path is quoted into the script.
  std::string gp = fmt::format("set terminal pngcairo size {},420\nset output '{}'\nset multiplot layout 1,{}\n"
                               "set logscale x 2\nset xlabel 'history'\nset ylabel 'test RMSE (scaled)'\n",
                               420 * o.horizons.size(), temporary_name("sweep.png"), o.horizons.size());
  size_t block = 0;
  for (int64_t k : o.horizons) {
    gp += fmt::format("set title 'horizon {}'\nplot ", k);
    for (size_t i = 0; i < o.cells.size(); ++i, ++block)
      gp += fmt::format("'sweep.dat' index {} using 1:2:3 with yerrorlines title '{} cells', ", block, o.cells[i]);
    gp += fmt::format("'sweep.dat' index {0} using 1:4 with lines dt 2 title 'persistence', '' index {0} using "
                      "1:5 with lines dt 3 title 'AR'\n",
                      block - 1);
  }
  gp += "unset multiplot\n";
  write_file_atomically((fs::path(o.out) / "sweep.gp").string(), gp);
  const std::string plot_note = run_gnuplot(o.out, "sweep.gp", {"sweep.png"});
  std::cout << "\n" << md
            << fmt::format("\nwrote {0}/sweep.md, {0}/sweep.json{1}\n", o.out,
                           plot_note.empty() ? ", sweep.png" : " (no plot: " + plot_note + ")");
  comm->finish();
  return kExitOk;
}

}  // namespace

void register_sweep_command(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<SweepOptions>();
  CLI::App* sub = app.add_subcommand("sweep", "the paper's grid: cells x history x horizon x seeds -> Markdown table + plot");
  sub->add_option("--cells", o->cells, "hidden sizes")->delimiter(',')->check(integer_in(1, 4096))->capture_default_str();
  sub->add_option("--histories", o->histories, "history lengths")->delimiter(',')->check(integer_in(1, 4096))->capture_default_str();
  sub->add_option("--horizons", o->horizons, "horizons")->delimiter(',')->check(integer_in(1, 4096))->capture_default_str();
  sub->add_option("--seeds", o->seeds, "seeds per configuration (1..N)")->check(integer_in(1, 100))->capture_default_str();
  sub->add_option("--dataset", o->dataset, "built-in data")->check(one_of({"magnet", "nottem"}))->capture_default_str();
  sub->add_option("--data-dir", o->data_dir, "where nottem.csv is");
  sub->add_option("--model", o->model, "cell")->capture_default_str();
  sub->add_option("--epochs", o->epochs, "epochs per run")->check(integer_in(1, 1000000))->capture_default_str();
  sub->add_option("--length", o->length, "magnet series length (0 = default)")->check(integer_in(0, 100000000))->capture_default_str();
  sub->add_option("--batch", o->batch, "batch size")->check(integer_in(1, 1000000))->capture_default_str();
  sub->add_option("--lr", o->lr, "learning rate")->check(number_at_least(0))->capture_default_str();
  sub->add_option("--clip", o->clip, "gradient-norm clip")->check(number_at_least(0))->capture_default_str();
  sub->add_option("--residual", o->residual, "predict the change from the last input")->check(true_or_false())->capture_default_str();
  sub->add_option("--highway", o->highway, "add a jointly trained linear AR over the window")->check(true_or_false())->capture_default_str();
  sub->add_option("--out", o->out, "output folder")->capture_default_str();
  sub->add_flag("--overwrite", o->overwrite, "an --out folder holding an earlier sweep's files: remove them first (else refused)");
  sub->add_flag("--resume", o->resume,
                "continue the sweep in --out: runs that finished (runs/NAME/result.json) are read back, not trained again")
      ->excludes("--overwrite");
  table.push_back({sub, [o] { validate(*o); }, [o] { return run_sweep(*o); }});
}

}  // namespace unroll::cli
