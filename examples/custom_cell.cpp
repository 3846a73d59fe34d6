// SPDX-License-Identifier: Apache-2.0
// What lives here: the custom-cell walk-through. A coupled input-forget gate LSTM (examples/cifg_cell.h,
// ~40 lines, no gradient code) is registered in a copy of the built-in cell registry, gradient-checked
// in float64 through the sequence driver (2 layers, both directions, variable lengths), trained a few
// hundred SGD steps as a one-step-ahead forecaster of a noisy sine, saved to an HDF5 checkpoint, loaded
// into a freshly built model, and checked to predict bit-identically. Exit code 0 = all of that worked.
//
//   example_custom_cell [checkpoint path (default: custom_cell_example.h5)]
#include <fmt/format.h>

#include <cmath>
#include <cstdio>

#include "autodiff/backward.h"
#include "autodiff/gradcheck.h"
#include "examples/cifg_cell.h"
#include "io/checkpoint.h"
#include "models/forecaster.h"
#include "ops/ops.h"

using namespace unroll;

namespace {
int run(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "custom_cell_example.h5";

  // 1. Register the cell in our own registry (the built-in one is read-only).
  CellRegistry registry = builtin_cells();
  examples::register_cifg(registry);

  // 2. Gradient check in float64: parameters, input and initial states, 2 layers x 2 directions.
  RecurrentConfig small{.cell = "cifg", .input_size = 3, .hidden_size = 4, .layers = 2, .bidirectional = true};
  Rng rng(2026);
  Recurrent checked(small, rng, registry);
  checked.to(DType::f64);
  std::vector<Tensor> inputs{Tensor::empty({3, 2, 3}, DType::f64), Tensor::empty({4, 2, 4}, DType::f64),
                             Tensor::empty({4, 2, 4}, DType::f64)};
  for (Tensor& t : inputs)
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, rng.uniform(-1, 1));
  const GradcheckReport report = gradcheck(
      [&](Tape& tape, const std::vector<Var>& in) {
        const RecurrentOutput out = checked.forward(tape, in[0], {in[1], in[2]}, /*lengths=*/{3, 2});
        return concat({reshape(out.output, Shape{48}), reshape(out.final_states[0], Shape{32}),
                       reshape(out.final_states[1], Shape{32})},
                      0);
      },
      inputs, checked.parameters(), GradcheckOptions{.input_names = {"x", "h0", "c0"}});
  fmt::print("1. {}\n", report.summary());
  if (!report.ok) return 1;

  // 3. Train: windows of 12 steps of a noisy sine -> the next value, plain SGD, float32.
  ForecasterConfig config{.recurrent = {.cell = "cifg", .input_size = 1, .hidden_size = 16}, .output_size = 1};
  Forecaster model(config, rng, registry);
  const int64_t T = 12, B = 32;
  Tensor x = Tensor::empty({T, B, 1}, DType::f32), y = Tensor::empty({B, 1}, DType::f32);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) x.set(t * B + b, std::sin(0.25 * (t + 3 * b)) + 0.05 * rng.normal());
    y.set(b, std::sin(0.25 * (T + 3 * b)));
  }
  Tape tape;
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    tape.reset();
    model.zero_grad();
    const Var loss = mse(model.forward(tape, tape.constant(x)), tape.constant(y));
    backward(loss);
    (step == 0 ? first : last) = loss.item();
    for (Parameter* p : model.parameters())
      for (int64_t i = 0; i < p->value.numel(); ++i) p->value.set(i, p->value.at(i) - 0.3 * p->grad.at(i));
  }
  fmt::print("2. trained {} parameters: mse {:.4f} -> {:.4f} after 300 SGD steps\n", model.parameter_count(), first,
             last);
  if (!(last < first / 5)) return 1;

  // 4. Save (parameters by path + the config as JSON), load into a fresh model, predict the same.
  save_module(path, model, nlohmann::json(config));
  Rng other(7);
  Forecaster loaded(nlohmann::json(config).get<ForecasterConfig>(), other, registry);
  const nlohmann::json expected = config;
  load_module(path, loaded, &expected);
  tape.reset();
  const Tensor a = model.forward(tape, tape.constant(x)).value();
  const Tensor b = loaded.forward(tape, tape.constant(x)).value();
  fmt::print("3. saved and loaded {}: predictions {}\n", path, a.bit_equal(b) ? "bit-identical" : "DIFFER");
  return a.bit_equal(b) ? 0 : 1;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "example_custom_cell: {}\n", e.what());
    return 1;
  }
}
