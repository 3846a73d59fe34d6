// SPDX-License-Identifier: Apache-2.0
// What lives here: Shape helpers and NumPy broadcasting.
#include "graph/shape.h"

#include <algorithm>

#include "graph/check.h"

namespace unroll {

Shape::Shape(std::initializer_list<int64_t> dims) {
  for (int64_t d : dims) push_back(d);
}

void Shape::push_back(int64_t d) {
  UNROLL_CHECK(rank_ < kMaxRank, ShapeError, "shape: rank above {} is not supported (hint: reshape to at most 4 axes)",
               kMaxRank);
  UNROLL_CHECK(d >= 0, ShapeError, "shape: negative dimension {} (hint: sizes must be >= 0)", d);
  dims_[static_cast<size_t>(rank_++)] = d;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<size_t>(i)];
  return n;
}

int Shape::axis(int axis, const char* op) const {
  const int normalised = axis < 0 ? axis + rank_ : axis;
  UNROLL_CHECK(normalised >= 0 && normalised < rank_, ShapeError,
               "{}: axis {} is out of range for shape {} (hint: use 0..{} or negative from the end)", op, axis, str(),
               rank_ - 1);
  return normalised;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[static_cast<size_t>(i)]);
  }
  return s + "]";
}

bool operator==(const Shape& a, const Shape& b) {
  return a.rank_ == b.rank_ && std::equal(a.begin(), a.end(), b.begin());
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int rank = std::max(a.rank(), b.rank());
  Shape out;
  for (int i = 0; i < rank; ++i) {
    const int ia = i - (rank - a.rank()), ib = i - (rank - b.rank());
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    UNROLL_CHECK(da == db || da == 1 || db == 1, ShapeError,
                 "{}: shapes {} and {} cannot be broadcast (dimension {} is {} vs {}; hint: sizes must match or be 1)",
                 op, a.str(), b.str(), i, da, db);
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

}  // namespace unroll
