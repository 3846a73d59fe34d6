// SPDX-License-Identifier: Apache-2.0
// What lives here: the graph_steps strategy (strategies.h) and the step loop every graph-path strategy
// records with. This is the one file that speaks to a cell's step interface -- project_inputs,
// open_sequence, step -- and holds the layer's sequence context, whose packed weights the steps' products
// use (Note [Sequence context] in models/cell.h); recompute.cpp and batch_split.cpp come through here.
#include "models/strategies/steps.h"
#include "models/strategies/strategies.h"
#include "ops/ops.h"

namespace unroll::strategies {

Var advance(Cell& cell, SequenceContext& seq, const Var& px, int64_t t, int64_t B, std::vector<Var>& state,
            const Var* keep, const Var* hold) {
  std::vector<Var> next = cell.step(slice(px, 0, t * B, B), state, seq);
  if (keep == nullptr) {
    state = std::move(next);
    return state[0];
  }
  for (size_t s = 0; s < state.size(); ++s) state[s] = next[s] * *keep + state[s] * *hold;  // exact for 0/1 masks
  return state[0] * *keep;
}

void run_steps(Cell& cell, SequenceContext& seq, const Var& px, int64_t T, int64_t B, bool reverse, int64_t k_begin,
               int64_t k_end, const LengthMasks& masks, std::vector<Var>& state, std::vector<Var>& outs) {
  for (int64_t k = k_begin; k < k_end; ++k) {
    const auto t = static_cast<size_t>(reverse ? T - 1 - k : k);
    outs[t] = masks.any() ? advance(cell, seq, px, static_cast<int64_t>(t), B, state, &masks.keep[t], &masks.hold[t])
                          : advance(cell, seq, px, static_cast<int64_t>(t), B, state, nullptr, nullptr);
  }
}

void record_graph_layer(Tape& tape, Cell& cell, const Var& x, int64_t T, int64_t B, bool reverse, int64_t segment,
                        const LengthMasks& masks, std::vector<Var>& state, std::vector<Var>& outs) {
  const Var px = cell.project_inputs(x);  // [T*B, G*H]
  const std::shared_ptr<SequenceContext> seq = cell.open_sequence(tape);  // Note [Sequence context]
  if (segment > 0) {
    for (Parameter* p : cell.parameters()) tape.param(*p);  // before any replay region (Note [Replay region])
    tape.keep_alive(seq);  // the segments' replays in backward step in it again
    record_recomputed(tape, cell, *seq, px, T, B, reverse, segment, masks, state, outs);
  } else {
    run_steps(cell, *seq, px, T, B, reverse, 0, T, masks, state, outs);
  }
}

DirectionOutput record_graph_direction(const DirectionInput& in, int64_t segment) {
  const int64_t T = in.x.shape()[0], B = in.x.shape()[1];
  DirectionOutput out;
  out.steps.resize(static_cast<size_t>(T));
  std::vector<Var> state = in.state;
  record_graph_layer(in.tape, in.cell, reshape(in.x, Shape{T * B, in.x.shape()[2]}), T, B, in.reverse, segment,
                     in.masks, state, out.steps);
  for (const Var& s : state) out.finals.push_back(reshape(s, Shape{1, B, in.cell.hidden_size()}));
  return out;
}

DirectionOutput run_graph_steps(const DirectionInput& in) { return record_graph_direction(in, 0); }

}  // namespace unroll::strategies
