// SPDX-License-Identifier: Apache-2.0
// What lives here: helpers shared by the checkpoint suites: a tiny two-level Module, a scratch folder
// removed on exit, byte-level file edits, and a seeded full-state Checkpoint.
#pragma once
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "graph/rng.h"
#include "io/checkpoint.h"
#include "models/module.h"

namespace unroll::testing {

inline Tensor seeded_tensor(const Shape& shape, DType dtype, Rng& rng) {
  Tensor t = Tensor::empty(shape, dtype);
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, rng.uniform(-1, 1));
  return t;
}

// One "layer": l<k>/w_ih [4*hidden, in], l<k>/w_hh [4*hidden, hidden], l<k>/b_ih [4*hidden].
class TinyLayer : public Module {
 public:
  TinyLayer(int64_t in, int64_t hidden, DType dtype, Rng& rng) {
    register_parameter("w_ih", seeded_tensor({4 * hidden, in}, dtype, rng));
    register_parameter("w_hh", seeded_tensor({4 * hidden, hidden}, dtype, rng));
    register_parameter("b_ih", seeded_tensor({4 * hidden}, dtype, rng));
  }
};

// A root parameter "scale" [hidden] and `layers` TinyLayers l0, l1, ...
class TinyNet : public Module {
 public:
  TinyNet(int64_t in, int64_t hidden, int layers, DType dtype, uint64_t seed) {
    Rng rng(seed);
    register_parameter("scale", seeded_tensor({hidden}, dtype, rng));
    for (int k = 0; k < layers; ++k)
      register_module("l" + std::to_string(k), std::make_unique<TinyLayer>(k == 0 ? in : hidden, hidden, dtype, rng));
  }
  static nlohmann::json config(int64_t in, int64_t hidden, int layers) {
    return {{"kind", "tiny"}, {"input_size", in}, {"hidden_size", hidden}, {"layers", layers}};
  }
};

// A fresh folder under the build tree, removed (with its contents) when the test ends.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = std::string(UNROLL_BINARY_DIR) + "/checkpoint-scratch-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Every part of the training state, filled from a seed.
inline Checkpoint full_checkpoint(TinyNet& net, uint64_t seed) {
  Checkpoint c = module_checkpoint(net, TinyNet::config(3, 2, 2));
  Rng rng(seed);
  c.has_optimizer = true;
  c.optimizer.kind = "adam";
  c.optimizer.hyper = {{"lr", 0.001}, {"beta1", 0.9}, {"beta2", 0.999}, {"eps", 1e-8}};
  c.optimizer.step = 17;
  for (const auto& [path, t] : c.params) {
    c.optimizer.slots[path]["m"] = seeded_tensor(t.shape(), t.dtype(), rng);
    c.optimizer.slots[path]["v"] = seeded_tensor(t.shape(), t.dtype(), rng);
  }
  c.has_rng = true;
  Rng state_source(seed + 1);
  state_source.next_u64();
  c.rng = state_source.state();
  c.progress.epoch = 3;
  c.progress.step = 17;
  c.progress.data_cursor = 40;
  c.progress.shuffle_seed = 0xfeedfacecafebeefULL;
  c.progress.schedule = {{"kind", "step"}, {"gamma", 0.5}, {"last_epoch", 2}};
  c.progress.history = nlohmann::json::array({{{"epoch", 1}, {"loss", 0.5}}, {{"epoch", 2}, {"loss", 0.25}}});
  c.scaler = {{"mean", {1.5, -2.0}}, {"std", {0.5, 3.0}}};
  c.extra = {{"note", "unit test"}};
  return c;
}

}  // namespace unroll::testing
