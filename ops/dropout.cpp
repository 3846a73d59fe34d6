// SPDX-License-Identifier: Apache-2.0
// What lives here: inverted dropout with an explicit seeded Rng; identity in eval mode or with p == 0.
#include "ops/op.h"
#include "ops/ops.h"

namespace unroll {

namespace {
// y = x * m, m_i in {0, 1/(1-p)} (kept in aux);  dx += dy * m
void dropout_backward(BackwardContext& c) {
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const T* m = c.aux().data<T>();
    const T* dy = c.dout().data<T>();
    T* dx = c.din(0).data<T>();
    for (int64_t i = 0, n = c.out().numel(); i < n; ++i) dx[i] += dy[i] * m[i];
  });
}
}  // namespace

Var dropout(Var x, double p, Rng& rng, bool training) {
  UNROLL_CHECK(p >= 0.0 && p < 1.0, UsageError, "dropout: probability {} is outside [0, 1)", p);
  if (!training || p == 0.0) return x;
  Tape& tape = x.tape();
  Tensor mask = tape.alloc(x.shape(), x.dtype());
  Tensor y = tape.alloc(x.shape(), x.dtype());
  dispatch_dtype(x.dtype(), [&]<class T>() {
    const T keep_scale = static_cast<T>(1.0 / (1.0 - p));
    const T* px = x.value().data<T>();
    T* pm = mask.data<T>();
    T* py = y.data<T>();
    for (int64_t i = 0, n = y.numel(); i < n; ++i) {
      pm[i] = rng.uniform() < p ? T(0) : keep_scale;
      py[i] = px[i] * pm[i];
    }
  });
  return record_op(OpKind::dropout, {x}, y, &dropout_backward, {}, mask);
}

}  // namespace unroll
