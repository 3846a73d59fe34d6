// SPDX-License-Identifier: Apache-2.0
// What lives here: the core engine benchmark (issue 2). In one process it measures
//   (1) framework overhead per recorded op: record + dispatch + arena allocation + backward + reset, on
//       tiny [4] float32 tensors, as median microseconds per op over repeated chains;
//   (2) float32 matmul GFLOP/s through the framework (a recorded matmul op on a tape that is reset every
//       iteration) next to a raw oneDNN matmul primitive on the same shapes, interleaved, as medians.
// PyTorch's tiny-op chain is measured by bench/torch_bench.py --tiny-ops; bench/core.sh runs both and
// prints the ratio. Output: a table, or one JSON object with --json.
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "unroll.h"

using namespace unroll;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Seconds for one call of fn, median over `reps` after `warmup` calls.
double time_median(int warmup, int reps, const std::function<void()>& fn) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> s;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = Clock::now();
    fn();
    s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return median(s);
}

// A chain of n tiny ops alternating affine and tanh, then backward; per-op microseconds.
nlohmann::json tiny_op_overhead(int n_ops, int reps) {
  Tape tape;
  const Tensor x = Tensor::from_values({0.1, 0.2, 0.3, 0.4}, {4}, DType::f32);
  const double seconds = time_median(5, reps, [&] {
    tape.reset();
    Var h = tape.leaf(x, true);
    for (int i = 0; i < n_ops; i += 2) h = tanh(affine(h, 1.0001, 0.001));
    backward(sum(h));
  });
  return {{"ops_per_chain", n_ops}, {"us_per_op", seconds * 1e6 / n_ops}};
}

struct MatmulShape {
  int64_t m, k, n;
};

nlohmann::json matmul_vs_raw(const MatmulShape& s, int reps) {
  Rng rng(1);
  Tensor a = Tensor::empty({s.m, s.k}, DType::f32), b = Tensor::empty({s.k, s.n}, DType::f32);
  for (int64_t i = 0; i < a.numel(); ++i) a.set(i, rng.uniform(-1, 1));
  for (int64_t i = 0; i < b.numel(); ++i) b.set(i, rng.uniform(-1, 1));
  const double flops = 2.0 * s.m * s.k * s.n;

  Tape tape;
  const auto framework = [&] {
    tape.reset();
    NoGradGuard no_grad(tape);
    matmul(tape.leaf(a), tape.leaf(b));
  };

  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  using tag = dnnl::memory::format_tag;
  const dnnl::memory::desc a_md({s.m, s.k}, dnnl::memory::data_type::f32, tag::ab);
  const dnnl::memory::desc b_md({s.k, s.n}, dnnl::memory::data_type::f32, tag::ab);
  const dnnl::memory::desc c_md({s.m, s.n}, dnnl::memory::data_type::f32, tag::ab);
  dnnl::matmul raw(dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, b_md, c_md), engine));
  Tensor c = Tensor::empty({s.m, s.n}, DType::f32);
  dnnl::memory am(a_md, engine, a.raw()), bm(b_md, engine, b.raw()), cm(c_md, engine, c.raw());
  const auto raw_call = [&] {
    raw.execute(stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
    stream.wait();
  };

  // Interleave rounds so drift of the machine hits both sides alike.
  std::vector<double> fw, rw;
  for (int round = 0; round < 5; ++round) {
    fw.push_back(time_median(3, reps, framework));
    rw.push_back(time_median(3, reps, raw_call));
  }
  const double f = median(fw), r = median(rw);
  return {{"shape", fmt::format("[{}x{}]x[{}x{}]", s.m, s.k, s.k, s.n)},
          {"framework_gflops", flops / f / 1e9},
          {"raw_onednn_gflops", flops / r / 1e9},
          {"framework_over_raw", r / f}};
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  int reps = 200;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") json = true;
    else if (arg == "--reps" && i + 1 < argc) reps = std::stoi(argv[++i]);
    else {
      fmt::print(stderr, "usage: core_bench [--json] [--reps N]\n");
      return 2;
    }
  }
  nlohmann::json out;
  out["tiny_ops"] = tiny_op_overhead(1000, reps);
  out["matmul"] = nlohmann::json::array();
  for (const MatmulShape& s : {MatmulShape{32, 129, 512}, MatmulShape{256, 512, 2048}})
    out["matmul"].push_back(matmul_vs_raw(s, s.m > 100 ? reps / 10 + 5 : reps));
  if (json) {
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print("framework overhead per op (record + dispatch + alloc + backward): {:.3f} us\n",
             out["tiny_ops"]["us_per_op"].get<double>());
  for (const auto& m : out["matmul"])
    fmt::print("matmul {:>20}: framework {:7.1f} GFLOP/s, raw oneDNN {:7.1f} GFLOP/s, ratio {:.1f}%\n",
               m["shape"].get<std::string>(), m["framework_gflops"].get<double>(), m["raw_onednn_gflops"].get<double>(),
               100 * m["framework_over_raw"].get<double>());
  return 0;
}
