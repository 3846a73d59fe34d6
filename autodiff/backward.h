// SPDX-License-Identifier: Apache-2.0
// What lives here: reverse-mode differentiation over a tape: backward() (accumulates into parameters'
// .grad and every node's grad) and grad() (returns gradients without touching parameters' .grad).
#pragma once
#include <vector>

#include "graph/tape.h"

namespace unroll {

struct BackwardOptions {
  bool retain_graph = false;  ///< allow another backward/grad on this tape (otherwise it is an error)
};

/// loss must be a scalar (one element).
void backward(Var loss, const BackwardOptions& options = {});
/// Non-scalar output: seed has y's shape and dtype (dL/dy of some outer scalar L).
void backward(Var y, const Tensor& seed, const BackwardOptions& options = {});

/// The reverse loop over nodes [begin, end) alone, for an op whose backward records a sub-graph and
/// differentiates it in place (Note [Replay region] in graph/replay.h); the gradients of the region's last
/// nodes must already be seeded. into_parameters as in BackwardContext. A node the tape marks releasable
/// (Tape::set_releasable) drops its gradient once its backward ran (Note [Released gradients]); none is
/// unless the caller marked it.
void backward_range(Tape& tape, NodeId begin, NodeId end, bool into_parameters);

/// Gradients of y (scalar, or seeded) with respect to each of wrt; owning tensors, zeros where y does not
/// depend on an input. Parameters' .grad are left alone. The graph is retained by default.
std::vector<Tensor> grad(Var y, const std::vector<Var>& wrt, const Tensor* seed = nullptr,
                         const BackwardOptions& options = {.retain_graph = true});

}  // namespace unroll
