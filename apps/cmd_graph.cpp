// SPDX-License-Identifier: Apache-2.0
// What lives here: `unroll graph --cell NAME | --cell-file FILE [--steps 2] [--backward] --out FILE`, the
// unrolled steps of one recurrent layer drawn from its tape (Tape::to_dot: every op with its shape, in a
// cluster per module path; --backward adds the gradients' flow). FILE.dot is the DOT text; FILE.svg and
// FILE.png are rendered by Graphviz's `dot`, run without a shell (run_tool, apps/report.h).
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include <fmt/ranges.h>

#include "apps/cell_file.h"
#include "apps/commands.h"
#include "apps/option_checks.h"
#include "apps/report.h"
#include "apps/run_config.h"
#include "graph/check.h"
#include "io/output_files.h"
#include "models/recurrent.h"
#include "ops/ops.h"

namespace unroll::cli {

namespace {

struct GraphCliOptions {
  std::string cell, cell_file, out;
  int input = 2, hidden = 3, steps = 2, batch = 1;
  bool backward = false;
};

std::string format_of(const std::string& out) {
  const std::string ext = std::filesystem::path(out).extension().string();
  return ext.empty() ? "" : ext.substr(1);
}

RecurrentConfig layer_config(const GraphCliOptions& o) {
  RecurrentConfig config;
  config.cell = cell_name(o.cell);
  if (!o.cell_file.empty()) use_cell_file(config, o.cell_file);
  config.input_size = o.input;
  config.hidden_size = o.hidden;
  config.fused = false;  // the cell's own ops, step by step (Note [Fused fast path])
  return config;
}

// Touches no file (the CLI fuzzer calls it): a --cell-file is read by run_graph.
void validate(const GraphCliOptions& o) {
  UNROLL_CHECK(o.cell.empty() != o.cell_file.empty(), UsageError,
               "graph: give --cell NAME or --cell-file FILE (one of them)");
  UNROLL_CHECK(!o.cell_file.empty() || cli_cells().contains(cell_name(o.cell)), UsageError,
               "graph: unknown cell '{}' (hint: known cells are {}; or --cell-file FILE)", o.cell,
               fmt::join(cli_cells().names(), ", "));
  const std::string format = format_of(o.out);
  UNROLL_CHECK(format == "dot" || format == "svg" || format == "png", UsageError,
               "graph: --out must end in .dot, .svg or .png, got '{}'", o.out);
}

int run_graph(const GraphCliOptions& o) {
  const RecurrentConfig config = layer_config(o);
  Rng rng(1);
  Recurrent layer(config, rng, cli_cells());
  layer.set_batch_split(false);  // one tape: every op drawn, not one recurrent_split node
  Tape tape;
  Tensor x = Tensor::empty(Shape{o.steps, o.batch, o.input}, DType::f32);
  for (int64_t i = 0; i < x.numel(); ++i) x.set(i, rng.uniform(-1, 1));
  const RecurrentOutput r = layer.forward(tape, tape.constant(x));
  if (o.backward) (void)sum(r.output);  // the loss whose gradient the drawing follows
  DotOptions options;
  options.backward = o.backward;
  options.title = fmt::format("{}, {} steps", cell_label(config), o.steps);
  const std::string dot = tape.to_dot(options);
  const std::string format = format_of(o.out);
  if (format == "dot") {
    write_file_atomically(o.out, dot);
  } else {
    namespace fs = std::filesystem;
    const fs::path out(o.out);
    const std::string dir = out.parent_path().empty() ? "." : out.parent_path().string();
    const std::string name = out.filename().string(), source = temporary_name(name + ".dot");
    write_file_atomically((fs::path(dir) / source).string(), dot);
    const std::string why = run_tool("dot", {"-T" + format, "-o", "./" + temporary_name(name), "./" + source}, dir,
                                     {name}, "Graphviz is not installed (hint: apt-get install graphviz, or write "
                                             "--out FILE.dot)");
    ::unlink((fs::path(dir) / source).c_str());
    UNROLL_CHECK(why.empty(), IoError, "graph: {}", why);
  }
  std::cout << fmt::format("unroll graph: {} ({} steps, {} tape nodes{}) -> {}\n", cell_label(config), o.steps,
                           tape.size(), o.backward ? ", with gradients" : "", o.out);
  return kExitOk;
}

}  // namespace

void register_graph_command(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<GraphCliOptions>();
  CLI::App* sub = app.add_subcommand("graph", "draw a recurrent cell's unrolled steps (Graphviz DOT, SVG or PNG)");
  sub->add_option("--cell", o->cell, "rnn | lstm | gru | gru_lbr | any registered cell");
  sub->add_option("--cell-file", o->cell_file, "a cell written as equations (docs/cells.md)")->excludes("--cell");
  sub->add_option("--steps", o->steps, "time steps to unroll")->check(integer_in(1, 16))->capture_default_str();
  sub->add_option("--input", o->input, "input features")->check(integer_in(1, 64))->capture_default_str();
  sub->add_option("--hidden", o->hidden, "hidden units")->check(integer_in(1, 64))->capture_default_str();
  sub->add_option("--batch", o->batch, "batch size")->check(integer_in(1, 16))->capture_default_str();
  sub->add_flag("--backward", o->backward, "also draw the gradients and their flow (dashed)");
  sub->add_option("--out", o->out, "FILE.dot (DOT text), FILE.svg or FILE.png (rendered with Graphviz's dot)")
      ->required();
  table.push_back({sub, [o] { validate(*o); }, [o] { return run_graph(*o); }});
}

}  // namespace unroll::cli
