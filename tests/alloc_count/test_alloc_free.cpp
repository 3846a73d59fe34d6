// SPDX-License-Identifier: Apache-2.0
// What lives here: heap allocations of a steady-state training step (as train/trainer.cpp runs it: tape
// reset, forward, MSE loss, loss.item(), zero_grad, backward, Adam step), on every thread, for the stock
// LSTM on the fused path and for the custom CIFG cell (examples/cifg_cell.h) on the graph path, over steps
// 100-200. The counter (alloc_counter.h) is first shown to see allocations. Where an allocation comes
// from: run the executable with UNROLL_ALLOC_TRACE=1 (alloc_counter.h).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "alloc_counter.h"
#include "autodiff/backward.h"
#include "examples/cifg_cell.h"
#include "models/forecaster.h"
#include "ops/ops.h"
#include "train/optimizer.h"

using namespace unroll;
using alloc_count::count_allocations;

namespace {

// A forecaster, its Adam optimizer, one fixed batch and the tape: one training step per call of step().
struct TrainingLoop {
  Rng rng{2026};
  Forecaster model;
  Optimizer optimizer;
  Tensor x, y;
  Tape tape;

  TrainingLoop(const ForecasterConfig& config, const CellRegistry& registry, int64_t steps, int64_t batch)
      : model(config, rng, registry),
        optimizer(model.named_parameters(), OptimizerConfig{}),
        x(Tensor::empty({steps, batch, config.recurrent.input_size}, DType::f32)),
        y(Tensor::empty({batch, config.output_size}, DType::f32)) {
    for (int64_t i = 0; i < x.numel(); ++i) x.set(i, rng.uniform(-1, 1));
    for (int64_t i = 0; i < y.numel(); ++i) y.set(i, rng.uniform(-1, 1));
    model.train();
  }

  double step() {
    tape.reset();
    const Var pred = model.forward(tape, tape.constant(x), &rng);
    const Var loss = mse(pred, tape.constant(y));
    const double value = loss.item();
    model.zero_grad();
    backward(loss);
    optimizer.step(1e-3);
    return value;
  }

  // Allocations made by steps [warmup, warmup + measured).
  int64_t allocations(int warmup, int measured) {
    for (int i = 0; i < warmup; ++i) step();
    return count_allocations([&] {
      for (int i = 0; i < measured; ++i) step();
    });
  }
};

ForecasterConfig config_for(const std::string& cell, bool fused) {
  return {.recurrent = {.cell = cell, .input_size = 4, .hidden_size = 32, .layers = 2, .fused = fused},
          .output_size = 1};
}

}  // namespace

TEST_CASE("alloc: the counter sees allocations of new, malloc and other threads") {
  const int64_t n = count_allocations([] {
    std::unique_ptr<int> p(new int(1));
    void* volatile q = std::malloc(64);
    std::free(q);
    std::vector<double> v(100);
#pragma omp parallel num_threads(2)
    { std::vector<char> w(1000); }
  });
  CHECK(n >= 5);
}

// A training step is not allocation-free, and the library no longer claims it is: every oneDNN primitive
// execution allocates (inside libdnnl's dnnl_primitive_execute, and in the argument map the C++ API builds
// for it), and so do Tape::param's parameter map, Module::parameters() in zero_grad, Cell::initial_state's
// zero tensors, the std::vector<Var> results of Cell::step, chunk and split, and small vectors of the
// driver. What holds, and is checked: in steady state a step allocates the same number of times as the
// step before it -- nothing grows with the number of steps (a cache, pool or tape that kept growing would
// show here). Run with UNROLL_ALLOC_TRACE=1 to see each allocation's call stack.
void check_steady(TrainingLoop& loop) {
  const int64_t first = loop.allocations(100, 50);
  const int64_t second = loop.allocations(0, 50);
  MESSAGE("allocations per step: ", first / 50.0, " (steps 100-149), ", second / 50.0, " (steps 150-199)");
  CHECK(first > 0);  // the counter is armed around real steps
  CHECK(second == first);
}

TEST_CASE("alloc: steps 100-200 of a stock LSTM training step on the fused path allocate the same every step") {
  TrainingLoop loop(config_for("lstm", true), builtin_cells(), 12, 32);
  check_steady(loop);
}

TEST_CASE("alloc: steps 100-200 of a custom CIFG cell training step on the graph path allocate the same every step") {
  CellRegistry registry = builtin_cells();
  examples::register_cifg(registry);
  TrainingLoop loop(config_for("cifg", false), registry, 12, 32);
  check_steady(loop);
}

int main(int argc, char** argv) {
  alloc_count::counter().trace = std::getenv("UNROLL_ALLOC_TRACE") != nullptr;
  doctest::Context context(argc, argv);
  return context.run();
}
