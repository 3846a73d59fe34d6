// SPDX-License-Identifier: Apache-2.0
// What lives here: AxisView, which sees any shape as [outer, n, inner] around one axis, so reductions,
// softmax and concat/slice are written once for every rank and axis.
#pragma once
#include <cstdint>

#include "graph/shape.h"

namespace unroll {

// Views a shape as [outer, n, inner] around `axis`.
struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
  AxisView(const Shape& s, int axis) {
    for (int i = 0; i < s.rank(); ++i) (i < axis ? outer : i == axis ? n : inner) *= s[i];
  }
};

// Calls f(base, stride) for every line along the axis: elements base + k * stride, k in [0, n).
template <class F>
void for_each_line(const AxisView& v, F&& f) {
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t i = 0; i < v.inner; ++i) f(o * v.n * v.inner + i, v.inner);
}

}  // namespace unroll
