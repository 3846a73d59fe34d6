// SPDX-License-Identifier: Apache-2.0
// What lives here: `unroll probe --checkpoint FILE`: gate saturation of a trained forecaster on windows of
// its test split (train/gradient_flow.h gate_saturation): per gate, the fraction of sigmoid values below
// 0.05 / above 0.95 and of tanh values beyond -+0.95, averaged over steps; --json prints the per-step
// fractions too, --out FILE.json writes them.
#include <filesystem>
#include <iostream>

#include "apps/commands.h"
#include "apps/option_checks.h"
#include "apps/probe_data.h"
#include "apps/run_config.h"
#include "graph/check.h"
#include "io/output_files.h"
#include "train/gradient_flow.h"

namespace unroll::cli {

namespace {

struct ProbeOptions {
  std::string checkpoint, out, data_dir;
  int64_t batch = 256, steps = 0;
  bool json = false;
};

int run_probe(const ProbeOptions& o) {
  LoadedRun run = load_run(o.checkpoint);
  const LoadedData loaded = load_data(run.run.data, o.data_dir.empty() ? default_data_dir() : o.data_dir);
  const ProbeWindows w = test_windows(run.run, loaded.data, o.steps, o.batch);
  const SaturationReport report = gate_saturation(run.model->net().rnn(), w.x);
  nlohmann::json j = report.to_json();
  j["checkpoint"] = o.checkpoint;
  j["sequences"] = w.x.shape()[1];
  j["steps"] = w.x.shape()[0];
  if (!o.out.empty()) write_file_atomically(o.out, j.dump(2) + "\n");
  if (o.json) {
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("unroll probe: {} ({}), {} test windows of {} steps\n", o.checkpoint, report.cell,
                           w.x.shape()[1], w.x.shape()[0]);
  if (report.gates.empty()) std::cout << "  " << report.note << "\n";
  else
    std::cout << fmt::format("  {:<16} {:<8} {:>12} {:>12}   (fractions of batch x units, mean over steps)\n", "gate",
                             "", "low", "high");
  for (const GateSaturation& g : report.gates)
    std::cout << fmt::format("  {:<16} {:<8} {:>12.4f} {:>12.4f}   {}\n", g.layer_gate, g.activation, g.mean_low(),
                             g.mean_high(), g.activation == "sigmoid" ? "(< 0.05, > 0.95)" : "(< -0.95, > 0.95)");
  if (!o.out.empty()) std::cout << fmt::format("wrote {}\n", o.out);
  return kExitOk;
}

}  // namespace

void register_probe_command(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<ProbeOptions>();
  CLI::App* sub = app.add_subcommand("probe", "gate saturation of a trained model on its test windows");
  sub->add_option("--checkpoint", o->checkpoint, "a checkpoint of unroll train")->required();
  sub->add_option("--batch", o->batch, "test windows")->check(integer_in(1, 100000))->capture_default_str();
  sub->add_option("--steps", o->steps, "window length (0: the run's history)")->check(integer_in(0, 100000))->capture_default_str();
  sub->add_option("--data-dir", o->data_dir, "where nottem.csv is");
  sub->add_option("--out", o->out, "also write the JSON (per-step fractions) to this file");
  sub->add_flag("--json", o->json, "print the JSON instead of the table");
  table.push_back({sub, nullptr, [o] { return run_probe(*o); }});
}

}  // namespace unroll::cli
