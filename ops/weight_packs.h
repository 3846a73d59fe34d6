// What lives here: WeightPacksScope (Note [Packed weights]).
//
// Note [Packed weights]: while a scope is open on a tape, a float32 linear() whose weight is a parameter
// or was recorded before the scope opened (a node every step shares) runs on a copy of that weight
// packed, at its first use, into the layout oneDNN's matmul prefers for the product's shape (plain
// weights are repacked inside every small-M product). models::Recurrent opens one around the steps of each
// layer and direction on the graph path, and around each recompute segment's replay, so that a replayed
// step runs the same kernels and reproduces its values bit for bit. The copies go when the scope closes.
// Forward products only. Measured on the custom cifg cell, configs a-c, three interleaved rounds: the
// forward 4-30 % faster, the whole training step faster in 8 of 9 pairs (by 2-8 % typically).
#pragma once
#include <cstdint>
#include <deque>
#include <utility>

#include "graph/tape.h"
#include "ops/dnnl_context.h"

namespace unroll {

class WeightPacksScope {
 public:
  explicit WeightPacksScope(Tape& tape);
  ~WeightPacksScope();
  WeightPacksScope(const WeightPacksScope&) = delete;
  WeightPacksScope& operator=(const WeightPacksScope&) = delete;

  // The packed copy of weight node w (value `data`) for `shape`, made on first use; null when w is not a
  // parameter and was recorded inside the scope (a per-step node: packing it would cost more than it
  // saves), or the tape was reset since the scope opened.
  const PackedWeights* find(NodeId w, const GemmShape& shape, const float* data);

 private:
  Tape& tape_;
  uint64_t epoch_;             // the tape's epoch when the scope opened
  NodeId first_;               // nodes from here on were recorded inside the scope
  WeightPacksScope* outer_;    // the scope this one hides, restored on close
  std::deque<std::pair<NodeId, PackedWeights>> packs_;  // a handful per layer: searched linearly
};

}  // namespace unroll
