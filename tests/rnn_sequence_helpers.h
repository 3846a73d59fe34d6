// SPDX-License-Identifier: Apache-2.0
// What lives here: what the tests of the fused fast path share (tests/test_rnn_sequence.cpp and
// tests/test_rnn_sequence_masked.cpp): one training-like pass of a Recurrent with every value and gradient
// kept, rnn_sequence's random inputs, and the comparison of two passes.
#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "test_helpers.h"
#include "unroll.h"

namespace unroll::testing {

// The tolerance of the float32 comparison, max |a - b| / (1 + |b|): oneDNN's gate kernels and GEMM
// blocking round differently from the graph path's fast:: functions and reference-order sums.
inline constexpr double kF32Tolerance = 1e-5;

inline std::string cell_name(RnnKind k) { return rnn_kind_name(k); }

struct Run {
  std::vector<std::pair<std::string, Tensor>> values;  // name -> float64 copy; the same names in every run
  size_t fused_ops = 0;                                 // rnn_sequence nodes on the tape
};

// One training-like pass: a fixed random weighting of output, two steps and the final states, so no
// upstream gradient is all ones; returns values and gradients (x, initial states, every parameter).
inline Run run_model(const RecurrentConfig& config, DType dtype, const Tensor& x, const std::vector<Tensor>& init,
                     const std::vector<int64_t>& lengths = {}, bool dropout_rng = false,
                     RnnEngine engine = RnnEngine::step_loop) {
  Rng init_rng(42);
  Recurrent model(config, init_rng);
  model.set_engine(engine);
  model.to(dtype);
  model.zero_grad();
  Tape tape;
  const Var xv = tape.leaf(x.to(dtype), true);
  std::vector<Var> states;
  for (const Tensor& s : init) states.push_back(tape.leaf(s.to(dtype), true));
  Rng drop_rng(7);
  const RecurrentOutput out = model.forward(tape, xv, states, lengths, dropout_rng ? &drop_rng : nullptr);
  Rng wrng(3);
  const auto weighted = [&](const Var& v) {
    return sum(mul(v, tape.constant(random_tensor(v.shape(), wrng).to(dtype))));
  };
  Var loss = weighted(out.output);
  loss = add(loss, weighted(out.steps.front()));
  loss = add(loss, weighted(out.steps.back()));
  for (const Var& s : out.final_states) loss = add(loss, weighted(s));
  backward(loss);

  Run r;
  r.fused_ops = count_ops(tape, OpKind::rnn_sequence);
  const auto keep = [&](std::string name, const Tensor& t) { r.values.emplace_back(std::move(name), t.to(DType::f64)); };
  keep("output", out.output.value());
  for (size_t t = 0; t < out.steps.size(); ++t) keep(fmt::format("steps[{}]", t), out.steps[t].value());
  for (size_t s = 0; s < out.final_states.size(); ++s) keep(fmt::format("final_states[{}]", s), out.final_states[s].value());
  keep("dx", xv.grad().defined() ? xv.grad() : Tensor::zeros(x.shape(), dtype));
  for (size_t s = 0; s < states.size(); ++s)
    keep(fmt::format("d initial_states[{}]", s), states[s].grad().defined() ? states[s].grad() : Tensor::zeros(init[s].shape(), dtype));
  for (const auto& [path, p] : model.named_parameters()) keep("d " + path, p->grad);
  return r;
}

// rnn_sequence's inputs, float64, drawn in this order: x [T, B, I], h0 [B, H], c0 [B, H] (used by lstm only),
// w_ih [G*H, I], w_hh [G*H, H], b_ih [G*H], b_hh [G*H].
inline std::vector<Tensor> random_sequence_inputs(RnnKind kind, int64_t T, int64_t B, int64_t I, int64_t H, Rng& rng) {
  const int64_t GH = rnn_gate_count(kind) * H;
  return {random_tensor({T, B, I}, rng), random_tensor({B, H}, rng),  random_tensor({B, H}, rng),
          random_tensor({GH, I}, rng),   random_tensor({GH, H}, rng), random_tensor({GH}, rng),
          random_tensor({GH}, rng)};
}

// Checks every value and gradient; returns the worst scaled difference.
inline double check_close(const Run& a, const Run& b, double tolerance) {
  REQUIRE(a.values.size() == b.values.size());
  double worst = 0;
  for (size_t i = 0; i < a.values.size(); ++i) {
    CAPTURE(a.values[i].first);
    REQUIRE(a.values[i].first == b.values[i].first);
    const double diff = max_scaled_diff(a.values[i].second, b.values[i].second);
    worst = std::max(worst, diff);
    CHECK(diff < tolerance);
  }
  return worst;
}

}  // namespace unroll::testing
