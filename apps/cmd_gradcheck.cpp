// SPDX-License-Identifier: Apache-2.0
// What lives here: `unroll gradcheck --cell NAME`: a float64 finite-difference check of one recurrent
// layer of that cell unrolled over --steps time steps, with respect to the input sequence, the initial
// states and every parameter; prints the worst error per tensor (and the entries skipped at ReLU kinks,
// autodiff/gradcheck.h) and exits 1 on failure with one line on stderr.
#include <iostream>

#include "apps/cell_file.h"
#include "apps/commands.h"
#include "apps/option_checks.h"
#include "apps/run_config.h"
#include "autodiff/gradcheck.h"
#include "graph/check.h"
#include "models/recurrent.h"

namespace unroll::cli {

namespace {

struct GradcheckCliOptions {
  std::string cell, cell_file;
  int input = 3, hidden = 4, steps = 3, batch = 2;
  uint64_t seed = 7;
  double atol = 1e-6, rtol = 1e-4;
};

RecurrentConfig layer_config(const GradcheckCliOptions& o) {
  RecurrentConfig config;
  config.cell = cell_name(o.cell);
  if (!o.cell_file.empty()) use_cell_file(config, o.cell_file);
  config.input_size = o.input;
  config.hidden_size = o.hidden;
  return config;
}

// Touches no file (the CLI fuzzer calls it): a --cell-file is read by run_gradcheck.
void validate(const GradcheckCliOptions& o) {
  UNROLL_CHECK(o.cell.empty() != o.cell_file.empty(), UsageError,
               "gradcheck: give --cell NAME or --cell-file FILE (one of them)");
  UNROLL_CHECK(!o.cell_file.empty() || cli_cells().contains(cell_name(o.cell)), UsageError,
               "gradcheck: unknown cell '{}' (hint: known cells are {}; or --cell-file FILE)", o.cell,
               fmt::join(cli_cells().names(), ", "));
  UNROLL_CHECK(o.input >= 1 && o.input <= 64 && o.hidden >= 1 && o.hidden <= 64 && o.steps >= 1 && o.steps <= 64 &&
                   o.batch >= 1 && o.batch <= 16,
               UsageError,
               "gradcheck: --input, --hidden and --steps must be in [1, 64] and --batch in [1, 16] (got {}, {}, {}, {})",
               o.input, o.hidden, o.steps, o.batch);
}

int run_gradcheck(const GradcheckCliOptions& o) {
  const RecurrentConfig config = layer_config(o);
  Rng rng(o.seed);
  Recurrent layer(config, rng, cli_cells());
  std::vector<Parameter*> params;
  for (auto& [path, p] : layer.named_parameters()) {
    p->value = p->value.to(DType::f64);
    p->grad = Tensor::zeros(p->value.shape(), DType::f64);
    params.push_back(p);
  }
  std::vector<Tensor> inputs;
  std::vector<std::string> names{"x"};
  Tensor x = Tensor::empty(Shape{o.steps, o.batch, o.input}, DType::f64);
  for (int64_t i = 0; i < x.numel(); ++i) x.set(i, rng.uniform(-1, 1));
  inputs.push_back(x);
  for (int s = 0; s < layer.state_count(); ++s) {
    Tensor h0 = Tensor::empty(Shape{1, o.batch, o.hidden}, DType::f64);
    for (int64_t i = 0; i < h0.numel(); ++i) h0.set(i, rng.uniform(-0.5, 0.5));
    inputs.push_back(h0);
    names.push_back(s == 0 ? "h0" : fmt::format("state{}_0", s));
  }
  GradcheckOptions options;
  options.atol = o.atol;
  options.rtol = o.rtol;
  options.input_names = names;
  options.seed = o.seed;
  const GradcheckReport report = gradcheck(
      [&](Tape& tape, const std::vector<Var>& in) {
        std::vector<Var> states(in.begin() + 1, in.end());
        const RecurrentOutput out = layer.forward(tape, in[0], states);
        return out.output;
      },
      inputs, params, options);
  std::cout << fmt::format("unroll gradcheck: cell {} (input {}, hidden {}, steps {}, batch {}), float64, tolerance "
                           "|a - n| <= {} + {} |n|\n",
                           cell_label(config), o.input, o.hidden, o.steps, o.batch, o.atol, o.rtol);
  std::cout << fmt::format("  {:<12} {:>12} {:>12} {:>10}  {}\n", "tensor", "abs error", "rel error", "badness", "");
  for (size_t i = 0; i < report.worst_per_input.size(); ++i) {
    const GradcheckEntry& e = report.worst_per_input[i];
    const int64_t kinks = report.kinks_per_input[i];
    std::cout << fmt::format("  {:<12} {:>12.3e} {:>12.3e} {:>10.3g}  {}{}\n", e.input, e.abs_error, e.rel_error,
                             e.badness, e.badness > 1 ? "FAILED" : "ok",
                             kinks > 0 ? fmt::format(" ({} at a kink, skipped)", kinks) : "");
  }
  std::cout << report.summary() << "\n";
  if (report.ok) return kExitOk;
  std::cout << std::flush;
  std::cerr << fmt::format("unroll: gradcheck FAILED for cell {}: '{}' index {}: analytic {:.6g}, numeric {:.6g} "
                           "(|a - n| = {:.3g} > {} + {} |n|)\n",
                           config.cell, report.worst.input, report.worst.index, report.worst.analytic,
                           report.worst.numeric, report.worst.abs_error, o.atol, o.rtol);
  return kExitFailedCheck;
}

}  // namespace

void register_gradcheck_command(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<GradcheckCliOptions>();
  CLI::App* sub = app.add_subcommand("gradcheck", "float64 gradient check of a recurrent cell unrolled over time");
  sub->add_option("--cell", o->cell, "rnn | lstm | gru | gru_lbr | any registered cell");
  sub->add_option("--cell-file", o->cell_file, "a cell written as equations (docs/cells.md)")->excludes("--cell");
  sub->add_option("--input", o->input, "input features")->check(integer_in(1, 64))->capture_default_str();
  sub->add_option("--hidden", o->hidden, "hidden units")->check(integer_in(1, 64))->capture_default_str();
  sub->add_option("--steps", o->steps, "time steps")->check(integer_in(1, 64))->capture_default_str();
  sub->add_option("--batch", o->batch, "batch size")->check(integer_in(1, 16))->capture_default_str();
  sub->add_option("--seed", o->seed, "seed for weights and inputs")->check(unsigned_in(0))->capture_default_str();
  sub->add_option("--atol", o->atol, "absolute tolerance")->check(number_at_least(0))->capture_default_str();
  sub->add_option("--rtol", o->rtol, "relative tolerance")->check(number_at_least(0))->capture_default_str();
  table.push_back({sub, [o] { validate(*o); }, [o] { return run_gradcheck(*o); }});
}

}  // namespace unroll::cli
