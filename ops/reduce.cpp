// SPDX-License-Identifier: Apache-2.0
// What lives here: reductions: sum and mean, over all elements or along one axis (keepdim optional).
#include <algorithm>

#include "ops/axis_view.h"
#include "ops/op.h"
#include "ops/ops.h"

namespace unroll {

namespace {

// attrs: i[0] = axis (-1: all elements), f[0] = scale (1 for sum, 1/n for mean)
// y = scale * sum_axis(x);  dx += scale * broadcast(dy)
void reduce_backward(BackwardContext& c) {
  const Tensor& x = c.in(0);
  const bool all = c.attrs().i[0] < 0;
  const AxisView v = all ? AxisView(Shape{x.numel()}, 0) : AxisView(x.shape(), static_cast<int>(c.attrs().i[0]));
  dispatch_dtype(x.dtype(), [&]<class T>() {
    const T scale = static_cast<T>(c.attrs().f[0]);
    const T* dy = c.dout().data<T>();
    T* dx = c.din(0).data<T>();
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t k = 0; k < v.n; ++k)
        for (int64_t i = 0; i < v.inner; ++i) dx[(o * v.n + k) * v.inner + i] += scale * dy[o * v.inner + i];
  });
}

Var reduce(Var x, int axis, bool keepdim, bool average, OpKind kind) {
  const char* op = average ? "mean" : "sum";
  const bool all = axis == kAllAxes;
  const int ax = all ? -1 : x.shape().axis(axis, op);
  const AxisView v = all ? AxisView(Shape{x.value().numel()}, 0) : AxisView(x.shape(), ax);
  Shape out;
  if (!all)
    for (int i = 0; i < x.shape().rank(); ++i) {
      if (i != ax) out.push_back(x.shape()[i]);
      else if (keepdim) out.push_back(1);
    }
  const double scale = average ? 1.0 / static_cast<double>(std::max<int64_t>(v.n, 1)) : 1.0;
  UNROLL_CHECK(!(average && v.n == 0), ShapeError, "mean: cannot average over an empty axis (shape {})", x.shape().str());
  Tensor y = x.tape().alloc(out, x.dtype());
  dispatch_dtype(x.dtype(), [&]<class T>() {
    const T* px = x.value().data<T>();
    T* py = y.data<T>();
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t i = 0; i < v.inner; ++i) {
        T total = 0;
        for (int64_t k = 0; k < v.n; ++k) total += px[(o * v.n + k) * v.inner + i];
        py[o * v.inner + i] = total * static_cast<T>(scale);
      }
  });
  OpAttrs attrs;
  attrs.i[0] = ax;
  attrs.f[0] = scale;
  return record_op(kind, {x}, y, &reduce_backward, attrs);
}

}  // namespace

Var sum(Var x) { return reduce(x, kAllAxes, false, false, OpKind::sum); }
Var sum(Var x, int axis, bool keepdim) { return reduce(x, axis, keepdim, false, OpKind::sum); }
Var mean(Var x) { return reduce(x, kAllAxes, false, true, OpKind::mean); }
Var mean(Var x, int axis, bool keepdim) { return reduce(x, axis, keepdim, true, OpKind::mean); }

}  // namespace unroll
