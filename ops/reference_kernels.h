// SPDX-License-Identifier: Apache-2.0
// What lives here: naive reference kernels. They run the float64 path (oneDNN's CPU training types do not
// include float64) and serve as the oracle that oneDNN's float32 results are tested against.
#pragma once
#include <cstdint>

namespace unroll {

// Row-major C[b] (= or +=) op(A[b]) * op(B[b]) (+ bias[n]), where op(A) is [M,K] and op(B) is [K,N].
// A is stored [M,K], or [K,M] when trans_a; B is stored [K,N], or [N,K] when trans_b.
struct GemmShape {
  int64_t batch = 1, m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  bool accumulate = false;  // C += ... instead of C = ...
  bool bias = false;        // add bias[n] to every row (only with accumulate == false)
  int64_t lda = 0;          // A's row stride as stored (>= its row length); 0: dense. Unbatched only.
  int64_t a_stride() const { return lda != 0 ? lda : trans_a ? m : k; }
  friend bool operator==(const GemmShape&, const GemmShape&) = default;
};

template <class T>
void gemm_reference(const GemmShape& s, const T* a, const T* b, T* c, const T* bias) {
  for (int64_t batch = 0; batch < s.batch; ++batch) {
    const T* A = a + batch * s.m * s.k;
    const T* B = b + batch * s.k * s.n;
    T* C = c + batch * s.m * s.n;
    for (int64_t i = 0; i < s.m; ++i) {
      T* row = C + i * s.n;
      if (!s.accumulate)
        for (int64_t j = 0; j < s.n; ++j) row[j] = s.bias ? bias[j] : T(0);
      for (int64_t p = 0; p < s.k; ++p) {
        const T aip = s.trans_a ? A[p * s.a_stride() + i] : A[i * s.a_stride() + p];
        if (s.trans_b)
          for (int64_t j = 0; j < s.n; ++j) row[j] += aip * B[j * s.k + p];
        else
          for (int64_t j = 0; j < s.n; ++j) row[j] += aip * B[p * s.n + j];
      }
    }
  }
}

}  // namespace unroll
