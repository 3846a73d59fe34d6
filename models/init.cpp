// SPDX-License-Identifier: Apache-2.0
// What lives here: the initialisers of init.h.
#include "models/init.h"

#include <cmath>
#include <vector>

#include "graph/check.h"

namespace unroll::init {

void uniform(Tensor& t, double lo, double hi, Rng& rng) {
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, rng.uniform(lo, hi));
}

void zeros(Tensor& t) { t.fill(0.0); }

void normal(Tensor& t, double mean, double stddev, Rng& rng) {
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, mean + stddev * rng.normal());
}

void uniform_recurrent(Tensor& t, int64_t hidden, Rng& rng) {
  UNROLL_CHECK(hidden > 0, UsageError, "init::uniform_recurrent: hidden size {} must be positive", hidden);
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  uniform(t, -bound, bound, rng);
}

void xavier_uniform(Tensor& t, Rng& rng, double gain) {
  UNROLL_CHECK(t.rank() == 2, ShapeError,
               "init::xavier_uniform: expects a 2-D weight [fan_out, fan_in], got shape {} (hint: biases are "
               "initialised with zeros or uniform)",
               t.shape().str());
  const double fan_out = static_cast<double>(t.shape()[0]), fan_in = static_cast<double>(t.shape()[1]);
  const double bound = gain * std::sqrt(6.0 / (fan_in + fan_out));
  uniform(t, -bound, bound, rng);
}

namespace {
// Makes the rows of m [rows, cols] (rows <= cols) orthonormal in place: modified Gram-Schmidt, twice
// ("twice is enough") so the result is orthonormal to rounding even for nearly dependent rows.
void orthonormalise_rows(std::vector<double>& m, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    double* v = &m[static_cast<size_t>(r * cols)];
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t q = 0; q < r; ++q) {
        const double* u = &m[static_cast<size_t>(q * cols)];
        double dot = 0;
        for (int64_t k = 0; k < cols; ++k) dot += u[k] * v[k];
        for (int64_t k = 0; k < cols; ++k) v[k] -= dot * u[k];
      }
    double norm = 0;
    for (int64_t k = 0; k < cols; ++k) norm += v[k] * v[k];
    norm = std::sqrt(norm);
    UNROLL_CHECK(norm > 1e-12, NumericError, "init::orthogonal: Gram-Schmidt met a dependent row {} (hint: reseed)", r);
    for (int64_t k = 0; k < cols; ++k) v[k] /= norm;
  }
}
}  // namespace

void orthogonal(Tensor& t, Rng& rng, double gain, int blocks) {
  UNROLL_CHECK(t.rank() == 2, ShapeError, "init::orthogonal: expects a 2-D weight, got shape {}", t.shape().str());
  UNROLL_CHECK(blocks > 0 && t.shape()[0] % blocks == 0, ShapeError,
               "init::orthogonal: {} rows of shape {} cannot be cut into {} equal blocks (hint: blocks = gate count)",
               t.shape()[0], t.shape().str(), blocks);
  const int64_t rows = t.shape()[0] / blocks, cols = t.shape()[1];
  // Orthonormalise the shorter side: rows when rows <= cols, else columns (via the transpose).
  const bool by_rows = rows <= cols;
  const int64_t n = by_rows ? rows : cols, len = by_rows ? cols : rows;
  for (int b = 0; b < blocks; ++b) {
    std::vector<double> m(static_cast<size_t>(n * len));
    for (double& v : m) v = rng.normal();
    orthonormalise_rows(m, n, len);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const double v = by_rows ? m[static_cast<size_t>(r * cols + c)] : m[static_cast<size_t>(c * rows + r)];
        t.set((b * rows + r) * cols + c, gain * v);
      }
  }
}

void lstm_forget_bias(Tensor& bias, int64_t hidden, double value) {
  UNROLL_CHECK(bias.rank() == 1 && bias.shape()[0] == 4 * hidden, ShapeError,
               "init::lstm_forget_bias: bias has shape {}, expected [{}] (4 gates i,f,g,o of hidden size {})",
               bias.shape().str(), 4 * hidden, hidden);
  for (int64_t k = hidden; k < 2 * hidden; ++k) bias.set(k, value);
}

}  // namespace unroll::init
