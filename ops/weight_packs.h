// SPDX-License-Identifier: Apache-2.0
// What lives here: WeightPacks, the packed copies of the weights one sequence's steps share, which
// linear_packed() (ops/matmul.cpp) runs its products on (Note [Packed weights]).
//
// Note [Packed weights]: a float32 linear_packed(x, packs, w, b) whose weight w is a parameter or was
// recorded before `packs` was made (a node every step shares) runs on a copy of w packed, at its first
// use, into the layout oneDNN's matmul prefers for the product's shape (plain weights are repacked inside
// every small-M product); with null packs, any other weight, or float64, it is linear(). The call site
// asks for it: Cell::project_hidden(h, seq) and the Cho GRU's products pass the packs of their
// SequenceContext (models/cell.h), which models::Recurrent makes per layer and direction on the graph path
// and hands again to a recompute segment's replay, so that a replayed step runs the same kernels on the
// same packed copies and reproduces its values bit for bit. linear_packed()'s backward product dx = dy W
// gets a packed copy of its own, which the tape keeps until reset (the node's attrs point to it).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "graph/tape.h"
#include "ops/dnnl_context.h"

namespace unroll {

class WeightPacks {
 public:
  // For weights recorded on `tape` so far, and parameters.
  explicit WeightPacks(Tape& tape);
  WeightPacks(const WeightPacks&) = delete;
  WeightPacks& operator=(const WeightPacks&) = delete;

  // The packed copy of weight node w (value `data`) for `shape`, made on first use; null when w is not a
  // parameter and was recorded after the packs were made (a per-step node: packing it would cost more than
  // it saves), or the tape was reset since. for_backward: the copy is also kept by the tape until its
  // reset, for the backward products of the nodes that use it.
  const PackedWeights* find(NodeId w, const GemmShape& shape, const float* data, bool for_backward = false);
  const Tape& tape() const { return tape_; }

 private:
  Tape& tape_;
  uint64_t epoch_;  // the tape's epoch when the packs were made
  NodeId first_;    // nodes from here on were recorded after
  struct Entry {
    NodeId weight;
    std::shared_ptr<const PackedWeights> packed;
    bool for_backward;
  };
  std::vector<Entry> packs_;  // a handful per layer: searched linearly
};

}  // namespace unroll
