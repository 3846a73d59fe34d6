// SPDX-License-Identifier: Apache-2.0
// What lives here: `unroll inspect FILE [--json]`: what a checkpoint holds (model config, parameter
// table, scaler, optimizer, progress), as text or one JSON object.
#include <cmath>
#include <iostream>

#include "apps/commands.h"
#include "graph/check.h"
#include "io/checkpoint.h"

namespace unroll::cli {

namespace {

struct InspectOptions {
  std::string file;
  bool json = false;
};

nlohmann::json describe(const Checkpoint& c) {
  nlohmann::json params = nlohmann::json::array();
  int64_t total = 0;
  for (const auto& [path, t] : c.params) {
    std::vector<int64_t> shape;
    for (int d = 0; d < t.rank(); ++d) shape.push_back(t.shape()[d]);
    params.push_back({{"path", path}, {"shape", shape}, {"count", t.numel()}, {"dtype", dtype_name(t.dtype())}});
    total += t.numel();
  }
  nlohmann::json j;
  j["model_config"] = c.model_config;
  j["parameters"] = params;
  j["parameter_count"] = total;
  j["scaler"] = c.scaler;
  if (c.has_optimizer) {
    j["optimizer"] = {{"kind", c.optimizer.kind}, {"hyper", c.optimizer.hyper}, {"step", c.optimizer.step},
                      {"slot_tensors", [&] {
                         int64_t n = 0;
                         for (const auto& [p, s] : c.optimizer.slots) n += static_cast<int64_t>(s.size());
                         return n;
                       }()}};
  } else {
    j["optimizer"] = nullptr;
  }
  j["progress"] = {{"epoch", c.progress.epoch},
                   {"step", c.progress.step},
                   {"data_cursor", c.progress.data_cursor},
                   {"shuffle_seed", c.progress.shuffle_seed},
                   {"schedule", c.progress.schedule},
                   {"history", c.progress.history}};
  j["run"] = c.extra.is_object() && c.extra.contains("run") ? c.extra["run"] : nlohmann::json();
  j["library_version"] = c.library_version;
  j["created"] = c.created;
  return j;
}

int run_inspect(const InspectOptions& o) {
  const Checkpoint c = load_checkpoint(o.file);
  const nlohmann::json j = describe(c);
  if (o.json) {
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("{}: unroll checkpoint (library {}, saved {})\n", o.file, c.library_version, c.created);
  std::cout << "model: " << c.model_config.dump() << "\n\nparameters:\n";
  std::cout << fmt::format("  {:<28} {:<14} {:>10}  {}\n", "path", "shape", "count", "dtype");
  for (const auto& p : j["parameters"]) {
    std::string shape = "[";
    for (size_t i = 0; i < p["shape"].size(); ++i) shape += (i ? ", " : "") + std::to_string(p["shape"][i].get<int64_t>());
    shape += "]";
    std::cout << fmt::format("  {:<28} {:<14} {:>10}  {}\n", p["path"].get<std::string>(), shape,
                             p["count"].get<int64_t>(), p["dtype"].get<std::string>());
  }
  std::cout << fmt::format("  {:<28} {:<14} {:>10}\n\n", "total", "", j["parameter_count"].get<int64_t>());
  std::cout << "scaler: " << (c.scaler.is_null() ? std::string("none") : c.scaler.dump()) << "\n";
  if (c.has_optimizer)
    std::cout << fmt::format("optimizer: {} after {} steps {}\n", c.optimizer.kind, c.optimizer.step, c.optimizer.hyper.dump());
  else
    std::cout << "optimizer: none saved\n";
  std::cout << fmt::format("progress: {} epochs done, step {}, data cursor {}, shuffle seed {}\n", c.progress.epoch,
                           c.progress.step, c.progress.data_cursor, c.progress.shuffle_seed);
  if (c.progress.history.is_array() && !c.progress.history.empty()) {
    std::cout << fmt::format("  {:>5} {:>12} {:>12}\n", "epoch", "train loss", "val loss");
    for (const auto& h : c.progress.history)
      std::cout << fmt::format("  {:>5} {:>12.6g} {:>12}\n", h.value("epoch", int64_t{0}),
                               h["train_loss"].is_number() ? h["train_loss"].get<double>() : NAN,
                               h["val_loss"].is_number() ? fmt::format("{:.6g}", h["val_loss"].get<double>()) : "-");
  }
  return kExitOk;
}

}  // namespace

void register_inspect_command(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<InspectOptions>();
  CLI::App* sub = app.add_subcommand("inspect", "what a checkpoint holds");
  sub->add_option("file", o->file, "a checkpoint (.h5)")->required();
  sub->add_flag("--json", o->json, "print one JSON object");
  table.push_back({sub, nullptr, [o] { return run_inspect(*o); }});
}

}  // namespace unroll::cli
