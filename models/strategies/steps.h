// SPDX-License-Identifier: Apache-2.0
// What lives here: what every graph-path strategy shares (strategies.h): the length masks, one step, a run
// of steps, and a type-erased dst += src. The step functions are defined in graph_steps.cpp, the one file
// that speaks to a cell's step interface.
#pragma once
#include <cstdint>
#include <vector>

#include "graph/tape.h"
#include "models/cell.h"
#include "ops/pointwise.h"

namespace unroll::strategies {

// Note [Variable lengths] (models/recurrent.h): per time step, keep = 1 where t < length and hold = its
// complement ([B, 1]), for the graph path; keep of every step as one [T, B, 1] and the lengths, for the
// fused path (Note [Masked step loop] in ops/rnn_step_loop.cpp). All empty when every sequence has length T.
struct LengthMasks {
  std::vector<Var> keep, hold;
  Var keep_steps;
  std::vector<int64_t> lengths;
  bool any() const { return !keep.empty(); }
};

// dst[i] += src[i] for n elements of dtype (two distinct buffers)
inline void add_elements(void* dst, const void* src, int64_t n, DType dtype) {
  dispatch_dtype(dtype, [&]<class T>() { add_into<T>(static_cast<T*>(dst), static_cast<const T*>(src), n); });
}

// One graph-path step at time t: `state` advances in place; returns the step's output. keep/hold: the
// step's masks, or both null.
Var advance(Cell& cell, SequenceContext& seq, const Var& px, int64_t t, int64_t B, std::vector<Var>& state,
            const Var* keep, const Var* hold);

// Records steps k_begin..k_end-1 in processing order (t = T-1-k when reverse) as they are: outs[t] gets
// each step's output, `state` advances in place. seq: the layer's (Note [Sequence context] in models/cell.h).
void run_steps(Cell& cell, SequenceContext& seq, const Var& px, int64_t T, int64_t B, bool reverse, int64_t k_begin,
               int64_t k_end, const LengthMasks& masks, std::vector<Var>& state, std::vector<Var>& outs);


}  // namespace unroll::strategies
