// SPDX-License-Identifier: Apache-2.0
// What lives here: GradMemory, the tape's policy for gradient buffers -- which are fresh, released, views
// or consumed -- composed by Tape (graph/tape.h), which forwards its public calls here.
//
// Note [Gradients accumulate]: every backward function adds (+=) into its inputs' gradient buffers,
// which the tape hands out zero-filled. That is what makes `a + a` and a weight used at every step right.
// Fresh gradients: a backward that writes EVERY element of an input's gradient may ask for it with
// BackwardContext::din_target(i) instead. When nothing has reached that buffer yet it comes unzeroed
// with fresh = true, and the op stores 0 + v where it would have added v (the same bits, -0 included,
// without a separate zero-fill pass over memory); otherwise it accumulates as usual.
//
// Note [Released gradients]: with set_release_grads(true), backward drops the gradient buffer of every
// intermediate node (not a leaf, not the differentiated output, not one of grad()'s wrt) as soon as
// that node's own backward has run -- creation order is topological, so nothing adds into it later --
// and hands the memory to the next gradient buffer of the same size in that tape epoch (size-bucketed
// free list, zero-filled again on reuse). Such a node's grad() is then undefined. Off by default,
// because reading an intermediate's gradient after backward is part of the API; a training loop that
// only reads parameters' .grad may turn it on (`unroll bench --release-grads` does).
//
// Note [Gradient views]: reshape and a contiguous slice record a view of their input's value
// (RecordSpec::view_offset). With released gradients (where no intermediate gradient is read back), such a
// view's gradient may be a window into its input's instead of a buffer of its own, so backward need not
// copy it over: grad_buffer() hands out the window and the view's backward has nothing to add
// (BackwardContext::grad_is_view). Chains of views share down to the first node that owns its gradient.
// It is taken only when the view is its input's LAST consumer -- every other contribution to the input's
// gradient then lands after the view's, as it would when the view's backward adds it -- and the input is an
// op (not a leaf or parameter) whose gradient does not exist yet; nodes grad() returns never share. The
// additions are the same in the same order, so the bits are too (tests/test_grad_views.cpp). The fused
// recurrent layer's output rows (models/recurrent.cpp) and a head's reshape of them share this way.
//
// Note [Consumed activations]: a backward without retain_graph is the tape's last, so what each op saved
// for it is dead once that op's backward has run. BackwardContext::aux_to_consume() hands such an op its
// aux to overwrite -- rnn_sequence's step loop writes the gate gradients over the saved gate activations,
// so the weight gradients are single products over all steps without a second T-sized buffer. When the
// graph is retained (grad()'s default, gradcheck) it returns null and the op uses scratch memory; the
// results are the same bits (tests/test_rnn_sequence.cpp). backward() marks the tape consumed before
// its loop, so a backward that throws half-way is never followed by a silently wrong one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "graph/tensor.h"

namespace unroll {

class Tape;
using NodeId = uint32_t;

class GradMemory {
 public:
  // Node id's gradient buffer, made on first use: zero-filled, or with `fresh` given left unzeroed and
  // *fresh set (Note [Gradients accumulate]); a window into its input's (Note [Gradient views]).
  Tensor& buffer(Tape& tape, NodeId id, bool into_parameters, bool* fresh);
  bool may_share_input_grad(const Tape& tape, NodeId id) const;  // Note [Gradient views]
  // Drops an intermediate node's buffer into the free list (no-op for leaves and parameters).
  void release(Tape& tape, NodeId id);
  void reset();  // the tape's reset: free list emptied, not consumed

  // Note [Released gradients].
  bool release_grads() const { return release_grads_; }
  void set_release_grads(bool on) { release_grads_ = on; }
  void set_releasable(std::vector<bool> releasable) { releasable_ = std::move(releasable); }
  bool releasable(NodeId id) const { return id < releasable_.size() && releasable_[id]; }
  // Note [Consumed activations].
  bool consumed() const { return consumed_; }
  void set_consumed(bool v) { consumed_ = v; }
  bool final_backward() const { return final_backward_; }
  void set_final_backward(bool v) { final_backward_ = v; }

 private:
  Tensor& share_input_grad(Tape& tape, NodeId id, bool into_parameters, bool* fresh);
  void* allocate(Tape& tape, NodeId id, size_t bytes);

  bool release_grads_ = false;
  bool consumed_ = false;
  bool final_backward_ = false;
  std::vector<bool> releasable_;  // the nodes this backward may release (and so may share); set by backward()
  std::unordered_map<size_t, std::vector<void*>> free_;  // bytes -> released gradient memory (this epoch)
};

}  // namespace unroll
