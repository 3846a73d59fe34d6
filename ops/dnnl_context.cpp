// What lives here: the oneDNN matmul primitive cache behind DnnlContext::gemm. Each entry keeps its
// primitive and its memory objects; a call only swaps data handles and executes.
#include "ops/dnnl_context.h"

#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>

#include "graph/check.h"

namespace unroll {

namespace {
struct GemmShapeHash {
  size_t operator()(const GemmShape& s) const {
    size_t h = 1469598103934665603ULL;
    for (int64_t v : {s.batch, s.m, s.n, s.k, int64_t(s.trans_a), int64_t(s.trans_b), int64_t(s.accumulate),
                      int64_t(s.bias)})
      h = (h ^ static_cast<size_t>(v)) * 1099511628211ULL;
    return h;
  }
};

struct CachedMatmul {
  dnnl::matmul primitive;
  dnnl::memory src, weights, dst, bias;
};
}  // namespace

struct DnnlContext::Impl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::unordered_map<GemmShape, CachedMatmul, GemmShapeHash> matmuls;

  CachedMatmul create(const GemmShape& s) {
    using dt = dnnl::memory::data_type;
    using dims = dnnl::memory::dims;
    const bool batched = s.batch > 1;
    // Transposes are expressed as strides, so no copy is ever made.
    const auto desc = [&](int64_t rows, int64_t cols, bool transposed) {
      const dims shape = batched ? dims{s.batch, rows, cols} : dims{rows, cols};
      const dims strides = transposed ? (batched ? dims{rows * cols, 1, rows} : dims{1, rows})
                                      : (batched ? dims{rows * cols, cols, 1} : dims{cols, 1});
      return dnnl::memory::desc(shape, dt::f32, strides);
    };
    const auto src_md = desc(s.m, s.k, s.trans_a);
    const auto weights_md = desc(s.k, s.n, s.trans_b);
    const auto dst_md = desc(s.m, s.n, false);
    dnnl::primitive_attr attr;
    if (s.accumulate) {
      dnnl::post_ops ops;
      ops.append_sum(1.0f);
      attr.set_post_ops(ops);
    }
    CachedMatmul c;
    if (s.bias) {
      const auto bias_md = batched ? dnnl::memory::desc({1, 1, s.n}, dt::f32, dims{s.n, s.n, 1})
                                   : dnnl::memory::desc({1, s.n}, dt::f32, dims{s.n, 1});
      c.primitive = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(src_md, weights_md, bias_md, dst_md), attr, engine));
      c.bias = dnnl::memory(bias_md, engine, nullptr);
    } else {
      c.primitive = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(src_md, weights_md, dst_md), attr, engine));
    }
    c.src = dnnl::memory(src_md, engine, nullptr);
    c.weights = dnnl::memory(weights_md, engine, nullptr);
    c.dst = dnnl::memory(dst_md, engine, nullptr);
    return c;
  }
};

DnnlContext::DnnlContext() : impl_(std::make_unique<Impl>()) {}
DnnlContext::~DnnlContext() = default;

size_t DnnlContext::cached_primitives() const { return impl_->matmuls.size(); }

void DnnlContext::gemm(const GemmShape& s, const float* a, const float* b, float* c, const float* bias) {
  UNROLL_CHECK(!(s.bias && s.accumulate), UsageError, "gemm: bias with accumulate is not supported");
  auto it = impl_->matmuls.find(s);
  if (it == impl_->matmuls.end()) it = impl_->matmuls.emplace(s, impl_->create(s)).first;
  CachedMatmul& m = it->second;
  m.src.set_data_handle(const_cast<float*>(a));
  m.weights.set_data_handle(const_cast<float*>(b));
  m.dst.set_data_handle(c);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, m.src}, {DNNL_ARG_WEIGHTS, m.weights}, {DNNL_ARG_DST, m.dst}};
  if (s.bias) {
    m.bias.set_data_handle(const_cast<float*>(bias));
    args.emplace(DNNL_ARG_BIAS, m.bias);
  }
  m.primitive.execute(impl_->stream, args);
  impl_->stream.wait();
}

}  // namespace unroll
