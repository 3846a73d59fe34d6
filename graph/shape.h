// SPDX-License-Identifier: Apache-2.0
// What lives here: Shape (rank 0 to 4, row-major), DType (float32/float64), NumPy broadcasting.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <fmt/format.h>

#include <string>

namespace unroll {

enum class DType : uint8_t { f32, f64 };

constexpr size_t dtype_size(DType t) { return t == DType::f32 ? 4 : 8; }
constexpr const char* dtype_name(DType t) { return t == DType::f32 ? "float32" : "float64"; }

class Shape {
 public:
  static constexpr int kMaxRank = 4;

  Shape() = default;  // rank 0: a scalar
  Shape(std::initializer_list<int64_t> dims);
  template <class It>
  static Shape from_range(It first, It last) {
    Shape s;
    for (; first != last; ++first) s.push_back(static_cast<int64_t>(*first));
    return s;
  }

  int rank() const { return rank_; }
  int64_t operator[](int axis) const { return dims_[static_cast<size_t>(axis)]; }
  int64_t& operator[](int axis) { return dims_[static_cast<size_t>(axis)]; }
  int64_t numel() const;
  void push_back(int64_t d);
  const int64_t* begin() const { return dims_.data(); }
  const int64_t* end() const { return dims_.data() + rank_; }

  // Normalises a possibly negative axis; throws ShapeError naming `op` when out of range.
  int axis(int axis, const char* op) const;

  std::string str() const;  // "[2, 3]"
  friend bool operator==(const Shape& a, const Shape& b);
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

// NumPy broadcasting of two shapes; throws ShapeError naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace unroll

template <>
struct fmt::formatter<unroll::Shape> : fmt::formatter<std::string> {
  template <class Ctx>
  auto format(const unroll::Shape& s, Ctx& ctx) const {
    return fmt::formatter<std::string>::format(s.str(), ctx);
  }
};
