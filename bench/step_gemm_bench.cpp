// SPDX-License-Identifier: Apache-2.0
// What lives here: the matrix products of one recurrent layer, timed in isolation on DnnlContext (the
// calls the linear op and the step loop make), to show where the per-step matmul time goes and what a
// different operand layout, grouping or batch split would buy (docs/performance.md, "Where the time goes").
// For G gate blocks of H units, batch B and T steps it times, as the median over --reps repetitions of
// all T steps (interleaved, so the machine's drift hits every variant alike):
//   forward   h W^T  with W packed once (what the step loop and the graph path do, Note [Packed weights])
//   forward   h W^T  with W [G*H, H] read transposed, plain (packed inside every call)
//   forward   h W^T  with a copy of W^T [H, G*H]      (measured, not taken)
//   backward  dh += dg W    with W packed once        (what the step loop and the graph path do)
//   backward  dh += dg W    with W as stored, plain
//   backward  dh += dg W    reading W^T transposed    (what the copy would force)
//   weight    dW += dg^T h  once per step             (what the graph path does)
//   weight    dW += dg^T h  as one GEMM over all steps (K = T*B; what the step loop does)
// With --blocks K, K OpenMP threads run every variant at once, each on its own B rows with its own
// buffers, single-threaded inside the parallel region -- what the batch splits do (Note [Batch split]);
// the rate is then the blocks' total. Without it the products run on --threads threads.
// Usage: step_gemm_bench --gates G --hidden H --batch B --steps T [--reps N] [--threads K] [--blocks K]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ops/dnnl_context.h"
#include "ops/reference_kernels.h"

using unroll::DnnlContext;
using unroll::GemmRunner;
using unroll::GemmShape;

namespace {

struct Options {
  int64_t gates = 4, hidden = 256, batch = 32, steps = 50;
  int reps = 15, threads = 2, blocks = 1;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || i + 1 >= argc) {
      std::fprintf(stderr, "usage: %s --gates G --hidden H --batch B --steps T [--reps N] [--threads K] [--blocks K]\n", argv[0]);
      std::exit(flag == "--help" ? 0 : 2);
    }
    const long value = std::strtol(argv[++i], nullptr, 10);
    if (value <= 0) {
      std::fprintf(stderr, "step_gemm_bench: %s needs a positive integer, got '%s'\n", flag.c_str(), argv[i]);
      std::exit(2);
    }
    if (flag == "--gates") o.gates = value;
    else if (flag == "--hidden") o.hidden = value;
    else if (flag == "--batch") o.batch = value;
    else if (flag == "--steps") o.steps = value;
    else if (flag == "--reps") o.reps = static_cast<int>(value);
    else if (flag == "--threads") o.threads = static_cast<int>(value);
    else if (flag == "--blocks") o.blocks = static_cast<int>(value);
    else {
      std::fprintf(stderr, "step_gemm_bench: unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  return o;
}

// One block of rows: its own context (a DnnlContext is one thread's), buffers and packed-weight runners.
struct Block {
  std::unique_ptr<DnnlContext> ctx;
  std::vector<float> h, dh, gates, dgates, dw;
  GemmRunner forward_packed, backward_packed;
};

struct Variant {
  const char* name;
  std::function<void(Block&, int64_t)> step;  // one step t on one block (or all steps, when whole)
  bool whole = false;                         // one call covers all T steps
  std::vector<double> ms = {};
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  omp_set_num_threads(o.threads);
  const int64_t G = o.gates * o.hidden, H = o.hidden, B = o.batch, T = o.steps;
  const std::vector<float> w(static_cast<size_t>(G * H), 0.03f), w_t(w.size(), 0.03f);
  const GemmShape forward{.m = B, .n = G, .k = H, .trans_b = true}, backward{.m = B, .n = H, .k = G, .accumulate = true};
  std::vector<Block> blocks(static_cast<size_t>(o.blocks));
  for (Block& b : blocks) {
    b.ctx = std::make_unique<DnnlContext>();
    b.h.assign(static_cast<size_t>(T * B * H), 0.02f);
    b.dh.assign(b.h.size(), 0.0f);
    b.gates.assign(static_cast<size_t>(T * B * G), 0.01f);
    b.dgates.assign(b.gates.size(), 0.01f);
    b.dw.assign(w.size(), 0.0f);
    b.forward_packed = b.ctx->runner(b.ctx->pack_weights(forward, w.data()));
    b.backward_packed = b.ctx->runner(b.ctx->pack_weights(backward, w.data()));
  }
  std::vector<Variant> variants = {
      {"forward h W^T, W packed once", [&](Block& b, int64_t t) {
         b.forward_packed(&b.h[t * B * H], &b.gates[t * B * G]);
       }},
      {"forward h W^T, W read transposed", [&](Block& b, int64_t t) {
         b.ctx->gemm(forward, &b.h[t * B * H], w.data(), &b.gates[t * B * G], nullptr);
       }},
      {"forward h W^T, copy of W^T", [&](Block& b, int64_t t) {
         b.ctx->gemm({.m = B, .n = G, .k = H}, &b.h[t * B * H], w_t.data(), &b.gates[t * B * G], nullptr);
       }},
      {"backward dh += dg W, W packed once", [&](Block& b, int64_t t) {
         b.backward_packed(&b.dgates[t * B * G], &b.dh[t * B * H]);
       }},
      {"backward dh += dg W, W as stored", [&](Block& b, int64_t t) {
         b.ctx->gemm(backward, &b.dgates[t * B * G], w.data(), &b.dh[t * B * H], nullptr);
       }},
      {"backward dh += dg W, W^T read transposed", [&](Block& b, int64_t t) {
         b.ctx->gemm({.m = B, .n = H, .k = G, .trans_b = true, .accumulate = true}, &b.dgates[t * B * G], w_t.data(),
                     &b.dh[t * B * H], nullptr);
       }},
      {"weight dW += dg^T h, per step", [&](Block& b, int64_t t) {
         b.ctx->gemm({.m = G, .n = H, .k = B, .trans_a = true, .accumulate = true}, &b.dgates[t * B * G],
                     &b.h[t * B * H], b.dw.data(), nullptr);
       }},
      {"weight dW += dg^T h, one GEMM over all steps", [&](Block& b, int64_t) {
         b.ctx->gemm({.m = G, .n = H, .k = T * B, .trans_a = true, .accumulate = true}, b.dgates.data(), b.h.data(),
                     b.dw.data(), nullptr);
       }, true},
  };
  const auto run = [&](const Variant& v) {  // all T steps, on every block at once
    const auto all_steps = [&](Block& b) {
      for (int64_t t = 0; t < (v.whole ? 1 : T); ++t) v.step(b, t);
    };
    if (blocks.size() == 1) return all_steps(blocks[0]);
#pragma omp parallel num_threads(o.blocks)
    all_steps(blocks[static_cast<size_t>(omp_get_thread_num())]);
  };
  for (Variant& v : variants) run(v);  // warm-up: primitives created and cached
  for (int r = 0; r < o.reps; ++r)
    for (Variant& v : variants) {
      const auto t0 = std::chrono::steady_clock::now();
      run(v);
      v.ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  // Every variant does the same FLOPs, on every block.
  const double gflop = 2.0 * static_cast<double>(G * H * B * T) * o.blocks / 1e9;
  const std::string how = o.blocks > 1 ? fmt::format("{} blocks at once, one thread each", o.blocks)
                                       : fmt::format("{} threads", o.threads);
  std::printf("G*H %lld, H %lld, batch %lld, %lld steps, %s: %.3f GFLOP per variant, median of %d\n",
              static_cast<long long>(G), static_cast<long long>(H), static_cast<long long>(B),
              static_cast<long long>(T), how.c_str(), gflop, o.reps);
  for (Variant& v : variants) {
    std::sort(v.ms.begin(), v.ms.end());
    const double median = v.ms[v.ms.size() / 2];
    std::printf("  %-46s %9.3f ms  %6.1f GFLOP/s\n", v.name, median, gflop / median * 1e3);
  }
  return 0;
}
