// SPDX-License-Identifier: Apache-2.0
// What lives here: arithmetic ops: add, sub, mul, div (broadcasting), affine, neg, exp, log, square, sqrt.
#include <cmath>

#include "ops/fast_math.h"
#include "ops/ops.h"
#include "ops/pointwise.h"

namespace unroll {

namespace {

// y = a + b;  da += dy, db += dy
struct AddFn {
  static constexpr OpKind kind = OpKind::add;
  static constexpr const char* name = "add";
  template <class T> static T f(T a, T b) { return a + b; }
  template <class T> static T da(T, T, T) { return 1; }
  template <class T> static T db(T, T, T) { return 1; }
};
// y = a - b;  da += dy, db -= dy
struct SubFn {
  static constexpr OpKind kind = OpKind::sub;
  static constexpr const char* name = "sub";
  template <class T> static T f(T a, T b) { return a - b; }
  template <class T> static T da(T, T, T) { return 1; }
  template <class T> static T db(T, T, T) { return -1; }
};
// y = a * b;  da += dy * b, db += dy * a
struct MulFn {
  static constexpr OpKind kind = OpKind::mul;
  static constexpr const char* name = "mul";
  template <class T> static T f(T a, T b) { return a * b; }
  template <class T> static T da(T, T b, T) { return b; }
  template <class T> static T db(T a, T, T) { return a; }
};
// y = a / b;  da += dy / b, db -= dy * y / b
struct DivFn {
  static constexpr OpKind kind = OpKind::div;
  static constexpr const char* name = "div";
  template <class T> static T f(T a, T b) { return a / b; }
  template <class T> static T da(T, T b, T) { return T(1) / b; }
  template <class T> static T db(T, T b, T y) { return -y / b; }
};

// y = -x;  dx -= dy
struct NegFn {
  static constexpr OpKind kind = OpKind::neg;
  template <class T> static T f(T x) { return -x; }
  template <class T> static T df(T, T) { return -1; }
};
// y = exp(x);  dx += dy * y
struct ExpFn {
  static constexpr OpKind kind = OpKind::exp;
  static float f(float x) { return fast::exp(x); }
  static double f(double x) { return std::exp(x); }
  template <class T> static T df(T, T y) { return y; }
};
// y = log(x);  dx += dy / x
struct LogFn {
  static constexpr OpKind kind = OpKind::log;
  template <class T> static T f(T x) { return std::log(x); }
  template <class T> static T df(T x, T) { return T(1) / x; }
};
// y = x^2;  dx += dy * 2x
struct SquareFn {
  static constexpr OpKind kind = OpKind::square;
  template <class T> static T f(T x) { return x * x; }
  template <class T> static T df(T x, T) { return 2 * x; }
};
// y = sqrt(x);  dx += dy / (2y)
struct SqrtFn {
  static constexpr OpKind kind = OpKind::sqrt;
  template <class T> static T f(T x) { return std::sqrt(x); }
  template <class T> static T df(T, T y) { return T(0.5) / y; }
};

// y = scale * x + shift;  dx += dy * scale
void affine_backward(BackwardContext& c) {
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const T scale = static_cast<T>(c.attrs().f[0]);
    const T* dy = c.dout().data<T>();
    T* dx = c.din(0).data<T>();
    for (int64_t i = 0, n = c.out().numel(); i < n; ++i) dx[i] += dy[i] * scale;
  });
}

}  // namespace

Var add(Var a, Var b) { return binary_op<AddFn>(a, b); }
Var sub(Var a, Var b) { return binary_op<SubFn>(a, b); }
Var mul(Var a, Var b) { return binary_op<MulFn>(a, b); }
Var div(Var a, Var b) { return binary_op<DivFn>(a, b); }
Var neg(Var x) { return unary_op<NegFn>(x); }
Var exp(Var x) { return unary_op<ExpFn>(x); }
Var log(Var x) { return unary_op<LogFn>(x); }
Var square(Var x) { return unary_op<SquareFn>(x); }
Var sqrt(Var x) { return unary_op<SqrtFn>(x); }

Var affine(Var x, double scale, double shift) {
  Tensor y = x.tape().alloc(x.shape(), x.dtype());
  dispatch_dtype(x.dtype(), [&]<class T>() {
    const T s = static_cast<T>(scale), t = static_cast<T>(shift);
    const T* px = x.value().data<T>();
    T* py = y.data<T>();
    for (int64_t i = 0, n = y.numel(); i < n; ++i) py[i] = s * px[i] + t;
  });
  OpAttrs attrs;
  attrs.f[0] = scale;
  attrs.f[1] = shift;
  return record_op(OpKind::affine, {x}, y, &affine_backward, attrs);
}

}  // namespace unroll
