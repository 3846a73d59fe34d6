// SPDX-License-Identifier: Apache-2.0
// What lives here: gemm<T>(tape, shape, ...), the one entry point for matrix products: float32 goes to
// the tape's oneDNN context (created on first use), float64 to the reference kernel.
#pragma once
#include <memory>

#include "graph/tape.h"
#include "ops/dnnl_context.h"
#include "ops/reference_kernels.h"

namespace unroll {

// The tape's execution context: a DnnlContext, the only kind there is (ops/dnnl_context.h).
inline DnnlContext& dnnl_context(Tape& tape) {
  if (!tape.context()) tape.set_context(std::make_shared<DnnlContext>());
  return static_cast<DnnlContext&>(*tape.context());
}

template <class T>
void gemm(Tape& tape, const GemmShape& s, const T* a, const T* b, T* c, const T* bias = nullptr) {
  if (s.m == 0 || s.n == 0 || s.batch == 0) return;
  if constexpr (std::is_same_v<T, float>) {
    if (s.k > 0) return dnnl_context(tape).gemm(s, a, b, c, bias);
  }
  gemm_reference(s, a, b, c, bias);
}

}  // namespace unroll
