// SPDX-License-Identifier: Apache-2.0
// What lives here: TruncatedBptt (declared in recurrent.h): the sequence in chunks of k steps, the graph cut
// between chunks, the last state carried to the next call.
#include <algorithm>

#include "models/recurrent.h"
#include "ops/ops.h"

namespace unroll {

TruncatedBptt::TruncatedBptt(Recurrent& model, int k) : model_(model), k_(k) {
  UNROLL_CHECK(k > 0, UsageError, "TruncatedBptt: k must be positive, got {}", k);
  UNROLL_CHECK(!model.config().bidirectional, UsageError,
               "TruncatedBptt: the model is bidirectional (hint: truncated BPTT carries state forward in time, "
               "which a reverse direction cannot)");
}

RecurrentOutput TruncatedBptt::forward(Tape& tape, Var x, Rng* rng) {
  UNROLL_CHECK(x.shape().rank() == 3, ShapeError, "TruncatedBptt: input must be [T, B, I], got {}", x.shape().str());
  const int64_t T = x.shape()[0], B = x.shape()[1];
  std::vector<Var> init;
  if (!state_.empty()) {
    UNROLL_CHECK(state_[0].shape()[1] == B, ShapeError,
                 "TruncatedBptt: batch {} differs from the carried state's batch {} (state shape {}; hint: call "
                 "reset() when the batch changes)",
                 B, state_[0].shape()[1], state_[0].shape().str());
    for (const Tensor& s : state_) init.push_back(tape.constant(s));
  }
  RecurrentOutput result, chunk_result;
  std::vector<Var> pieces;
  for (int64_t start = 0; start < T; start += k_) {
    const int64_t len = std::min<int64_t>(k_, T - start);
    chunk_result = model_.forward(tape, len == T ? x : slice(x, 0, start, len), init, {}, rng);
    pieces.push_back(chunk_result.output);
    result.steps.insert(result.steps.end(), chunk_result.steps.begin(), chunk_result.steps.end());
    init.clear();
    for (const Var& s : chunk_result.final_states) init.push_back(detach(s));  // the cut
  }
  result.output = pieces.size() == 1 ? pieces[0] : concat(pieces, 0);
  result.final_states = chunk_result.final_states;
  state_.clear();
  for (const Var& s : chunk_result.final_states) state_.push_back(s.value().clone());  // survives tape.reset()
  return result;
}

}  // namespace unroll
