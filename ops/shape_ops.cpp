// SPDX-License-Identifier: Apache-2.0
// What lives here: ops that move data without arithmetic: reshape (a view), transpose (2-D), concat,
// slice/split/chunk along an axis (gate blocks), and gather_rows (embedding lookup).
#include <algorithm>
#include <cstring>
#include <numeric>

#include "ops/axis_view.h"
#include "ops/op.h"
#include "ops/ops.h"

namespace unroll {

namespace {

// How copy_block writes: assign (d = s), accumulate (d += s), or into a fresh gradient (d = 0 + s, the bits
// of += on a zero-filled buffer: Note [Gradients accumulate] in graph/grad_memory.h).
enum class Write { assign, accumulate, fresh };

// dst[o, dst_start + k, i] = (or +=) src[o, src_start + k, i] for k < len, where the axis has size dst_n
// in dst and src_n in src (both tensors seen as [outer, n, inner]).
template <Write kWrite, class T>
void copy_block(T* __restrict dst, int64_t dst_n, int64_t dst_start, const T* __restrict src, int64_t src_n,
                int64_t src_start, int64_t outer, int64_t len, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o) {
    T* d = dst + (o * dst_n + dst_start) * inner;
    const T* s = src + (o * src_n + src_start) * inner;
    for (int64_t i = 0; i < len * inner; ++i) {
      if constexpr (kWrite == Write::accumulate) d[i] += s[i];
      else if constexpr (kWrite == Write::fresh) d[i] = T(0) + s[i];
      else d[i] = s[i];
    }
  }
}

// Adds src's block into an input's gradient, overwriting it when the block is all of a fresh gradient.
template <class T>
void add_block_into_din(BackwardContext& c, int input, int64_t dst_n, int64_t dst_start, const T* src, int64_t src_n,
                        int64_t src_start, int64_t outer, int64_t len, int64_t inner) {
  if (dst_start == 0 && len == dst_n) {
    const auto [grad, fresh] = c.din_target(input);
    (fresh ? &copy_block<Write::fresh, T> : &copy_block<Write::accumulate, T>)(
        grad.template data<T>(), dst_n, dst_start, src, src_n, src_start, outer, len, inner);
  } else {
    copy_block<Write::accumulate>(c.din(input).data<T>(), dst_n, dst_start, src, src_n, src_start, outer, len, inner);
  }
}

// y = reshape(x);  dx += reshape(dy)
void reshape_backward(BackwardContext& c) {
  if (c.grad_is_view()) return;  // dy already is that part of dx (Note [Gradient views])
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const int64_t n = c.out().numel();
    add_block_into_din<T>(c, 0, n, 0, c.dout().data<T>(), n, 0, 1, n, 1);
  });
}

// y = x^T;  dx += dy^T
void transpose_backward(BackwardContext& c) {
  const int64_t rows = c.in(0).shape()[0], cols = c.in(0).shape()[1];
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const T* dy = c.dout().data<T>();
    T* dx = c.din(0).data<T>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t q = 0; q < cols; ++q) dx[r * cols + q] += dy[q * rows + r];
  });
}

// y = concat(x_0, x_1, ...) along axis;  dx_i += dy[block i]
void concat_backward(BackwardContext& c) {
  const int axis = static_cast<int>(c.attrs().i[0]);
  const AxisView out(c.out().shape(), axis);
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    int64_t start = 0;
    for (int i = 0; i < c.n_inputs(); ++i) {
      const int64_t len = c.in(i).shape()[axis];
      if (c.needs(i))
        add_block_into_din<T>(c, i, len, 0, c.dout().data<T>(), out.n, start, out.outer, len, out.inner);
      start += len;
    }
  });
}

// y = x[start : start + length] along axis (select: the same with length 1, the axis dropped);
// dx[start : start + length] += dy
void slice_backward(BackwardContext& c) {
  if (c.grad_is_view()) return;  // dy already is that part of dx (Note [Gradient views])
  const int axis = static_cast<int>(c.attrs().i[0]);
  const AxisView in(c.in(0).shape(), axis);
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const int64_t len = c.attrs().i[2];
    add_block_into_din<T>(c, 0, in.n, c.attrs().i[1], c.dout().data<T>(), len, 0, in.outer, len, in.inner);
  });
}

// y[r] = table[idx[r]];  dtable[idx[r]] += dy[r]
void gather_rows_backward(BackwardContext& c) {
  const auto* idx = static_cast<const int64_t*>(c.attrs().ptr);
  const int64_t rows = c.out().shape()[0], width = c.out().shape()[1];
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const T* dy = c.dout().data<T>();
    T* dt = c.din(0).data<T>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < width; ++j) dt[idx[r] * width + j] += dy[r * width + j];
  });
}

}  // namespace

Var reshape(Var x, const Shape& shape) {
  UNROLL_CHECK(shape.numel() == x.value().numel(), ShapeError,
               "reshape: cannot reshape {} ({} elements) to {} ({} elements)", x.shape().str(), x.value().numel(),
               shape.str(), shape.numel());
  return record_view_op(OpKind::reshape, x, x.value().reshaped(shape), &reshape_backward, 0);
}

Var transpose(Var x) {
  check_rank("transpose", x, 2, "the input");
  const int64_t rows = x.shape()[0], cols = x.shape()[1];
  Tensor y = x.tape().alloc(Shape{cols, rows}, x.dtype());
  dispatch_dtype(x.dtype(), [&]<class T>() {
    const T* px = x.value().data<T>();
    T* py = y.data<T>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t q = 0; q < cols; ++q) py[q * rows + r] = px[r * cols + q];
  });
  return record_op(OpKind::transpose, {x}, y, &transpose_backward);
}

Var concat(const std::vector<Var>& xs, int axis) {
  UNROLL_CHECK(!xs.empty(), ShapeError, "concat: no inputs (hint: pass at least one tensor)");
  const Shape& first = xs[0].shape();
  const int ax = first.axis(axis, "concat");
  Shape out = first;
  out[ax] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    check_same_tape("concat", xs[0], xs[i]);
    check_same_dtype("concat", xs[0], xs[i]);
    const Shape& s = xs[i].shape();
    bool compatible = s.rank() == first.rank();
    for (int d = 0; compatible && d < s.rank(); ++d) compatible = d == ax || s[d] == first[d];
    UNROLL_CHECK(compatible, ShapeError,
                 "concat: input {} has shape {} but input 0 has shape {} (hint: all dimensions except axis {} must match)",
                 i, s.str(), first.str(), ax);
    out[ax] += s[ax];
  }
  Tensor y = xs[0].tape().alloc(out, xs[0].dtype());
  const AxisView v(out, ax);
  dispatch_dtype(y.dtype(), [&]<class T>() {
    int64_t start = 0;
    for (const Var& x : xs) {
      const int64_t len = x.shape()[ax];
      copy_block<Write::assign>(y.data<T>(), v.n, start, x.value().data<T>(), len, 0, v.outer, len, v.inner);
      start += len;
    }
  });
  OpAttrs attrs;
  attrs.i[0] = ax;
  return record_op(OpKind::concat, xs, y, &concat_backward, attrs);
}

namespace {

// x's block [start, start + length) along axis ax, recorded with value shape `out` (the block's shape, or
// select's, without the axis). A contiguous block at an aligned offset (a range of time steps, a weight's
// leading gate rows) is a view of x's value, as reshape is; anything else is copied.
Var record_slice(Var x, int ax, int64_t start, int64_t length, const Shape& out) {
  const AxisView v(x.shape(), ax);
  OpAttrs attrs;
  attrs.i[0] = ax;
  attrs.i[1] = start;
  attrs.i[2] = length;
  const size_t offset = static_cast<size_t>(start * v.inner) * dtype_size(x.dtype());
  if (v.outer == 1 && length > 0 && offset % Tensor::kAlignment == 0)
    return record_view_op(OpKind::slice, x, x.value().reshaped(Shape{v.n, v.inner}).leading(start, length).reshaped(out),
                          &slice_backward, start * v.inner, attrs);
  Tensor y = x.tape().alloc(out, x.dtype());
  dispatch_dtype(y.dtype(), [&]<class T>() {
    copy_block<Write::assign>(y.data<T>(), length, 0, x.value().data<T>(), v.n, start, v.outer, length, v.inner);
  });
  return record_op(OpKind::slice, {x}, y, &slice_backward, attrs);
}

}  // namespace

Var slice(Var x, int axis, int64_t start, int64_t length) {
  const int ax = x.shape().axis(axis, "slice");
  UNROLL_CHECK(start >= 0 && length >= 0 && start + length <= x.shape()[ax], ShapeError,
               "slice: range [{}, {}) is outside axis {} of shape {}", start, start + length, ax, x.shape().str());
  Shape out = x.shape();
  out[ax] = length;
  return record_slice(x, ax, start, length, out);
}

Var select(Var x, int64_t index) {
  const Shape& xs = x.shape();
  UNROLL_CHECK(xs.rank() >= 2 && index >= 0 && index < xs[0], ShapeError,
               "select: index {} is outside axis 0 of shape {} (hint: x must have rank >= 2)", index, xs.str());
  return record_slice(x, 0, index, 1, Shape::from_range(xs.begin() + 1, xs.end()));
}

std::vector<Var> split(Var x, int axis, const std::vector<int64_t>& sizes) {
  const int ax = x.shape().axis(axis, "split");
  const int64_t total = std::accumulate(sizes.begin(), sizes.end(), int64_t{0});
  UNROLL_CHECK(total == x.shape()[ax], ShapeError, "split: sizes add up to {} but axis {} of shape {} has {}", total, ax,
               x.shape().str(), x.shape()[ax]);
  std::vector<Var> parts;
  parts.reserve(sizes.size());
  int64_t start = 0;
  for (int64_t size : sizes) {
    parts.push_back(slice(x, ax, start, size));
    start += size;
  }
  return parts;
}

std::vector<Var> chunk(Var x, int axis, int pieces) {
  const int ax = x.shape().axis(axis, "chunk");
  UNROLL_CHECK(pieces > 0 && x.shape()[ax] % pieces == 0, ShapeError,
               "chunk: axis {} of shape {} cannot be cut into {} equal pieces", ax, x.shape().str(), pieces);
  return split(x, ax, std::vector<int64_t>(static_cast<size_t>(pieces), x.shape()[ax] / pieces));
}

Var gather_rows(Var table, const std::vector<int64_t>& indices) {
  check_rank("gather_rows", table, 2, "the table");
  const int64_t vocab = table.shape()[0], width = table.shape()[1], rows = static_cast<int64_t>(indices.size());
  for (size_t r = 0; r < indices.size(); ++r)
    UNROLL_CHECK(indices[r] >= 0 && indices[r] < vocab, ShapeError,
                 "gather_rows: index {} at position {} is outside the table's {} rows (shape {})", indices[r], r, vocab,
                 table.shape().str());
  auto* idx = static_cast<int64_t*>(table.tape().alloc_bytes(indices.size() * sizeof(int64_t) + 1));
  std::copy(indices.begin(), indices.end(), idx);
  Tensor y = table.tape().alloc(Shape{rows, width}, table.dtype());
  dispatch_dtype(y.dtype(), [&]<class T>() {
    const T* pt = table.value().data<T>();
    T* py = y.data<T>();
    for (int64_t r = 0; r < rows; ++r) std::memcpy(py + r * width, pt + idx[r] * width, sizeof(T) * static_cast<size_t>(width));
  });
  OpAttrs attrs;
  attrs.ptr = idx;
  return record_op(OpKind::gather_rows, {table}, y, &gather_rows_backward, attrs);
}

}  // namespace unroll
