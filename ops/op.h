// SPDX-License-Identifier: Apache-2.0
// What lives here: the contract between an op and the tape, and helpers every op family uses.
//
// An op is a forward function that checks its inputs, writes its value into tape memory and records a
// node; and a backward function `void(BackwardContext&)` right beside it, headed by its formula:
//     y = tanh(x);  dx += dy * (1 - y^2)
// Backward functions ACCUMULATE (+=) into ctx.din(i) (see Note [Gradients accumulate] in graph/grad_memory.h)
// and only for inputs with ctx.needs(i). The tape decides at record time whether backward is needed.
#pragma once
#include <initializer_list>
#include <vector>

#include "graph/tape.h"

namespace unroll {

inline Var record_op(OpKind op, std::initializer_list<Var> inputs, Tensor value, BackwardFn backward,
                     OpAttrs attrs = {}, Tensor aux = {}) {
  Tape& tape = inputs.begin()->tape();
  return tape.record(RecordSpec{op, inputs.begin(), inputs.size(), std::move(value), backward, attrs, std::move(aux)});
}

// An op whose value is a view of its one input's value from element `offset` on (Note [Gradient views]).
inline Var record_view_op(OpKind op, const Var& input, Tensor value, BackwardFn backward, int64_t offset,
                          OpAttrs attrs = {}) {
  RecordSpec spec{op, &input, 1, std::move(value), backward, attrs};
  spec.view_offset = offset;
  return input.tape().record(spec);
}

inline Var record_op(OpKind op, const std::vector<Var>& inputs, Tensor value, BackwardFn backward,
                     OpAttrs attrs = {}, Tensor aux = {}) {
  Tape& tape = inputs.front().tape();
  return tape.record(RecordSpec{op, inputs.data(), inputs.size(), std::move(value), backward, attrs, std::move(aux)});
}

inline void check_same_dtype(const char* op, const Var& a, const Var& b) {
  UNROLL_CHECK(a.dtype() == b.dtype(), DTypeError,
               "{}: dtypes {} and {} differ (shapes {} and {}; hint: convert one with Tensor::to())", op,
               dtype_name(a.dtype()), dtype_name(b.dtype()), a.shape().str(), b.shape().str());
}

inline void check_same_tape(const char* op, const Var& a, const Var& b) {
  UNROLL_CHECK(&a.tape() == &b.tape(), UsageError,
               "{}: inputs belong to different tapes (hint: record all inputs of an op on one tape)", op);
}

inline void check_rank(const char* op, const Var& x, int rank, const char* what) {
  UNROLL_CHECK(x.shape().rank() == rank, ShapeError, "{}: {} must have rank {}, got shape {}", op, what, rank,
               x.shape().str());
}

}  // namespace unroll
