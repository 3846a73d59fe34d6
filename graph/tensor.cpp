// SPDX-License-Identifier: Apache-2.0
// What lives here: Tensor storage (aligned allocation) and its slow-but-simple element helpers.
#include "graph/tensor.h"

#include <algorithm>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

namespace unroll {

namespace {
std::shared_ptr<void> allocate_aligned(size_t bytes) {
  const size_t rounded = (bytes + Tensor::kAlignment - 1) / Tensor::kAlignment * Tensor::kAlignment;
  void* p = std::aligned_alloc(Tensor::kAlignment, rounded == 0 ? Tensor::kAlignment : rounded);
  if (p == nullptr) throw std::bad_alloc();
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.owner_ = allocate_aligned(t.nbytes());
  t.data_ = t.owner_.get();
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.data_, 0, t.nbytes());
  return t;
}

Tensor Tensor::full(const Shape& shape, DType dtype, double value) {
  Tensor t = empty(shape, dtype);
  t.fill(value);
  return t;
}

Tensor Tensor::from_values(const std::vector<double>& values, const Shape& shape, DType dtype) {
  UNROLL_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), ShapeError,
               "tensor: {} values given for shape {} which holds {}", values.size(), shape.str(), shape.numel());
  Tensor t = empty(shape, dtype);
  for (size_t i = 0; i < values.size(); ++i) t.set(static_cast<int64_t>(i), values[i]);
  return t;
}

Tensor Tensor::view(void* data, const Shape& shape, DType dtype) {
  Tensor t;
  t.data_ = data;
  t.shape_ = shape;
  t.dtype_ = dtype;
  return t;
}

double Tensor::at(int64_t i) const {
  return dtype_ == DType::f32 ? static_cast<const float*>(data_)[i] : static_cast<const double*>(data_)[i];
}

void Tensor::set(int64_t i, double v) {
  if (dtype_ == DType::f32)
    static_cast<float*>(data_)[i] = static_cast<float>(v);
  else
    static_cast<double*>(data_)[i] = v;
}

double Tensor::item() const {
  UNROLL_CHECK(numel() == 1, ShapeError, "item: tensor of shape {} has {} elements, expected 1", shape_.str(),
               numel());
  return at(0);
}

std::vector<double> Tensor::to_vector() const {
  std::vector<double> v(static_cast<size_t>(numel()));
  for (int64_t i = 0; i < numel(); ++i) v[static_cast<size_t>(i)] = at(i);
  return v;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_);
  if (nbytes()) std::memcpy(t.data_, data_, nbytes());
  return t;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return clone();
  Tensor t = empty(shape_, dtype);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::reshaped(const Shape& shape) const {
  UNROLL_CHECK(shape.numel() == numel(), ShapeError, "reshape: cannot view shape {} ({} elements) as {} ({} elements)",
               shape_.str(), numel(), shape.str(), shape.numel());
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::leading(int64_t start, int64_t length) const {
  UNROLL_CHECK(rank() >= 1 && start >= 0 && length >= 0 && start + length <= shape_[0], ShapeError,
               "tensor: entries [{}, {}) are outside axis 0 of shape {}", start, start + length, shape_.str());
  Tensor t = *this;
  t.shape_[0] = length;
  t.data_ = static_cast<std::byte*>(data_) + static_cast<size_t>(start) * (nbytes() / static_cast<size_t>(shape_[0]));
  return t;
}

void Tensor::fill(double v) {
  dispatch_dtype(dtype_, [&]<class T>() {
    T* p = static_cast<T*>(data_);
    std::fill(p, p + numel(), static_cast<T>(v));
  });
}

void Tensor::copy_from(const Tensor& src) {
  UNROLL_CHECK(src.shape() == shape_, ShapeError, "copy: source shape {} does not match destination shape {}",
               src.shape().str(), shape_.str());
  if (src.dtype() == dtype_) {
    if (nbytes()) std::memmove(data_, src.raw(), nbytes());
    return;
  }
  for (int64_t i = 0; i < numel(); ++i) set(i, src.at(i));
}

bool Tensor::all_finite() const {
  return dispatch_dtype(dtype_, [&]<class T>() {
    const T* p = static_cast<const T*>(data_);
    for (int64_t i = 0; i < numel(); ++i)
      if (!std::isfinite(p[i])) return false;
    return true;
  });
}

bool Tensor::bit_equal(const Tensor& o) const {
  return dtype_ == o.dtype_ && shape_ == o.shape_ && (nbytes() == 0 || std::memcmp(data_, o.data_, nbytes()) == 0);
}

}  // namespace unroll
