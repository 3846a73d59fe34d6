// SPDX-License-Identifier: Apache-2.0
// What lives here: activation ops: tanh, sigmoid, relu (pointwise) and softmax, log_softmax (along an axis,
// numerically stable: the maximum is subtracted before exponentiating).
#include <algorithm>
#include <cmath>

#include "ops/ops.h"
#include "ops/axis_view.h"
#include "ops/fast_math.h"
#include "ops/pointwise.h"

namespace unroll {

namespace {

// y = tanh(x);  dx += dy * (1 - y^2)
struct TanhFn {
  static constexpr OpKind kind = OpKind::tanh;
  template <class T> static T f(T x) { return act::tanh(x); }
  template <class T> static T df(T, T y) { return 1 - y * y; }
};
// y = 1 / (1 + exp(-x));  dx += dy * y (1 - y)
struct SigmoidFn {
  static constexpr OpKind kind = OpKind::sigmoid;
  template <class T> static T f(T x) { return act::sigmoid(x); }
  template <class T> static T df(T, T y) { return y * (1 - y); }
};
// y = max(x, 0);  dx += dy * [x > 0]
struct ReluFn {
  static constexpr OpKind kind = OpKind::relu;
  template <class T> static T f(T x) { return x > 0 ? x : T(0); }
  template <class T> static T df(T x, T) { return x > 0 ? T(1) : T(0); }
};

template <bool kLog>
Var softmax_family(Var x, int axis, OpKind kind, BackwardFn backward) {
  const int ax = x.shape().axis(axis, kLog ? "log_softmax" : "softmax");
  Tensor y = x.tape().alloc(x.shape(), x.dtype());
  const AxisView v(x.shape(), ax);
  dispatch_dtype(x.dtype(), [&]<class T>() {
    const T* px = x.value().data<T>();
    T* py = y.data<T>();
    for_each_line(v, [&](int64_t base, int64_t stride) {
      T max = px[base];
      for (int64_t k = 1; k < v.n; ++k) max = std::max(max, px[base + k * stride]);
      T total = 0;
      for (int64_t k = 0; k < v.n; ++k) total += std::exp(px[base + k * stride] - max);
      const T log_total = std::log(total);
      for (int64_t k = 0; k < v.n; ++k) {
        const T shifted = px[base + k * stride] - max;
        py[base + k * stride] = kLog ? shifted - log_total : std::exp(shifted) / total;
      }
    });
  });
  OpAttrs attrs;
  attrs.i[0] = ax;
  return record_op(kind, {x}, y, backward, attrs);
}

// y = softmax(x);  dx += y * (dy - sum_k(dy_k y_k))
void softmax_backward(BackwardContext& c) {
  const AxisView v(c.out().shape(), static_cast<int>(c.attrs().i[0]));
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const T* y = c.out().data<T>();
    const T* dy = c.dout().data<T>();
    T* dx = c.din(0).data<T>();
    for_each_line(v, [&](int64_t base, int64_t stride) {
      T dot = 0;
      for (int64_t k = 0; k < v.n; ++k) dot += dy[base + k * stride] * y[base + k * stride];
      for (int64_t k = 0; k < v.n; ++k) dx[base + k * stride] += y[base + k * stride] * (dy[base + k * stride] - dot);
    });
  });
}

// y = log_softmax(x);  dx += dy - exp(y) * sum_k(dy_k)
void log_softmax_backward(BackwardContext& c) {
  const AxisView v(c.out().shape(), static_cast<int>(c.attrs().i[0]));
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const T* y = c.out().data<T>();
    const T* dy = c.dout().data<T>();
    T* dx = c.din(0).data<T>();
    for_each_line(v, [&](int64_t base, int64_t stride) {
      T total = 0;
      for (int64_t k = 0; k < v.n; ++k) total += dy[base + k * stride];
      for (int64_t k = 0; k < v.n; ++k) dx[base + k * stride] += dy[base + k * stride] - std::exp(y[base + k * stride]) * total;
    });
  });
}

}  // namespace

Var tanh(Var x) { return unary_op<TanhFn>(x); }
Var sigmoid(Var x) { return unary_op<SigmoidFn>(x); }
Var relu(Var x) { return unary_op<ReluFn>(x); }
Var softmax(Var x, int axis) { return softmax_family<false>(x, axis, OpKind::softmax, &softmax_backward); }
Var log_softmax(Var x, int axis) { return softmax_family<true>(x, axis, OpKind::log_softmax, &log_softmax_backward); }

}  // namespace unroll
