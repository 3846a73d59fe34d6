// SPDX-License-Identifier: Apache-2.0
// What lives here: the backward pass: one reverse loop over the tape (creation order is topological),
// calling each node's backward if its gradient was reached. No recursion, no sorting.
#include "autodiff/backward.h"

#include <cstring>

namespace unroll {

namespace {

// Runs node id's backward if it has one and a gradient reached it (or it asks to run regardless).
bool run_node_backward(Tape& tape, NodeId id, bool into_parameters) {
  const Node& node = tape.node(id);
  if (node.backward == nullptr || (!node.grad.defined() && !node.backward_without_grad)) return false;
  BackwardContext ctx(tape, id, into_parameters);
  node.backward(ctx);  // may append nodes (a replay region): `node` is not used afterwards
  return true;
}

// keep: nodes whose gradient the caller reads afterwards (grad()'s wrt), exempt from Note [Released
// gradients] in graph/tape.h.
void run_backward(Var y, const Tensor* seed, bool into_parameters, const BackwardOptions& options,
                  const std::vector<Var>& keep = {}) {
  Tape& tape = y.tape();
  UNROLL_CHECK(!tape.backward_consumed(), UsageError,
               "backward: this tape was already differentiated without retain_graph (hint: pass "
               "BackwardOptions{{.retain_graph = true}} to the first call, or record the graph again)");
  if (seed == nullptr) {
    UNROLL_CHECK(y.value().numel() == 1, UsageError,
                 "backward: output of {} has shape {}, not a scalar (hint: reduce it with sum() or mean(), or pass a "
                 "seed gradient of shape {})",
                 tape.describe(y.id()), y.shape().str(), y.shape().str());
  } else {
    UNROLL_CHECK(seed->shape() == y.shape(), ShapeError, "backward: seed shape {} does not match output shape {}",
                 seed->shape().str(), y.shape().str());
    UNROLL_CHECK(seed->dtype() == y.dtype(), DTypeError, "backward: seed dtype {} does not match output dtype {}",
                 dtype_name(seed->dtype()), dtype_name(y.dtype()));
  }
  UNROLL_CHECK(y.requires_grad(), UsageError,
               "backward: {} does not require a gradient (hint: no input requires one, or it was recorded under a "
               "NoGradGuard)",
               tape.describe(y.id()));

  tape.clear_grads();
  Tensor& dy = tape.grad_buffer(y.id(), into_parameters);
  for (int64_t i = 0, n = dy.numel(); i < n; ++i) dy.set(i, dy.at(i) + (seed ? seed->at(i) : 1.0));

  std::vector<bool> releasable(tape.release_grads() ? y.id() + 1 : 0, true);
  if (!releasable.empty()) {
    releasable[y.id()] = false;
    for (const Var& x : keep)
      if (x.same_tape(y) && x.id() <= y.id()) releasable[x.id()] = false;
  }
  tape.set_releasable(std::move(releasable));  // Note [Gradient views]
  // Note [Consumed activations]: marked consumed before the loop, so a backward that throws half-way
  // (some ops' saved values already overwritten) cannot be followed by a silently wrong one.
  if (!options.retain_graph) tape.set_backward_consumed(true);
  tape.set_final_backward(!options.retain_graph);
  struct Reset {  // also when a node's backward throws
    Tape& tape;
    ~Reset() {
      tape.set_final_backward(false);
      tape.set_releasable({});
    }
  } reset{tape};
  for (NodeId id = y.id() + 1; id-- > 0;) {
    if (!run_node_backward(tape, id, into_parameters)) continue;
    if (tape.releasable(id)) tape.release_grad(id);  // dead from here on (empty unless release_grads)
  }
}

}  // namespace

void backward(Var loss, const BackwardOptions& options) { run_backward(loss, nullptr, true, options); }

void backward(Var y, const Tensor& seed, const BackwardOptions& options) { run_backward(y, &seed, true, options); }

void backward_range(Tape& tape, NodeId begin, NodeId end, bool into_parameters) {
  UNROLL_CHECK(begin <= end && end <= tape.size(), UsageError, "backward_range: [{}, {}) is not inside the tape of {} nodes",
               begin, end, tape.size());
  for (NodeId id = end; id-- > begin;)
    if (run_node_backward(tape, id, into_parameters) && tape.releasable(id)) tape.release_grad(id);
}

std::vector<Tensor> grad(Var y, const std::vector<Var>& wrt, const Tensor* seed, const BackwardOptions& options) {
  for (size_t i = 0; i < wrt.size(); ++i)
    UNROLL_CHECK(wrt[i].same_tape(y), UsageError, "grad: wrt[{}] belongs to a different tape than the output", i);
  run_backward(y, seed, false, options, wrt);
  std::vector<Tensor> result;
  result.reserve(wrt.size());
  for (const Var& x : wrt) {
    const Tensor& g = x.grad();
    result.push_back(g.defined() ? g.clone() : Tensor::zeros(x.shape(), x.dtype()));
  }
  return result;
}

}  // namespace unroll
