// SPDX-License-Identifier: Apache-2.0
// What lives here: Tensor, a float32/float64 array of rank 0-4, contiguous row-major, 64-byte aligned.
// A Tensor either owns its storage (shared, reference counted: parameters, data, checkpoints) or is a
// view into memory someone else owns (the tape's arena). Copying a Tensor copies the handle, not data.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "graph/check.h"
#include "graph/shape.h"

namespace unroll {

/// A dense float32 or float64 array with a shape; owning, or a view into memory it does not own.
class Tensor {
 public:
  static constexpr size_t kAlignment = 64;

  Tensor() = default;
  static Tensor empty(const Shape& shape, DType dtype);  ///< owning, uninitialised
  static Tensor zeros(const Shape& shape, DType dtype);  ///< owning, zero-filled
  static Tensor full(const Shape& shape, DType dtype, double value);
  static Tensor from_values(const std::vector<double>& values, const Shape& shape, DType dtype);
  static Tensor scalar(double value, DType dtype) { return from_values({value}, Shape{}, dtype); }
  static Tensor view(void* data, const Shape& shape, DType dtype);  ///< non-owning

  bool defined() const { return data_ != nullptr || shape_.numel() == 0; }
  bool owns_storage() const { return owner_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  int64_t numel() const { return shape_.numel(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  void* raw() const { return data_; }
  template <class T>
  T* data() const {
    UNROLL_CHECK(dtype_ == dtype_of<T>(), DTypeError, "tensor: asked for {} data of a {} tensor",
                 dtype_name(dtype_of<T>()), dtype_name(dtype_));
    return static_cast<T*>(data_);
  }
  template <class T>
  static constexpr DType dtype_of() {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "unroll tensors are float or double");
    return std::is_same_v<T, float> ? DType::f32 : DType::f64;
  }

  /// Element access as double (flat row-major index); convenient, not fast.
  double at(int64_t flat_index) const;
  void set(int64_t flat_index, double value);
  double item() const;  ///< rank-0 or one-element tensors
  std::vector<double> to_vector() const;

  Tensor clone() const;           ///< owning deep copy
  Tensor to(DType dtype) const;   ///< owning copy converted to dtype
  Tensor reshaped(const Shape& shape) const;  ///< same storage, new shape (numel must match)
  /// Same storage: entries [start, start + length) along axis 0 (rank >= 1). 64-byte aligned only when
  /// start * (bytes per axis-0 entry) is a multiple of 64: callers that promise alignment check that.
  Tensor leading(int64_t start, int64_t length) const;
  void fill(double value);
  void copy_from(const Tensor& src);  ///< same shape; converts dtype if needed
  bool all_finite() const;
  bool bit_equal(const Tensor& other) const;  ///< same dtype, shape and bytes

 private:
  std::shared_ptr<void> owner_;
  void* data_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::f32;
};

/// Runs `fn.template operator()<T>()` with T = float or double per dtype.
template <class Fn>
decltype(auto) dispatch_dtype(DType dtype, Fn&& fn) {
  if (dtype == DType::f32) return fn.template operator()<float>();
  return fn.template operator()<double>();
}

}  // namespace unroll
