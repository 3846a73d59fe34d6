// What lives here: the matrix products of one graph-path recurrent layer, timed in isolation on
// DnnlContext::gemm (the calls the linear op makes), to show where the graph path's matmul time goes and
// what a different operand layout or grouping would buy (docs/performance.md, "Where the time goes").
// For G gate blocks of H units, batch B and T steps it times, as the median over --reps repetitions of
// all T steps (interleaved, so the machine's drift hits every variant alike):
//   forward   h W^T  with W [G*H, H] read transposed (what the graph path does)
//   forward   h W^T  with a copy of W^T [H, G*H]      (measured, not taken)
//   backward  dh += dg W    with W as stored          (what the graph path does)
//   backward  dh += dg W    reading W^T transposed    (what the copy would force)
//   weight    dW += dg^T h  once per step             (what the graph path does)
//   weight    dW += dg^T h  as one GEMM over all steps (K = T*B)
// Usage: step_gemm_bench --gates G --hidden H --batch B --steps T [--reps N] [--threads K]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "ops/dnnl_context.h"
#include "ops/reference_kernels.h"

using unroll::DnnlContext;
using unroll::GemmShape;

namespace {

struct Options {
  int64_t gates = 4, hidden = 256, batch = 32, steps = 50;
  int reps = 15, threads = 2;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || i + 1 >= argc) {
      std::fprintf(stderr, "usage: %s --gates G --hidden H --batch B --steps T [--reps N] [--threads K]\n", argv[0]);
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
    else {
      std::fprintf(stderr, "step_gemm_bench: unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  return o;
}

struct Variant {
  const char* name;
  std::function<void()> run;  // all T steps
  std::vector<double> ms = {};
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  omp_set_num_threads(o.threads);
  DnnlContext ctx;
  const int64_t G = o.gates * o.hidden, H = o.hidden, B = o.batch, T = o.steps;
  std::vector<float> h(static_cast<size_t>(T * B * H), 0.02f), dh(h.size(), 0.0f);
  std::vector<float> gates(static_cast<size_t>(T * B * G), 0.01f), dgates(gates.size(), 0.01f);
  std::vector<float> w(static_cast<size_t>(G * H), 0.03f), w_t(w.size(), 0.03f), dw(w.size(), 0.0f);
  const auto step = [&](auto&& body) {
    return [&, body] {
      for (int64_t t = 0; t < T; ++t) body(t);
    };
  };
  std::vector<Variant> variants = {
      {"forward h W^T, W read transposed", step([&](int64_t t) {
         ctx.gemm({.m = B, .n = G, .k = H, .trans_b = true}, &h[t * B * H], w.data(), &gates[t * B * G], nullptr);
       })},
      {"forward h W^T, copy of W^T", step([&](int64_t t) {
         ctx.gemm({.m = B, .n = G, .k = H}, &h[t * B * H], w_t.data(), &gates[t * B * G], nullptr);
       })},
      {"backward dh += dg W, W as stored", step([&](int64_t t) {
         ctx.gemm({.m = B, .n = H, .k = G, .accumulate = true}, &dgates[t * B * G], w.data(), &dh[t * B * H], nullptr);
       })},
      {"backward dh += dg W, W^T read transposed", step([&](int64_t t) {
         ctx.gemm({.m = B, .n = H, .k = G, .trans_b = true, .accumulate = true}, &dgates[t * B * G], w_t.data(),
                  &dh[t * B * H], nullptr);
       })},
      {"weight dW += dg^T h, per step", step([&](int64_t t) {
         ctx.gemm({.m = G, .n = H, .k = B, .trans_a = true, .accumulate = true}, &dgates[t * B * G], &h[t * B * H],
                  dw.data(), nullptr);
       })},
      {"weight dW += dg^T h, one GEMM over all steps", [&] {
         ctx.gemm({.m = G, .n = H, .k = T * B, .trans_a = true, .accumulate = true}, dgates.data(), h.data(), dw.data(),
                  nullptr);
       }},
  };
  for (Variant& v : variants) v.run();  // warm-up: primitives created and cached
  for (int r = 0; r < o.reps; ++r)
    for (Variant& v : variants) {
      const auto t0 = std::chrono::steady_clock::now();
      v.run();
      v.ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  const double gflop = 2.0 * static_cast<double>(G * H * B * T) / 1e9;  // every variant does the same FLOPs
  std::printf("G*H %lld, H %lld, batch %lld, %lld steps, %d threads: %.3f GFLOP per variant, median of %d\n",
              static_cast<long long>(G), static_cast<long long>(H), static_cast<long long>(B),
              static_cast<long long>(T), o.threads, gflop, o.reps);
  for (Variant& v : variants) {
    std::sort(v.ms.begin(), v.ms.end());
    const double median = v.ms[v.ms.size() / 2];
    std::printf("  %-46s %9.3f ms  %6.1f GFLOP/s\n", v.name, median, gflop / median * 1e3);
  }
  return 0;
}
