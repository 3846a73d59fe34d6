// SPDX-License-Identifier: Apache-2.0
// What lives here: `unroll bench`, the training-step benchmark of issue 6. It builds models::Recurrent
// (any registered cell, plus the example "cifg" cell from examples/cifg_cell.h) with a Linear head, and
// times complete training steps on one synthetic batch:
//     zero_grad -> forward (Recurrent + head) -> loss (mse | xent) -> backward -> Adam update
// It prints the median and spread (p10/p90/min) of ms per step, sequences per second, achieved GFLOP/s
// (matmul FLOPs of forward + backward, see matmul_flops()) and the peak resident set size.
//
// Note [Bench threads]: oneDNN runs on OpenMP. --threads K calls omp_set_num_threads(K), looked up at run
// time in the OpenMP runtime oneDNN already loaded (dlsym), so the command needs no OpenMP link of its own.
// K is at most 1024 (docs/cli.md): 100,000 threads crashed the runtime. Sizes are capped (--seq <= 100,000,
// --batch and --hidden <= 65,536) and refused when the estimated memory exceeds the machine's.
#include <dlfcn.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "apps/cell_file.h"
#include "apps/commands.h"
#include "apps/memory_check.h"
#include "apps/option_checks.h"
#include "apps/run_config.h"
#include "autodiff/backward.h"
#include "graph/check.h"
#include "models/linear.h"
#include "models/recurrent.h"
#include "ops/ops.h"
#include "train/loss.h"
#include "train/optimizer.h"

namespace unroll::cli {

namespace {

struct BenchCliOptions {
  std::string model = "lstm", cell_file;  // cell_file: a cell from equations instead of --model
  int input = 1, hidden = 128, seq = 16, batch = 32, layers = 1;
  int out = 0;  // head outputs; 0 = same as --input
  std::string head = "last", loss = "mse";
  int steps = 30, warmup = 5, threads = 0;  // threads 0 = leave the OpenMP default
  uint64_t seed = 1;
  bool json = false;
  bool release_grads = false;  // Note [Released gradients] in graph/grad_memory.h
  bool graph_path = false;     // RecurrentConfig::fused = false: the stock cells as recorded graph ops
  std::string recompute = "0";  // Note [Recompute segments]: 0 = off, k = segment length, sqrt = ceil(sqrt(T))
  std::string engine = "loop";  // the fused path's float32 engine: loop (Note [Step loop]) or primitive (oneDNN RNN)
  int min_length = 0;  // > 0: variable lengths, uniform in [min_length, seq] (Note [Variable lengths])
};

RnnEngine engine_of(const std::string& name) { return name == "primitive" ? RnnEngine::primitive : RnnEngine::step_loop; }

// --recompute: "sqrt" -> Recurrent::kRecomputeSqrt, else a whole number >= 0.
int64_t recompute_steps(const std::string& text) {
  if (text == "sqrt") return Recurrent::kRecomputeSqrt;
  size_t used = 0;
  int64_t k = -1;
  try {
    k = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  UNROLL_CHECK(used == text.size() && k >= 0, UsageError,
               "bench: --recompute must be a whole number >= 0 (0 = off) or sqrt, got '{}'", text);
  return k;
}

// A lower bound on the memory of one training step, in bytes (float32, 4 gates as in an LSTM): per layer
// and time step the gates and states kept for backward and their gradients, the input sequence, and
// weights with their gradient and two Adam slots. Sizes beyond the machine are refused before allocating.
double estimated_bytes(const BenchCliOptions& o) {
  const double T = o.seq, B = o.batch, H = o.hidden, in = o.input, L = o.layers, G = 4;
  const double states = 2 * T * B * H * (G + 3) * L + 2 * T * B * in;
  const double weights = 4 * (G * H * (in + H + 1) + (L - 1) * G * H * (2 * H + 1));
  return 4 * (states + weights);
}

void validate(const BenchCliOptions& o) {
  const std::string name = cell_name(o.model);  // rnn -> rnn_tanh, gru-lbr (older spelling) -> gru_lbr, others unchanged
  UNROLL_CHECK(cli_cells().contains(name) || !o.cell_file.empty(), UsageError, "bench: unknown model '{}' (hint: known cells are {})",
               o.model, fmt::join(cli_cells().names(), ", "));
  UNROLL_CHECK(o.input >= 1 && o.hidden >= 1 && o.seq >= 1 && o.batch >= 1 && o.layers >= 1 && o.out >= 0, UsageError,
               "bench: --input, --hidden, --seq, --batch and --layers must be positive (got {}, {}, {}, {}, {})",
               o.input, o.hidden, o.seq, o.batch, o.layers);
  UNROLL_CHECK(o.head == "last" || o.head == "all", UsageError, "bench: --head must be last or all, got '{}'", o.head);
  UNROLL_CHECK(o.loss == "mse" || o.loss == "xent", UsageError, "bench: --loss must be mse or xent, got '{}'",
               o.loss);
  recompute_steps(o.recompute);
  UNROLL_CHECK(o.engine == "loop" || o.engine == "primitive", UsageError,
               "bench: --engine must be loop or primitive, got '{}'", o.engine);
  UNROLL_CHECK(o.min_length <= o.seq, UsageError, "bench: --min-length {} is longer than --seq {}", o.min_length,
               o.seq);
  UNROLL_CHECK(o.steps >= 1 && o.warmup >= 0 && o.threads >= 0, UsageError,
               "bench: --steps must be positive and --warmup, --threads non-negative (got {}, {}, {})", o.steps,
               o.warmup, o.threads);
  const double need = estimated_bytes(o), have = memory_limit_bytes();
  UNROLL_CHECK(have <= 0 || need <= have, UsageError,
               "bench: --seq {} --batch {} --hidden {} --layers {} needs about {:.1f} GiB for the states kept for "
               "backward, more than the {:.1f} GiB this process may use (hint: lower --seq, --batch or --hidden)",
               o.seq, o.batch, o.hidden, o.layers, need / (1 << 30), have / (1 << 30));
}

// Matmul FLOPs of one training step. Forward: per layer the input projection 2*T*B*in*G*H and the
// recurrent projection 2*T*B*H*G*H; the head 2*N*H*O (N = T*B or B). Backward computes for each matmul
// the weight gradient (same FLOPs) and the input gradient (same FLOPs), except the input gradient of the
// first layer's input projection (x needs no gradient).
double matmul_flops(const BenchCliOptions& o, int gates, int out) {
  const double T = o.seq, B = o.batch, H = o.hidden, G = gates;
  double flops = 0;
  for (int l = 0; l < o.layers; ++l) {
    const double in = l == 0 ? o.input : o.hidden;
    flops += 2 * T * B * in * G * H * (l == 0 ? 2 : 3);
    flops += 2 * T * B * H * G * H * 3;
  }
  const double rows = o.head == "all" ? T * B : B;
  flops += 2 * rows * H * out * 3;
  return flops;
}

double percentile(const std::vector<double>& sorted, double q) {
  const double pos = (static_cast<double>(sorted.size()) - 1) * q / 100.0;
  const size_t lo = static_cast<size_t>(pos), hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// Note [Bench threads]. Returns the thread count in effect (0 when no OpenMP runtime is loaded).
int set_threads(int threads) {
  using SetFn = void (*)(int);
  using GetFn = int (*)();
  auto set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  auto get = reinterpret_cast<GetFn>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
  if (set != nullptr && threads > 0) set(threads);
  return get != nullptr ? get() : 0;
}

int run_bench(const BenchCliOptions& o) {
  const int threads = set_threads(o.threads);
  const int out = o.out > 0 ? o.out : o.input;
  RecurrentConfig config;
  config.cell = cell_name(o.model);
  config.input_size = o.input;
  config.hidden_size = o.hidden;
  config.layers = o.layers;
  config.fused = !o.graph_path;
  if (!o.cell_file.empty()) use_cell_file(config, o.cell_file);
  const std::string model = o.cell_file.empty() ? o.model : o.cell_file;  // what was asked for, as printed
  Rng rng(o.seed);
  Recurrent core(config, rng, cli_cells());
  core.set_recompute(recompute_steps(o.recompute));
  core.set_engine(engine_of(o.engine));
  Linear head(o.hidden, out, rng);
  std::vector<std::pair<std::string, Parameter*>> params;
  for (auto& p : core.named_parameters()) params.emplace_back("core/" + p.first, p.second);
  for (auto& p : head.named_parameters()) params.emplace_back("head/" + p.first, p.second);
  OptimizerConfig opt_config;
  opt_config.kind = "adam";
  opt_config.lr = 1e-3;
  Optimizer optimizer(params, opt_config);

  // One synthetic batch: x [T, B, I] ~ N(0, 1); mse targets ~ N(0, 1), xent targets uniform classes.
  const int64_t T = o.seq, B = o.batch, rows = o.head == "all" ? T * B : B;
  Tensor x = Tensor::empty(Shape{T, B, o.input}, DType::f32);
  for (int64_t i = 0; i < x.numel(); ++i) x.set(i, rng.normal());
  Tensor target = Tensor::empty(Shape{rows, out}, DType::f32);
  for (int64_t i = 0; i < target.numel(); ++i) target.set(i, rng.normal());
  std::vector<int64_t> classes(static_cast<size_t>(rows));
  for (auto& c : classes) c = static_cast<int64_t>(rng.below(static_cast<uint64_t>(out)));
  std::vector<int64_t> lengths;  // --min-length: one per sequence, uniform in [min_length, T]
  for (int64_t b = 0; o.min_length > 0 && b < B; ++b)
    lengths.push_back(o.min_length + static_cast<int64_t>(rng.below(static_cast<uint64_t>(T - o.min_length + 1))));

  Tape tape;
  tape.set_release_grads(o.release_grads);  // only parameters' .grad are read after backward
  double last_loss = 0;
  using Clock = std::chrono::steady_clock;
  const auto since = [](Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); };
  std::vector<double> ms, forward_ms, backward_ms, update_ms;  // whole step, and its phases
  const auto train_step = [&] {
    const auto t0 = Clock::now();
    optimizer.zero_grad();
    tape.reset();
    const RecurrentOutput r = core.forward(tape, tape.constant(x), {}, lengths);
    // head last: the last step's output, or with lengths each sequence's own final state (many-to-one)
    const Var last = lengths.empty() ? r.steps.back() : select(r.final_states[0], o.layers - 1);
    const Var features = o.head == "all" ? reshape(r.output, Shape{rows, o.hidden}) : last;  // [rows, H]
    const Var prediction = head.forward(features);                                                        // [rows, O]
    const Var loss = o.loss == "mse" ? mse_loss(prediction, tape.constant(target)) : cross_entropy_loss(prediction, classes);
    const auto t1 = Clock::now();
    backward(loss);
    const auto t2 = Clock::now();
    optimizer.step();
    last_loss = loss.item();
    update_ms.push_back(since(t2));
    backward_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    forward_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    ms.push_back(since(t0));
  };
  for (int i = 0; i < o.warmup; ++i) train_step();
  ms.clear();
  forward_ms.clear();
  backward_ms.clear();
  update_ms.clear();
  for (int i = 0; i < o.steps; ++i) train_step();
  const auto median_of = [&](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return percentile(v, 50);
  };
  const double fwd = median_of(forward_ms), bwd = median_of(backward_ms), upd = median_of(update_ms);
  UNROLL_CHECK(std::isfinite(last_loss), NumericError, "bench: the loss became {} (hint: lower the learning rate)",
               last_loss);
  std::sort(ms.begin(), ms.end());
  const double median = percentile(ms, 50), p10 = percentile(ms, 10), p90 = percentile(ms, 90);
  const double flops = matmul_flops(o, core.cell(0).gate_count(), out);
  const double seq_per_s = static_cast<double>(B) / (median / 1e3);
  const double gflops = flops / (median / 1e3) / 1e9;
  const double rss = peak_rss_mib();

  // The OpenMP runtime's waiting, as libgomp read it at load (Note [OpenMP wait policy]): null when unset.
  const auto env_or_null = [](const char* name) -> nlohmann::json {
    const char* v = std::getenv(name);
    return v != nullptr ? nlohmann::json(v) : nlohmann::json(nullptr);
  };
  if (o.json) {
    const nlohmann::json j = {
        {"model", model},     {"cell", config.cell},    {"input", o.input},         {"hidden", o.hidden},
        {"seq", o.seq},       {"batch", o.batch},       {"layers", o.layers},       {"out", out},
        {"head", o.head},     {"loss", o.loss},         {"threads", threads},       {"warmup", o.warmup},
        {"steps", o.steps},   {"median_ms", median},    {"p10_ms", p10},            {"p90_ms", p90},
        {"min_ms", ms.front()}, {"max_ms", ms.back()},  {"seq_per_s", seq_per_s},   {"gflops", gflops},
        {"matmul_gflop_per_step", flops / 1e9},         {"peak_rss_mib", rss},      {"final_loss", last_loss},
        {"forward_ms", fwd},  {"backward_ms", bwd},     {"update_ms", upd},   {"release_grads", o.release_grads},
        {"graph_path", o.graph_path}, {"recompute", o.recompute},
        {"engine", o.engine}, {"min_length", o.min_length}, {"omp_wait_policy", env_or_null("OMP_WAIT_POLICY")},
        {"gomp_spincount", env_or_null("GOMP_SPINCOUNT")}};
    std::cout << j.dump() << "\n";
  } else {
    std::cout << fmt::format("unroll bench: {} (cell {}), input {}, hidden {}, seq {}, batch {}, layers {}, head {} -> "
                             "{}, loss {}, {} threads, {} steps after {} warm-up, engine {}{}{}\n",
                             model, config.cell, o.input, o.hidden, o.seq, o.batch, o.layers, o.head, out, o.loss,
                             threads, o.steps, o.warmup, o.engine,
                             recompute_steps(o.recompute) == 0 ? "" : ", recompute " + o.recompute + " (graph path)",
                             o.min_length == 0 ? "" : fmt::format(", lengths in [{}, {}]", o.min_length, o.seq));
    std::cout << fmt::format("  ms/step: median {:.3f}  p10 {:.3f}  p90 {:.3f}  min {:.3f}  max {:.3f}\n", median, p10,
                             p90, ms.front(), ms.back());
    std::cout << fmt::format("  phases (medians): zero_grad+forward+loss {:.3f}, backward {:.3f}, Adam {:.3f} ms\n",
                             fwd, bwd, upd);
    std::cout << fmt::format("  {:.1f} sequences/s, {:.2f} GFLOP/s (matmul, {:.4f} GFLOP/step), peak RSS {:.1f} MiB\n",
                             seq_per_s, gflops, flops / 1e9, rss);
  }
  return kExitOk;
}

}  // namespace

void register_bench_command(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<BenchCliOptions>();
  CLI::App* sub = app.add_subcommand("bench", "time complete training steps of a recurrent model (issue 6)");
  sub->add_option("--model", o->model, "rnn | lstm | gru | gru_lbr | cifg | any registered cell")
      ->capture_default_str();
  sub->add_option("--cell-file", o->cell_file, "a cell written as equations (docs/cells.md) instead of --model")
      ->excludes("--model");
  sub->add_option("--input", o->input, "input features")->check(integer_in(1, 65536))->capture_default_str();
  sub->add_option("--hidden", o->hidden, "hidden units")->check(integer_in(1, 65536))->capture_default_str();
  sub->add_option("--seq", o->seq, "time steps")->check(integer_in(1, 100000))->capture_default_str();
  sub->add_option("--batch", o->batch, "batch size")->check(integer_in(1, 65536))->capture_default_str();
  sub->add_option("--layers", o->layers, "stacked layers")->check(integer_in(1, 64))->capture_default_str();
  sub->add_option("--out", o->out, "head outputs (classes for xent); 0 = same as --input")->check(integer_in(0, 65536))->capture_default_str();
  sub->add_option("--head", o->head, "last: head on the last state; all: on every step")->capture_default_str();
  sub->add_option("--loss", o->loss, "mse | xent")->capture_default_str();
  sub->add_option("--steps", o->steps, "timed steps")->check(integer_in(1, 100000))->capture_default_str();
  sub->add_option("--warmup", o->warmup, "untimed steps first")->check(integer_in(0, 100000))->capture_default_str();
  sub->add_option("--threads", o->threads, "OpenMP threads (0: the default)")->check(integer_in(0, 1024))->capture_default_str();
  sub->add_option("--seed", o->seed, "seed for weights and data")->check(unsigned_in(0))->capture_default_str();
  sub->add_flag("--json", o->json, "one JSON object on stdout");
  sub->add_flag("--release-grads", o->release_grads,
                "backward releases intermediate gradient buffers for reuse (Note [Released gradients])");
  sub->add_flag("--graph-path", o->graph_path,
                "cells run as recorded graph ops instead of one fused op per layer (Note [Fused fast path] in "
                "models/cell.h; a custom cell's cell program, Note [Program step loop]); custom cells without a "
                "program always do");
  sub->add_option("--engine", o->engine,
                  "the fused op's float32 engine: loop (per-step oneDNN products, the least memory: Note [Step "
                  "loop] in ops/rnn_sequence.cpp) or primitive (oneDNN's fused RNN primitive)")
      ->capture_default_str();
  sub->add_option("--min-length", o->min_length,
                  "variable-length batch: lengths uniform in [N, seq], seeded; --head last then reads each "
                  "sequence's own final state; 0 = every sequence has length seq")
      ->check(integer_in(0, 100000))
      ->capture_default_str();
  sub->add_option("--recompute", o->recompute,
                  "keep states every K steps and recompute the rest in backward (Note [Recompute segments]); "
                  "sqrt = ceil(sqrt(seq)); 0 = off; uses the graph path")
      ->capture_default_str();
  table.push_back({sub, [o] { validate(*o); }, [o] { return run_bench(*o); }});
}

}  // namespace unroll::cli
