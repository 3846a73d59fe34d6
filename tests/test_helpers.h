// SPDX-License-Identifier: Apache-2.0
// What lives here: small helpers shared by the test suites: seeded random tensors, closeness checks, the
// number of nodes of one op on a tape, a scoped OpenMP thread count, and for the tests that gradient
// buffers need no zero-fill, a NaN-filled arena and a bitwise comparison.
#pragma once
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "graph/rng.h"
#include "graph/tape.h"
#include "graph/tensor.h"

namespace unroll::testing {

// Uniform values in [lo, hi); keep away from kinks (relu at 0, log/sqrt near 0) by choosing the range.
inline Tensor random_tensor(const Shape& shape, Rng& rng, double lo = -1.0, double hi = 1.0, DType dtype = DType::f64) {
  Tensor t = Tensor::empty(shape, dtype);
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, rng.uniform(lo, hi));
  return t;
}

// Values bounded away from zero in magnitude: sign random, |x| in [lo, hi).
inline Tensor random_away_from_zero(const Shape& shape, Rng& rng, double lo = 0.2, double hi = 1.0) {
  Tensor t = Tensor::empty(shape, DType::f64);
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, (rng.uniform() < 0.5 ? -1 : 1) * rng.uniform(lo, hi));
  return t;
}

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::abs(a.at(i) - b.at(i)));
  return worst;
}

// max |a - b| / (1 + |b|)
inline double max_scaled_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::abs(a.at(i) - b.at(i)) / (1 + std::abs(b.at(i))));
  return worst;
}

// The number of nodes of kind `kind` on the tape (is the fast path, the split, the recompute taken?).
inline size_t count_ops(const Tape& tape, OpKind kind) {
  size_t n = 0;
  for (NodeId id = 0; id < tape.size(); ++id) n += tape.node(id).op == kind;
  return n;
}

// Sets the OpenMP thread count for its lifetime (the batch splits cut one block per thread).
class OmpThreads {
 public:
  explicit OmpThreads(int n) : before_(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~OmpThreads() { omp_set_num_threads(before_); }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int before_;
};

// Fills the tape's arena with NaN bit patterns, then rewinds it: the next pass allocates from that memory,
// so a gradient buffer an op forgets to write shows up as NaN.
inline void dirty_arena(Tape& tape, size_t bytes = size_t{64} << 20) {
  for (int pass = 0; pass < 2; ++pass) {  // the second pass lands in the coalesced chunk, which stays mapped
    std::memset(tape.alloc_bytes(bytes), 0xFF, bytes);
    tape.reset();
  }
}

// Every tensor of `clean` is finite and has exactly the bits of its twin in `other`.
inline void check_same_bits(const std::vector<Tensor>& clean, const std::vector<Tensor>& other) {
  REQUIRE(clean.size() == other.size());
  for (size_t i = 0; i < clean.size(); ++i) {
    CAPTURE(i);
    CHECK(clean[i].all_finite());
    CHECK(clean[i].bit_equal(other[i]));
  }
}

}  // namespace unroll::testing
