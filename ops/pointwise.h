// SPDX-License-Identifier: Apache-2.0
// What lives here: the two templates behind every pointwise op: unary_op<Fn> (y = f(x)) and
// binary_op<Fn> (y = f(a, b) with NumPy broadcasting; gradients are summed back to each input's shape).
// An op family supplies only a small Fn struct: its kind, its forward formula and its local derivatives.
// Also add_into, the vectorised dst += src that backward code adds gradient pieces with.
#pragma once
#include "graph/shape.h"
#include "ops/op.h"
#include "ops/simd.h"

namespace unroll {

// ---- the element-wise loops over plain arrays: restrict pointers so that they vectorise, compiled for
// three x86-64 levels (ops/simd.h). kFresh: the gradient is unzeroed memory to overwrite with 0 + v, the
// bits += v gives on a zero-filled buffer (Note [Gradients accumulate] in graph/grad_memory.h). ----
template <class Fn, class T>
UNROLL_SIMD_CLONES void unary_forward_loop(const T* __restrict x, T* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = Fn::f(x[i]);
}
template <class Fn, bool kFresh, class T>
UNROLL_SIMD_CLONES void unary_backward_loop(const T* __restrict x, const T* __restrict y, const T* __restrict dy,
                                            T* __restrict dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = (kFresh ? T(0) : dx[i]) + dy[i] * Fn::df(x[i], y[i]);
}
template <class Fn, class T>
UNROLL_SIMD_CLONES void binary_forward_loop(const T* __restrict a, const T* __restrict b, T* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = Fn::f(a[i], b[i]);
}
// The gradient of input `which` (0: a, 1: b) of a same-shape binary op.
template <class Fn, int which, bool kFresh, class T>
UNROLL_SIMD_CLONES void binary_backward_loop(const T* __restrict a, const T* __restrict b, const T* __restrict y,
                                             const T* __restrict dy, T* __restrict d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T local = which == 0 ? Fn::da(a[i], b[i], y[i]) : Fn::db(a[i], b[i], y[i]);
    d[i] = (kFresh ? T(0) : d[i]) + dy[i] * local;
  }
}

// dst += src, n elements (gradient pieces added into a buffer).
template <class T>
UNROLL_SIMD_CLONES void add_into(T* __restrict dst, const T* __restrict src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

// ---- unary: Fn has kind, f(x) and df(x, y) = dy/dx expressed with the input x and/or output y ----
template <class Fn>
void unary_backward(BackwardContext& c) {
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const auto [dx, fresh] = c.din_target(0);
    const auto loop = fresh ? &unary_backward_loop<Fn, true, T> : &unary_backward_loop<Fn, false, T>;
    loop(c.in(0).data<T>(), c.out().data<T>(), c.dout().data<T>(), dx.template data<T>(), c.out().numel());
  });
}

template <class Fn>
Var unary_op(Var x) {
  Tensor y = x.tape().alloc(x.shape(), x.dtype());
  dispatch_dtype(x.dtype(), [&]<class T>() { unary_forward_loop<Fn, T>(x.value().data<T>(), y.data<T>(), y.numel()); });
  return record_op(Fn::kind, {x}, y, &unary_backward<Fn>);
}

// ---- broadcasting iteration over a rank-4-padded output ----
struct Broadcast {
  int64_t dims[4];
  int64_t stride_a[4];
  int64_t stride_b[4];
  bool same_shape;
};

inline Broadcast make_broadcast(const Shape& out, const Shape& a, const Shape& b) {
  Broadcast bc{};
  bc.same_shape = a == out && b == out;
  const auto fill = [&](const Shape& s, int64_t* strides) {
    int64_t stride = 1;
    for (int i = 3; i >= 0; --i) {
      const int axis = i - (4 - s.rank());
      const int64_t d = axis >= 0 ? s[axis] : 1;
      strides[i] = d == 1 ? 0 : stride;
      stride *= d;
    }
  };
  for (int i = 0; i < 4; ++i) {
    const int axis = i - (4 - out.rank());
    bc.dims[i] = axis >= 0 ? out[axis] : 1;
  }
  fill(a, bc.stride_a);
  fill(b, bc.stride_b);
  return bc;
}

// Calls f(out_index, a_index, b_index) for every output element in row-major order.
template <class F>
void for_each_broadcast(const Broadcast& bc, F&& f) {
  if (bc.same_shape) {
    const int64_t n = bc.dims[0] * bc.dims[1] * bc.dims[2] * bc.dims[3];
    for (int64_t i = 0; i < n; ++i) f(i, i, i);
    return;
  }
  int64_t o = 0;
  for (int64_t i0 = 0; i0 < bc.dims[0]; ++i0)
    for (int64_t i1 = 0; i1 < bc.dims[1]; ++i1)
      for (int64_t i2 = 0; i2 < bc.dims[2]; ++i2) {
        const int64_t base_a = i0 * bc.stride_a[0] + i1 * bc.stride_a[1] + i2 * bc.stride_a[2];
        const int64_t base_b = i0 * bc.stride_b[0] + i1 * bc.stride_b[1] + i2 * bc.stride_b[2];
        for (int64_t i3 = 0; i3 < bc.dims[3]; ++i3, ++o) f(o, base_a + i3 * bc.stride_a[3], base_b + i3 * bc.stride_b[3]);
      }
}

// ---- binary: Fn has kind, name, f(a, b), da(a, b, y) and db(a, b, y) ----
template <class Fn>
void binary_backward(BackwardContext& c) {
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const Broadcast bc = make_broadcast(c.out().shape(), c.in(0).shape(), c.in(1).shape());
    const T* a = c.in(0).data<T>();
    const T* b = c.in(1).data<T>();
    const T* y = c.out().data<T>();
    const T* dy = c.dout().data<T>();
    if (bc.same_shape) {  // each input's gradient is written element by element: may be fresh
      const int64_t n = c.out().numel();
      if (c.needs(0)) {
        const auto [da, fresh] = c.din_target(0);
        (fresh ? &binary_backward_loop<Fn, 0, true, T> : &binary_backward_loop<Fn, 0, false, T>)(a, b, y, dy,
                                                                                                 da.template data<T>(), n);
      }
      if (c.needs(1)) {
        const auto [db, fresh] = c.din_target(1);
        (fresh ? &binary_backward_loop<Fn, 1, true, T> : &binary_backward_loop<Fn, 1, false, T>)(a, b, y, dy,
                                                                                                 db.template data<T>(), n);
      }
      return;
    }
    if (c.needs(0)) {
      T* da = c.din(0).data<T>();
      for_each_broadcast(bc, [&](int64_t o, int64_t ia, int64_t ib) { da[ia] += dy[o] * Fn::da(a[ia], b[ib], y[o]); });
    }
    if (c.needs(1)) {
      T* db = c.din(1).data<T>();
      for_each_broadcast(bc, [&](int64_t o, int64_t ia, int64_t ib) { db[ib] += dy[o] * Fn::db(a[ia], b[ib], y[o]); });
    }
  });
}

template <class Fn>
Var binary_op(Var a, Var b) {
  check_same_tape(Fn::name, a, b);
  check_same_dtype(Fn::name, a, b);
  const Shape out = broadcast_shapes(a.shape(), b.shape(), Fn::name);
  Tensor y = a.tape().alloc(out, a.dtype());
  dispatch_dtype(a.dtype(), [&]<class T>() {
    const Broadcast bc = make_broadcast(out, a.shape(), b.shape());
    const T* pa = a.value().data<T>();
    const T* pb = b.value().data<T>();
    T* py = y.data<T>();
    if (bc.same_shape)
      binary_forward_loop<Fn, T>(pa, pb, py, y.numel());
    else
      for_each_broadcast(bc, [&](int64_t o, int64_t ia, int64_t ib) { py[o] = Fn::f(pa[ia], pb[ib]); });
  });
  return record_op(Fn::kind, {a, b}, y, &binary_backward<Fn>);
}

}  // namespace unroll
