// SPDX-License-Identifier: Apache-2.0
// What lives here: matrix products: matmul (2-D), batched_matmul (3-D) and linear (x W^T + b), the latter
// also on packed weights (linear_packed, Note [Packed weights] in ops/weight_packs.h).
#include <algorithm>

#include "ops/gemm.h"
#include "ops/op.h"
#include "ops/ops.h"
#include "ops/weight_packs.h"

namespace unroll {

namespace {

// Y = A B over a batch;  dA += dY B^T,  dB += A^T dY
void matmul_backward(BackwardContext& c) {
  const Shape& as = c.in(0).shape();
  const Shape& bs = c.in(1).shape();
  const bool batched = as.rank() == 3;
  const int64_t batch = batched ? as[0] : 1, m = as[as.rank() - 2], k = as[as.rank() - 1], n = bs[bs.rank() - 1];
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const T* a = c.in(0).data<T>();
    const T* b = c.in(1).data<T>();
    const T* dy = c.dout().data<T>();
    if (c.needs(0))
      gemm<T>(c.tape(), {.batch = batch, .m = m, .n = k, .k = n, .trans_b = true, .accumulate = true}, dy, b,
              c.din(0).data<T>());
    if (c.needs(1))
      gemm<T>(c.tape(), {.batch = batch, .m = k, .n = n, .k = m, .trans_a = true, .accumulate = true}, a, dy,
              c.din(1).data<T>());
  });
}

Var matmul_impl(Var a, Var b, bool batched) {
  const char* op = batched ? "batched_matmul" : "matmul";
  check_same_tape(op, a, b);
  check_same_dtype(op, a, b);
  const int rank = batched ? 3 : 2;
  check_rank(op, a, rank, "the left operand");
  check_rank(op, b, rank, "the right operand");
  const Shape& as = a.shape();
  const Shape& bs = b.shape();
  UNROLL_CHECK(as[rank - 1] == bs[rank - 2] && (!batched || as[0] == bs[0]), ShapeError,
               "{}: shapes {} and {} are not compatible (hint: inner dimensions must agree{})", op, as.str(), bs.str(),
               batched ? " and batch sizes must match" : "");
  const int64_t batch = batched ? as[0] : 1, m = as[rank - 2], k = as[rank - 1], n = bs[rank - 1];
  const Shape out = batched ? Shape{batch, m, n} : Shape{m, n};
  Tensor y = a.tape().alloc(out, a.dtype());
  dispatch_dtype(a.dtype(), [&]<class T>() {
    gemm<T>(a.tape(), {.batch = batch, .m = m, .n = n, .k = k}, a.value().data<T>(), b.value().data<T>(), y.data<T>());
  });
  return record_op(batched ? OpKind::batched_matmul : OpKind::matmul, {a, b}, y, &matmul_backward);
}

// linear()'s input-gradient product dx += dy W: [M, out] x [out, in].
GemmShape dx_shape(int64_t m, int64_t in, int64_t out) { return {.m = m, .n = in, .k = out, .accumulate = true}; }

// y = x W^T (+ b), x viewed as [M, I];  dx += dy W,  dW += dy^T x,  db += sum_rows(dy)
void linear_backward(BackwardContext& c) {
  const Tensor& x = c.in(0);
  const Tensor& w = c.in(1);
  const int64_t in = w.shape()[1], out = w.shape()[0], m = c.out().numel() / std::max<int64_t>(out, 1);
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const T* dy = c.dout().data<T>();
    if (c.needs(0)) {
      const auto* packed = static_cast<const PackedWeights*>(c.attrs().ptr);  // Note [Packed weights]: float32
      if constexpr (std::is_same_v<T, float>)
        if (packed != nullptr) dnnl_context(c.tape()).gemm(dx_shape(m, in, out), dy, *packed, c.din(0).data<T>(), nullptr);
      if (packed == nullptr) gemm<T>(c.tape(), dx_shape(m, in, out), dy, w.data<T>(), c.din(0).data<T>());
    }
    if (c.needs(1))
      gemm<T>(c.tape(), {.m = out, .n = in, .k = m, .trans_a = true, .accumulate = true}, dy, x.data<T>(),
              c.din(1).data<T>());
    if (c.n_inputs() == 3 && c.needs(2)) {
      T* db = c.din(2).data<T>();
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < out; ++j) db[j] += dy[i * out + j];
    }
  });
}

Var linear_impl(Var x, Var w, const Var* b, WeightPacks* packs) {
  check_same_tape("linear", x, w);
  check_same_dtype("linear", x, w);
  check_rank("linear", w, 2, "the weight");
  UNROLL_CHECK(packs == nullptr || &packs->tape() == &x.tape(), UsageError,
               "linear_packed: the weight packs belong to a different tape (hint: make them on the input's tape)");
  const Shape& xs = x.shape();
  UNROLL_CHECK(xs.rank() >= 1 && xs[xs.rank() - 1] == w.shape()[1], ShapeError,
               "linear: input shape {} does not match weight shape {} (hint: the input's last dimension must equal the "
               "weight's second dimension, in_features)",
               xs.str(), w.shape().str());
  const int64_t in = w.shape()[1], out = w.shape()[0];
  int64_t m = 1;  // rows: every leading dimension
  for (int i = 0; i + 1 < xs.rank(); ++i) m *= xs[i];
  if (b) {
    check_same_tape("linear", x, *b);
    check_same_dtype("linear", x, *b);
    UNROLL_CHECK(b->shape() == Shape{out}, ShapeError,
                 "linear: bias shape {} does not match weight shape {} (hint: the bias must be [out_features] = [{}])",
                 b->shape().str(), w.shape().str(), out);
  }
  Shape ys = xs;
  ys[ys.rank() - 1] = out;
  Tensor y = x.tape().alloc(ys, x.dtype());
  OpAttrs attrs;  // ptr: W packed for dx = dy W (Note [Packed weights]), or null
  dispatch_dtype(x.dtype(), [&]<class T>() {
    if (in == 0) {  // empty contraction: y = b or 0
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < out; ++j) y.data<T>()[i * out + j] = b ? b->value().data<T>()[j] : T(0);
      return;
    }
    const GemmShape shape{.m = m, .n = out, .k = in, .trans_b = true, .bias = b != nullptr};
    const T* bias = b ? b->value().data<T>() : nullptr;
    if constexpr (std::is_same_v<T, float>) {
      if (packs != nullptr) {  // Note [Packed weights]
        if (x.requires_grad() && x.tape().grad_enabled())  // for the backward product dx = dy W
          attrs.ptr = packs->find(w.id(), dx_shape(m, in, out), w.value().data<float>(), true);
        if (const PackedWeights* packed = packs->find(w.id(), shape, w.value().data<float>()))
          return dnnl_context(x.tape()).gemm(shape, x.value().data<float>(), *packed, y.data<float>(), bias);
      }
    }
    gemm<T>(x.tape(), shape, x.value().data<T>(), w.value().data<T>(), y.data<T>(), bias);
  });
  if (b) return record_op(OpKind::linear, {x, w, *b}, y, &linear_backward, attrs);
  return record_op(OpKind::linear, {x, w}, y, &linear_backward, attrs);
}

}  // namespace

Var matmul(Var a, Var b) { return matmul_impl(a, b, false); }
Var batched_matmul(Var a, Var b) { return matmul_impl(a, b, true); }
Var linear(Var x, Var weight) { return linear_impl(x, weight, nullptr, nullptr); }
Var linear(Var x, Var weight, Var bias) { return linear_impl(x, weight, &bias, nullptr); }
Var linear_packed(Var x, WeightPacks* packs, Var weight) { return linear_impl(x, weight, nullptr, packs); }
Var linear_packed(Var x, WeightPacks* packs, Var weight, Var bias) { return linear_impl(x, weight, &bias, packs); }

}  // namespace unroll
