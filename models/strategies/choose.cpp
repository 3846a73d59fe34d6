// SPDX-License-Identifier: Apache-2.0
// What lives here: choose_strategy, the one place that picks how a layer and direction runs (strategies.h).
#include <iterator>

#include "models/strategies/strategies.h"
#include "ops/batch_split.h"

namespace unroll::strategies {

static_assert(std::size(kStrategyNames) == static_cast<size_t>(Strategy::program_sequence) + 1);

Strategy choose_strategy(const StrategyQuery& q) {
  if (q.fused && q.cell.fused_kind() && q.dtype == DType::f32 && q.segment == 0)
    return Strategy::fused_sequence;
  if (q.fused && q.cell.cell_program() && q.dtype == DType::f32 && !q.masked && q.segment == 0)
    return Strategy::program_sequence;
  if (q.split && q.cell.rows_independent() && split_batch(q.batch).size() > 1) return Strategy::batch_split;
  if (q.segment > 0) return Strategy::recomputed_segments;
  return Strategy::graph_steps;
}

}  // namespace unroll::strategies
