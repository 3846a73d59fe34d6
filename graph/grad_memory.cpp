// SPDX-License-Identifier: Apache-2.0
// What lives here: gradient buffers -- fresh, zero-filled, shared with an input, released and reused
// (the Notes in graph/grad_memory.h).
#include "graph/grad_memory.h"

#include <cstring>

#include "graph/tape.h"

namespace unroll {

// Note [Gradient views]: whether view node `id` may take a window into its input's gradient as its own.
bool GradMemory::may_share_input_grad(const Tape& tape, NodeId id) const {
  const Node& v = tape.node(id);
  if (v.view_offset < 0 || v.n_inputs != 1 || v.grad.defined() || !release_grads_ || !releasable(id)) return false;
  const Node& in = tape.node(tape.input_id(v, 0));
  return in.last_consumer == id && in.requires_grad && in.op != OpKind::leaf && in.op != OpKind::parameter &&
         in.param == nullptr && !in.grad.defined() && in.value.dtype() == v.value.dtype();
}

Tensor& GradMemory::share_input_grad(Tape& tape, NodeId id, bool into_parameters, bool* fresh) {
  Node& n = tape.node(id);
  // Down the chain of views that may share (a loop, not recursion), to the node that owns the memory.
  NodeId root = id;
  int64_t offset = 0;  // of n's window, in elements of root's gradient
  while (may_share_input_grad(tape, root)) {
    offset += tape.node(root).view_offset;
    root = tape.input_id(tape.node(root), 0);
  }
  // The owner's buffer may come unzeroed only if n's window covers all of it and n's caller overwrites it.
  const bool covers = n.value.numel() == tape.node(root).value.numel();
  bool root_fresh = false;
  Tensor& owner = buffer(tape, root, into_parameters, covers && fresh != nullptr ? &root_fresh : nullptr);
  const size_t element = dtype_size(owner.dtype());
  for (NodeId v = id; v != root; v = tape.input_id(tape.node(v), 0)) {
    Node& view = tape.node(v);
    view.grad = Tensor::view(static_cast<char*>(owner.raw()) + static_cast<size_t>(offset) * element,
                             view.value.shape(), view.value.dtype());
    view.grad_is_view = true;
    offset -= view.view_offset;
  }
  if (fresh != nullptr) *fresh = root_fresh;
  return n.grad;
}

// A node recorded in the open replay region takes its gradient from the region's arena; an older node's
// gradient outlives the region: the main arena, or a released buffer (Note [Released gradients]).
void* GradMemory::allocate(Tape& tape, NodeId id, size_t bytes) {
  if (tape.replay_.contains(id)) return tape.replay_.arena().allocate(bytes);
  if (auto reuse = free_.find(bytes); reuse != free_.end() && !reuse->second.empty()) {
    void* memory = reuse->second.back();
    reuse->second.pop_back();
    return memory;
  }
  return tape.arena_.allocate(bytes);
}

Tensor& GradMemory::buffer(Tape& tape, NodeId id, bool into_parameters, bool* fresh) {
  Node& n = tape.node(id);
  if (fresh != nullptr) *fresh = false;
  if (n.grad.defined()) return n.grad;
  if (may_share_input_grad(tape, id)) return share_input_grad(tape, id, into_parameters, fresh);
  if (into_parameters && n.param != nullptr) {
    n.grad = n.param->grad;  // accumulate straight into the parameter's persistent gradient
    return n.grad;
  }
  const size_t bytes = n.value.nbytes();
  void* memory = allocate(tape, id, bytes);
  if (fresh != nullptr)
    *fresh = true;  // the caller overwrites every element (Note [Gradients accumulate])
  else if (bytes)
    std::memset(memory, 0, bytes);
  n.grad = Tensor::view(memory, n.value.shape(), n.value.dtype());
  return n.grad;
}

void GradMemory::release(Tape& tape, NodeId id) {
  Node& n = tape.node(id);
  if (n.op == OpKind::leaf || n.op == OpKind::parameter || n.param != nullptr || !n.grad.defined()) return;
  if (n.grad_is_view) {  // Note [Gradient views]: the memory is the input's, released with it
    n.grad = Tensor();
    n.grad_is_view = false;
    return;
  }
  if (tape.replay_.contains(id)) return;  // replay-arena memory: gone at end_replay()
  if (n.grad.nbytes() > 0) free_[n.grad.nbytes()].push_back(n.grad.raw());
  n.grad = Tensor();
}

void GradMemory::reset() {
  free_.clear();
  consumed_ = false;
}

}  // namespace unroll
