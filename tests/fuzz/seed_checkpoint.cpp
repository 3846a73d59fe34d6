// SPDX-License-Identifier: Apache-2.0
// What lives here: the seed corpus for fuzz_checkpoint: valid checkpoints (parameters only, and the whole
// training state in float32 and float64) written into the folder given as the only argument.
#include <cstdio>
#include <string>

#include "io/checkpoint.h"

using namespace unroll;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  Rng rng(1);
  auto tensor = [&](const Shape& s, DType d) {
    Tensor t = Tensor::empty(s, d);
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, rng.uniform(-1, 1));
    return t;
  };
  Checkpoint small;
  small.model_config = {{"cell", "lstm"}, {"input_size", 2}, {"hidden_size", 1}, {"layers", 1}};
  small.params = {{"l0/w_ih", tensor({4, 2}, DType::f32)}, {"l0/w_hh", tensor({4, 1}, DType::f32)},
                  {"l0/b_ih", tensor({4}, DType::f32)}};
  save_checkpoint(dir + "/seed_params.h5", small);
  for (DType d : {DType::f32, DType::f64}) {
    Checkpoint c;
    c.model_config = {{"kind", "tiny"}};
    c.params = {{"scale", tensor({2}, d)}, {"l0/w", tensor({3, 2}, d)}};
    c.has_optimizer = true;
    c.optimizer.kind = "adam";
    c.optimizer.hyper = {{"lr", 0.01}};
    c.optimizer.step = 3;
    c.optimizer.slots["l0/w"]["m"] = tensor({3, 2}, d);
    c.has_rng = true;
    c.rng = rng.state();
    c.progress.epoch = 1;
    c.progress.history = nlohmann::json::array({{{"loss", 0.5}}});
    c.scaler = {{"mean", {0.5}}};
    save_checkpoint(dir + "/seed_full_" + dtype_name(d) + ".h5", c);
  }
  return 0;
}
