// SPDX-License-Identifier: Apache-2.0
// What lives here: Replay, the tape's replay region: where it starts and the arena its nodes live in.
//
// Note [Replay region]: begin_replay() opens a region at the end of the tape whose nodes, values and
// gradients live in a second arena; end_replay() drops them all (nodes truncated, that arena rewound),
// leaving every node recorded before the region as it was. Gradient buffers of those older nodes that
// first appear during the region come from the main arena and stay. This is what recomputation needs
// (models/strategies/recompute.cpp, Note [Recompute segments]): record a stretch of steps, keep a few values, drop
// the rest, and later record the same stretch again inside backward and differentiate it in place, so
// its gradients land in the same buffers, in the same order, as if it had never been dropped.
// A parameter may not be seen for the first time inside a region (its node would vanish at the end).
#pragma once
#include <cstdint>

#include "graph/arena.h"

namespace unroll {

using NodeId = uint32_t;

class Replay {
 public:
  // Opens the region at node `next` (the tape's size); regions do not nest.
  void open(NodeId next);
  // Closes it and rewinds its arena; returns the region's first node id, where the tape truncates.
  NodeId close();
  void reset();  // the tape's reset: closed, arena rewound

  bool is_open() const { return open_; }
  bool contains(NodeId id) const { return open_ && id >= first_; }  // recorded inside the open region
  Arena& arena() { return arena_; }
  const Arena& arena() const { return arena_; }

 private:
  Arena arena_;
  NodeId first_ = 0;
  bool open_ = false;
};

}  // namespace unroll
