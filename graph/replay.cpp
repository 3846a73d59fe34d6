// SPDX-License-Identifier: Apache-2.0
// What lives here: the replay region's bookkeeping (Note [Replay region] in graph/replay.h).
#include "graph/replay.h"

#include "graph/check.h"

namespace unroll {

void Replay::open(NodeId next) {
  UNROLL_CHECK(!open_, UsageError, "begin_replay: a replay region is already open (regions do not nest)");
  open_ = true;
  first_ = next;
}

NodeId Replay::close() {
  UNROLL_CHECK(open_, UsageError, "end_replay: no replay region is open");
  arena_.reset();
  open_ = false;
  return first_;
}

void Replay::reset() {
  arena_.reset();
  open_ = false;
}

}  // namespace unroll
