// What lives here: WeightPacksScope (Note [Packed weights]).
//
// Note [Packed weights]: while a scope is open on a tape, a float32 linear() whose weight is a parameter
// or was recorded before the scope opened (a node every step shares) runs on a copy of that weight
// packed, at its first use, into the layout oneDNN's matmul prefers for the product's shape (plain
// weights are repacked inside every small-M product). models::Recurrent opens one around the steps of each
// layer and direction on the graph path, and around each recompute segment's replay, so that a replayed
// step runs the same kernels and reproduces its values bit for bit. The forward's copies go when the scope
// closes; linear()'s backward product dx = dy W gets a copy of its own, which the tape keeps until reset
// (unless the scope was opened inside a replay region, whose nodes are gone by the time it closes). Measured on the custom cifg cell, configs a-c, three interleaved rounds: the
// forward 4-30 % faster, the whole training step faster in 8 of 9 pairs (by 2-8 % typically).
#pragma once
#include <cstdint>
#include <vector>
#include <memory>

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
  // saves), or the tape was reset since the scope opened. for_backward: the copy outlives the scope,
  // kept by the tape until its reset, for the backward products of the nodes recorded here.
  const PackedWeights* find(NodeId w, const GemmShape& shape, const float* data, bool for_backward = false);

 private:
  Tape& tape_;
  uint64_t epoch_;             // the tape's epoch when the scope opened
  NodeId first_;               // nodes from here on were recorded inside the scope
  WeightPacksScope* outer_;    // the scope this one hides, restored on close
  bool in_replay_;             // opened inside a replay region (Note [Replay region] in graph/tape.h)
  struct Entry {
    NodeId weight;
    std::shared_ptr<const PackedWeights> packed;
    bool for_backward;
  };
  std::vector<Entry> packs_;  // a handful per layer: searched linearly
};

}  // namespace unroll
