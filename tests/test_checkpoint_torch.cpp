// SPDX-License-Identifier: Apache-2.0
// What lives here: PyTorch interop through checkpoints: a built-in Recurrent (RNN / LSTM / GRU in
// PyTorch's form) is saved, exported with tools/unroll_to_torch.py, run by PyTorch's own nn module on the
// same input (outputs must match ours), imported back with tools/torch_to_unroll.py, and loaded into a
// freshly built model (parameters bit-identical to the originals).
#include <chrono>
#include <fstream>

#include "io/checkpoint.h"
#include "models/recurrent.h"
#include "test_checkpoint_helpers.h"
#include "unroll.h"

using namespace unroll;
using namespace unroll::testing;

namespace {

nlohmann::json nested(const Tensor& t) {  // rank-3 tensor -> [[[...]]]
  nlohmann::json out = nlohmann::json::array();
  const Shape& s = t.shape();
  for (int64_t i = 0; i < s[0]; ++i) {
    nlohmann::json a = nlohmann::json::array();
    for (int64_t j = 0; j < s[1]; ++j) {
      nlohmann::json b = nlohmann::json::array();
      for (int64_t k = 0; k < s[2]; ++k) b.push_back(t.at((i * s[1] + j) * s[2] + k));
      a.push_back(b);
    }
    out.push_back(a);
  }
  return out;
}

int run(const std::string& cmd) { return std::system(cmd.c_str()); }

}  // namespace

TEST_CASE("checkpoint torch: RNN, LSTM and GRU round-trip through PyTorch and PyTorch's forward matches ours") {
  ScratchDir dir;
  const std::vector<std::string> cells = {"lstm", "gru_lbr", "rnn_tanh"};
  std::vector<std::unique_ptr<Recurrent>> models;
  std::vector<nlohmann::json> configs;
  nlohmann::json plan = nlohmann::json::array();
  for (const std::string& cell : cells) {
    RecurrentConfig config;
    config.cell = cell;
    config.input_size = 5;
    config.hidden_size = 6;
    config.layers = 2;
    config.bidirectional = true;
    Rng rng(31);
    models.push_back(std::make_unique<Recurrent>(config, rng));
    Recurrent& model = *models.back();
    configs.push_back(config);
    save_module(dir.file(cell + ".h5"), model, configs.back());

    // Our forward on a seeded input.
    Tape tape;
    Rng data_rng(5);
    Tensor x = Tensor::empty({4, 3, 5}, DType::f32);
    for (int64_t i = 0; i < x.numel(); ++i) x.set(i, data_rng.uniform(-1, 1));
    model.eval();
    const RecurrentOutput out = model.forward(tape, tape.constant(x));
    nlohmann::json io = {{"input", nested(x)}, {"output", nested(out.output.value())},
                         {"h_n", nested(out.final_states.at(0).value())}, {"tolerance", 2e-6}};
    if (out.final_states.size() > 1) io["c_n"] = nested(out.final_states.at(1).value());
    std::ofstream(dir.file(cell + "_io.json")) << io.dump();
    plan.push_back({{"checkpoint", dir.file(cell + ".h5")}, {"state_dict", dir.file(cell + ".pt")},
                    {"config", dir.file(cell + "_torch.json")}, {"io", dir.file(cell + "_io.json")},
                    {"back", dir.file(cell + "_back.h5")}});
    if (cell == "lstm") {  // the comparison can fail: one output off by 1e-3 must be reported
      io["output"][1][2][3] = io["output"][1][2][3].get<double>() + 1e-3;
      std::ofstream(dir.file("bad_io.json")) << io.dump();
      plan.push_back({{"checkpoint", dir.file(cell + ".h5")}, {"state_dict", dir.file("bad.pt")},
                      {"io", dir.file("bad_io.json")}, {"expect_match", false}});
    }
  }
  std::ofstream(dir.file("plan.json")) << plan.dump();
  // One Python process for every case: importing torch dominates the time.
  REQUIRE(run(fmt::format("/usr/bin/python3 {}/tools/torch_forward_check.py '{}'", UNROLL_SOURCE_DIR,
                          dir.file("plan.json"))) == 0);

  // And back: each imported checkpoint rebuilds the same model, bit for bit.
  for (size_t i = 0; i < cells.size(); ++i) {
    CAPTURE(cells[i]);
    const Checkpoint imported = load_checkpoint(dir.file(cells[i] + "_back.h5"));
    CHECK(imported.library_version == "tools/torch_to_unroll.py");
    Rng other(77);
    Recurrent rebuilt(imported.model_config.get<RecurrentConfig>(), other);
    load_parameters(rebuilt, imported, &configs[i]);
    for (auto& [path, p] : models[i]->named_parameters()) {
      CAPTURE(path);
      CHECK(rebuilt.find_parameter(path)->value.bit_equal(p->value));
    }
  }
}

TEST_CASE("checkpoint: a 2-layer 512-unit LSTM with Adam m/v round-trips exactly (size and timings printed)") {
  ScratchDir dir;
  RecurrentConfig config;
  config.cell = "lstm";
  config.input_size = 128;
  config.hidden_size = 512;
  config.layers = 2;
  Rng rng(3);
  Recurrent model(config, rng);
  Checkpoint c = module_checkpoint(model, nlohmann::json(config));
  c.has_optimizer = true;
  c.optimizer.kind = "adam";
  c.optimizer.step = 1000;
  for (const auto& [path, t] : c.params) {
    c.optimizer.slots[path]["m"] = seeded_tensor(t.shape(), t.dtype(), rng);
    c.optimizer.slots[path]["v"] = seeded_tensor(t.shape(), t.dtype(), rng);
  }
  const std::string path = dir.file("lstm512.h5");
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  save_checkpoint(path, c);
  const auto t1 = clock::now();
  const Checkpoint loaded = load_checkpoint(path);
  const auto t2 = clock::now();
  Recurrent fresh(config, rng);
  load_parameters(fresh, loaded);
  for (auto& [p, param] : model.named_parameters()) CHECK(fresh.find_parameter(p)->value.bit_equal(param->value));
  for (const auto& [p, slots] : c.optimizer.slots)
    for (const auto& [slot, t] : slots) CHECK(loaded.optimizer.slots.at(p).at(slot).bit_equal(t));
  const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  MESSAGE("2-layer 512-unit LSTM (input 128, " << model.parameter_count() << " parameters, Adam m+v): file "
          << std::filesystem::file_size(path) << " bytes, save " << ms(t1 - t0) << " ms, load " << ms(t2 - t1)
          << " ms");
}
