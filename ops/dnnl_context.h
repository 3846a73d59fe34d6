// What lives here: DnnlContext, the oneDNN engine, stream and primitive cache one tape (or several
// tapes on one thread) uses. No globals: a Tape creates its own on first float32 matmul, or is handed
// one to share. Not thread-safe: give each thread its own.
#pragma once
#include <cstddef>
#include <memory>

#include "ops/reference_kernels.h"

namespace unroll {

class DnnlContext {
 public:
  DnnlContext();
  ~DnnlContext();
  DnnlContext(const DnnlContext&) = delete;
  DnnlContext& operator=(const DnnlContext&) = delete;

  // float32 GEMM on a cached oneDNN matmul primitive (created once per GemmShape).
  void gemm(const GemmShape& shape, const float* a, const float* b, float* c, const float* bias);

  size_t cached_primitives() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace unroll
