// SPDX-License-Identifier: Apache-2.0
// What lives here: oneDNN float32 matrix products against the float64 reference kernels, the primitive
// cache (created once per shape), products with a row stride or on packed weights, runners of one packed
// product on several threads at once (Note [Batch split]), and the packed-weights scope (Note [Packed
// weights]).
#include <omp.h>

#include "ops/dnnl_context.h"
#include "ops/weight_packs.h"
#include "test_helpers.h"
#include "unroll.h"

using namespace unroll;
using unroll::testing::max_scaled_diff;
using unroll::testing::random_tensor;

TEST_CASE("float32 linear and matmul on oneDNN match the float64 reference, forward and backward") {
  Rng rng(3);
  for (const auto& [m, k, n] : {std::tuple{1, 1, 1}, {7, 5, 3}, {32, 129, 64}, {3, 64, 512}}) {
    CAPTURE(m);
    CAPTURE(k);
    const Tensor x = random_tensor({m, k}, rng), w = random_tensor({n, k}, rng), b = random_tensor({n}, rng);
    const Tensor seed = random_tensor({m, n}, rng);
    std::vector<Tensor> results[2];
    for (DType dtype : {DType::f32, DType::f64}) {
      Tape tape;
      Var vx = tape.leaf(x.to(dtype), true), vw = tape.leaf(w.to(dtype), true), vb = tape.leaf(b.to(dtype), true);
      Var y = linear(vx, vw, vb);
      Var z = matmul(vx, transpose(vw));
      const Tensor typed_seed = seed.to(dtype);
      auto grads = grad(add(y, z), {vx, vw, vb}, &typed_seed);
      auto& out = results[dtype == DType::f32 ? 0 : 1];
      out.push_back(y.value().to(DType::f64));
      for (auto& g : grads) out.push_back(g.to(DType::f64));
    }
    for (size_t i = 0; i < results[0].size(); ++i) {
      CAPTURE(i);
      CHECK(max_scaled_diff(results[0][i], results[1][i]) < 2e-5);
    }
  }
}

TEST_CASE("batched float32 matmul matches the reference") {
  Rng rng(4);
  const Tensor a = random_tensor({3, 4, 5}, rng), b = random_tensor({3, 5, 2}, rng);
  Tape t32, t64;
  Var y32 = batched_matmul(t32.leaf(a.to(DType::f32)), t32.leaf(b.to(DType::f32)));
  Var y64 = batched_matmul(t64.leaf(a), t64.leaf(b));
  CHECK(max_scaled_diff(y32.value().to(DType::f64), y64.value()) < 1e-5);
}

TEST_CASE("oneDNN primitives are created once per shape and reused across tape resets") {
  auto ctx = std::make_shared<DnnlContext>();
  Tape tape(ctx);
  Parameter w("w", Tensor::full({4, 3}, DType::f32, 0.5));
  const Tensor x = Tensor::full({2, 3}, DType::f32, 1.0);
  for (int step = 0; step < 5; ++step) {
    tape.reset();
    backward(sum(linear(tape.leaf(x, true), tape.param(w))));
  }
  CHECK(ctx->cached_primitives() == 3);  // forward, dx, dW
}

// The step loop's products (ops/rnn_sequence.cpp): a row stride on A (a column block of the gate
// gradients), and weights packed once into oneDNN's preferred layout, against the float64 reference.
TEST_CASE("gemm with a row stride on A, and with packed weights, match the reference kernel") {
  Rng rng(6);
  DnnlContext ctx;
  for (const auto& [m, k, n] : {std::tuple{1, 1, 1}, {5, 7, 3}, {16, 64, 256}, {32, 256, 1024}}) {
    CAPTURE(m);
    CAPTURE(k);
    CAPTURE(n);
    for (const bool trans_a : {false, true}) {
      CAPTURE(trans_a);
      // A is a block of a wider matrix: stored [m, k] (or [k, m]) inside rows of lda = width + 3.
      const int64_t rows = trans_a ? k : m, width = trans_a ? m : k, lda = width + 3;
      const Tensor wide = random_tensor({rows, lda}, rng), b = random_tensor({k, n}, rng);
      const Tensor c0 = random_tensor({m, n}, rng);
      const GemmShape s{.m = m, .n = n, .k = k, .trans_a = trans_a, .accumulate = true, .lda = lda};
      Tensor want = c0.clone(), got = c0.to(DType::f32);
      gemm_reference<double>(s, wide.data<double>(), b.data<double>(), want.data<double>(), nullptr);
      const Tensor wide32 = wide.to(DType::f32), b32 = b.to(DType::f32);
      ctx.gemm(s, wide32.data<float>(), b32.data<float>(), got.data<float>(), nullptr);
      CHECK(max_scaled_diff(got.to(DType::f64), want) < 2e-5);
    }
    for (const bool trans_b : {false, true}) {
      CAPTURE(trans_b);
      const Tensor a = random_tensor({m, k}, rng), b = random_tensor(trans_b ? Shape{n, k} : Shape{k, n}, rng);
      const Tensor bias = random_tensor({n}, rng);
      const GemmShape s{.m = m, .n = n, .k = k, .trans_b = trans_b, .bias = true};
      Tensor want = Tensor::zeros({m, n}, DType::f64);
      gemm_reference<double>(s, a.data<double>(), b.data<double>(), want.data<double>(), bias.data<double>());
      const Tensor a32 = a.to(DType::f32), bias32 = bias.to(DType::f32);
      Tensor b32 = b.to(DType::f32), got = Tensor::zeros({m, n}, DType::f32);
      const PackedWeights packed = ctx.pack_weights(s, b32.data<float>());
      b32.fill(0);  // the packed copy is independent of the original
      ctx.gemm(s, a32.data<float>(), packed, got.data<float>(), bias32.data<float>());
      CHECK(max_scaled_diff(got.to(DType::f64), want) < 2e-5);
      CHECK_THROWS_AS(ctx.gemm(GemmShape{.m = m + 1, .n = n, .k = k, .trans_b = trans_b, .bias = true}, a32.data<float>(),
                               packed, got.data<float>(), bias32.data<float>()),
                      UsageError);
    }
  }
}

// Note [Batch split] (ops/rnn_step_loop.cpp): runners of one packed product execute at once, one per
// OpenMP thread (oneDNN runs each single-threaded there), each on its own rows. Every thread must get the
// bits the context's own gemm gives for those rows, every time: shared scratch between the executions
// (oneDNN's default library scratchpad) made them race, which this test caught.
TEST_CASE("gemm runners of one packed product run on several threads at once and give the context's bits") {
  Rng rng(8);
  DnnlContext ctx;
  const int threads = 3;
  for (const auto& [rows, k, n, accumulate] : {std::tuple{1, 8, 12, false}, {5, 64, 96, true}, {16, 256, 1024, true}}) {
    CAPTURE(rows);
    CAPTURE(k);
    const GemmShape s{.m = rows, .n = n, .k = k, .trans_b = true, .accumulate = accumulate, .bias = !accumulate};
    const Tensor w = random_tensor({n, k}, rng).to(DType::f32), bias = random_tensor({n}, rng).to(DType::f32);
    const Tensor a = random_tensor({threads * rows, k}, rng).to(DType::f32);
    const Tensor c0 = random_tensor({threads * rows, n}, rng).to(DType::f32);
    const PackedWeights packed = ctx.pack_weights(s, w.data<float>());
    Tensor want = c0.clone();  // one block after the other, on the context
    for (int t = 0; t < threads; ++t)
      ctx.gemm(s, a.data<float>() + t * rows * k, packed, want.data<float>() + t * rows * n, bias.data<float>());
    Tensor reference = c0.to(DType::f64);
    gemm_reference<double>(GemmShape{.m = threads * rows, .n = n, .k = k, .trans_b = true, .accumulate = accumulate,
                                     .bias = !accumulate},
                           a.to(DType::f64).data<double>(), w.to(DType::f64).data<double>(), reference.data<double>(),
                           bias.to(DType::f64).data<double>());
    CHECK(max_scaled_diff(want.to(DType::f64), reference) < 2e-5);
    std::vector<GemmRunner> runners;
    for (int t = 0; t < threads; ++t) runners.push_back(ctx.runner(packed));
    for (int repeat = 0; repeat < 20; ++repeat) {
      Tensor got = c0.clone();
      int team = 0;
#pragma omp parallel num_threads(threads)
      {
        const int t = omp_get_thread_num();
#pragma omp atomic
        team += 1;
        float* c = got.data<float>() + t * rows * n;
        for (int rep = 0; rep < 4; ++rep) {  // each thread runs its rows 4 times, from C0 each time
          std::copy_n(c0.data<float>() + t * rows * n, rows * n, c);
          runners[static_cast<size_t>(t)](a.data<float>() + t * rows * k, c, bias.data<float>());
        }
      }
      REQUIRE(team == threads);
      CHECK(got.bit_equal(want));
    }
  }
}

// A training loop packs the same weight shape every step: the context hands out a buffer again once
// nobody holds it (a fresh allocation each time cost page faults and TLB shootdowns: cifg in config a ran
// 10-16 % faster with reuse), and never one that a PackedWeights or a live runner still holds.
TEST_CASE("packed weights: buffers are reused once released, never while held, and hold the new weights") {
  Rng rng(9);
  DnnlContext ctx;
  const GemmShape s{.m = 4, .n = 24, .k = 16, .trans_b = true};
  const Tensor a = random_tensor({4, 16}, rng).to(DType::f32);
  const auto product = [&](const PackedWeights& w) {
    Tensor c = Tensor::zeros({4, 24}, DType::f32);
    ctx.gemm(s, a.data<float>(), w, c.data<float>(), nullptr);
    return c;
  };
  const auto reference = [&](const Tensor& w) {
    Tensor c = Tensor::zeros({4, 24}, DType::f64);
    gemm_reference<double>(s, a.to(DType::f64).data<double>(), w.to(DType::f64).data<double>(), c.data<double>(), nullptr);
    return c;
  };
  const Tensor w1 = random_tensor({24, 16}, rng).to(DType::f32), w2 = random_tensor({24, 16}, rng).to(DType::f32);
  PackedWeights first = ctx.pack_weights(s, w1.data<float>());
  const void* first_buffer = first.memory.get();
  PackedWeights held = ctx.pack_weights(s, w2.data<float>());  // first is held: another buffer
  CHECK(held.memory.get() != first_buffer);
  first = {};
  const PackedWeights again = ctx.pack_weights(s, w2.data<float>());  // first's buffer, now with w2
  CHECK(again.memory.get() == first_buffer);
  CHECK(max_scaled_diff(product(again).to(DType::f64), reference(w2)) < 2e-5);
  {
    const GemmRunner runner = ctx.runner(held);
    const void* held_buffer = held.memory.get();
    held = {};  // the runner still holds it
    const PackedWeights other = ctx.pack_weights(s, w1.data<float>());
    CHECK(other.memory.get() != held_buffer);
    Tensor c = Tensor::zeros({4, 24}, DType::f32);
    runner(a.data<float>(), c.data<float>());
    CHECK(max_scaled_diff(c.to(DType::f64), reference(w2)) < 2e-5);  // still w2
  }
  CHECK(max_scaled_diff(product(again).to(DType::f64), reference(w2)) < 2e-5);
}

TEST_CASE("packed weights: linear_packed runs a parameter's products on one packed copy, close to plain") {
  Rng rng(7);
  Parameter w("w", random_tensor({12, 5}, rng).to(DType::f32));
  const Tensor x = random_tensor({3, 5}, rng).to(DType::f32);
  auto ctx = std::make_shared<DnnlContext>();
  Tape tape(ctx);
  const Var plain = linear(tape.constant(x), tape.param(w));
  CHECK(ctx->packed_primitives() == 0);
  std::vector<Var> packed;
  {
    WeightPacks packs(tape);
    for (int step = 0; step < 3; ++step) packed.push_back(linear_packed(tape.constant(x), &packs, tape.param(w)));
    // A weight recorded after the packs were made (a per-step node) is not packed.
    const Var per_step = tape.leaf(w.value.clone(), false);
    CHECK(packs.find(per_step.id(), GemmShape{.m = 3, .n = 12, .k = 5, .trans_b = true}, w.value.data<float>()) ==
          nullptr);
  }
  CHECK(ctx->packed_primitives() == 1);  // one shape, packed once, used three times
  for (const Var& p : packed) CHECK(max_scaled_diff(p.value().to(DType::f64), plain.value().to(DType::f64)) < 1e-6);
}

TEST_CASE("packed weights: the graph path of a recurrent layer uses them (Note [Packed weights])") {
  Rng rng(8);
  Recurrent rnn(RecurrentConfig{.cell = "lstm", .input_size = 3, .hidden_size = 8, .fused = false}, rng);
  rnn.set_batch_split(false);  // the steps on this tape, with this context (not block tapes')
  auto ctx = std::make_shared<DnnlContext>();
  Tape tape(ctx);
  rnn.forward(tape, tape.constant(random_tensor({4, 2, 3}, rng).to(DType::f32)));
  CHECK(ctx->packed_primitives() == 2);  // h w_hh^T + b_hh and, for backward, dh = dy w_hh: one shape each
}
