// What lives here: the Tape (append-only record of ops in creation order, which is a topological order),
// the Node it stores per op, Parameters that outlive tapes, and the RAII guards (no-grad, name scope).
//
// Note [Tape ownership]: the tape owns every recorded value and gradient (in its Arena, or by sharing a
// leaf's storage). Nodes refer to their inputs by integer id, never by pointer, so destruction is a flat
// loop and there is no recursion anywhere. Handles (Var) are {tape, id, epoch}; reset() starts a new
// epoch, after which old handles raise UsageError instead of reading recycled memory.
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
// Note [Replay region]: begin_replay() opens a region at the end of the tape whose nodes, values and
// gradients live in a second arena; end_replay() drops them all (nodes truncated, that arena rewound),
// leaving every node recorded before the region as it was. Gradient buffers of those older nodes that
// first appear during the region come from the main arena and stay. This is what recomputation needs
// (models/recurrent.cpp, Note [Recompute segments]): record a stretch of steps, keep a few values, drop
// the rest, and later record the same stretch again inside backward and differentiate it in place, so
// its gradients land in the same buffers, in the same order, as if it had never been dropped.
// A parameter may not be seen for the first time inside a region (its node would vanish at the end).
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
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "graph/arena.h"
#include "graph/op_kind.h"
#include "graph/tensor.h"

namespace unroll {

class Tape;
class Var;
class DnnlContext;       // ops/dnnl_context.h
class WeightPacksScope;  // ops/weight_packs.h
using NodeId = uint32_t;

// A trainable tensor that lives across tapes: a model's weight. Its path name is its checkpoint key.
class Parameter {
 public:
  Parameter() = default;
  Parameter(std::string name, Tensor value);

  std::string name;
  Tensor value;
  Tensor grad;  // same shape and dtype as value; accumulated by backward(), cleared by zero_grad()

  void zero_grad() { grad.fill(0.0); }
};

class BackwardContext;
using BackwardFn = void (*)(BackwardContext&);

// Small attributes an op keeps for its backward (axes, sizes, scalars, a pointer into the arena).
struct OpAttrs {
  int64_t i[4] = {0, 0, 0, 0};
  double f[2] = {0, 0};
  const void* ptr = nullptr;
};

struct Node {
  Tensor value;
  Tensor grad;  // undefined until some backward writes into it
  Tensor aux;   // anything else backward needs (a dropout mask, softmax output)
  BackwardFn backward = nullptr;  // null when no input needs a gradient
  Parameter* param = nullptr;     // set on parameter leaves
  OpAttrs attrs;
  uint32_t first_input = 0;  // into Tape's input id list
  uint16_t n_inputs = 0;
  OpKind op = OpKind::leaf;
  bool requires_grad = false;
  bool backward_without_grad = false;  // backward runs even when no gradient reached this node
  uint32_t scope = 0;  // index into the tape's scope names (module path), 0 = none
  // Note [Gradient views]
  int64_t view_offset = -1;     // the value is input 0's value from this element on (reshape, a view slice)
  NodeId last_consumer = 0;     // the latest node recorded with this one as an input (0: none yet)
  bool grad_is_view = false;    // grad is a window into input 0's gradient: backward has nothing to add
};

// What a recording op hands to Tape::record.
struct RecordSpec {
  OpKind op;
  const Var* inputs;
  size_t n_inputs;
  Tensor value;
  BackwardFn backward;
  OpAttrs attrs = {};
  Tensor aux = {};
  // Run backward even when this node's own gradient was never written (an op whose backward serves
  // other nodes' gradients too: the trigger of a recompute segment). It must handle an undefined dout().
  bool backward_without_grad = false;
  // Note [Gradient views]: >= 0 when value is a view of input 0's value from this element on.
  int64_t view_offset = -1;
};

class Tape {
 public:
  explicit Tape(std::shared_ptr<DnnlContext> dnnl = nullptr);
  ~Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // Leaves. leaf() shares `value`'s storage (no copy). param() returns the same node for the same
  // parameter within one epoch, so a weight used at every time step is one node. The lookup is the
  // tape's own: a parameter keeps nothing per tape, so tapes on different threads may share it
  // (Note [Graph batch split] in models/recurrent.cpp), once each has seen it (its first use here may
  // create p.grad).
  Var leaf(const Tensor& value, bool requires_grad = false);
  Var constant(const Tensor& value);  // leaf(value, false)
  Var param(Parameter& p);

  // Drops every node and rewinds the arena; all existing Var handles become stale.
  void reset();

  size_t size() const { return nodes_.size(); }
  uint64_t epoch() const { return epoch_; }
  const Node& node(NodeId id) const { return nodes_[id]; }
  Node& node(NodeId id) { return nodes_[id]; }
  NodeId input_id(const Node& n, int i) const { return input_ids_[n.first_input + static_cast<uint32_t>(i)]; }

  // Recording (used by ops): arena-backed uninitialised/zeroed tensors, and the append itself.
  Tensor alloc(const Shape& shape, DType dtype);
  Tensor alloc_zeros(const Shape& shape, DType dtype);
  void* alloc_bytes(size_t bytes);  // raw arena memory (e.g. indices); the replay arena inside a region
  Var record(const RecordSpec& spec);

  // Gradient buffers used by backward (autodiff/): zero-filled on first use; with `fresh` given, a buffer
  // made by this call is left unzeroed and *fresh says so (Note [Gradients accumulate]).
  Tensor& grad_buffer(NodeId id, bool into_parameters, bool* fresh = nullptr);
  bool may_share_input_grad(NodeId id) const;  // Note [Gradient views]
  void clear_grads();
  // Note [Released gradients].
  bool release_grads() const { return release_grads_; }
  void set_release_grads(bool on) { release_grads_ = on; }
  // Drops an intermediate node's gradient buffer into the free list (no-op for leaves and parameters).
  void release_grad(NodeId id);
  // The nodes whose gradient this backward may release (and so may share: Note [Gradient views]); set by
  // backward() for the length of its loop, empty otherwise.
  void set_releasable(std::vector<bool> releasable) { releasable_ = std::move(releasable); }
  bool releasable(NodeId id) const { return id < releasable_.size() && releasable_[id]; }
  bool backward_consumed() const { return backward_consumed_; }
  void set_backward_consumed(bool v) { backward_consumed_ = v; }
  // Note [Consumed activations]: true while a backward runs that is the tape's last (no retain_graph).
  bool final_backward() const { return final_backward_; }
  void set_final_backward(bool v) { final_backward_ = v; }

  // Note [Replay region]. begin_replay() returns the region's first node id; regions do not nest.
  NodeId begin_replay();
  void end_replay();
  bool replaying() const { return replaying_; }

  bool grad_enabled() const { return grad_enabled_; }
  void set_grad_enabled(bool on) { grad_enabled_ = on; }

  // Anomaly mode: every recorded value is checked for NaN/Inf; the first one raises NumericError
  // naming the op, its tape index and the module path that recorded it.
  bool anomaly_detection() const { return anomaly_; }
  void set_anomaly_detection(bool on) { anomaly_ = on; }

  // Name scopes (module paths) for messages.
  void push_scope(const std::string& name);
  void pop_scope();
  void push_scope_id(uint32_t scope) { scope_stack_.push_back(scope); }  // an existing scope (node.scope)
  uint32_t current_scope() const { return scope_stack_.back(); }  // what the next recorded node gets
  std::string scope_name(uint32_t scope) const { return scope < scope_names_.size() ? scope_names_[scope] : ""; }
  std::string describe(NodeId id) const;  // "tanh (node 17, in encoder/l0)"

  const std::shared_ptr<DnnlContext>& dnnl() const { return dnnl_; }
  void set_dnnl(std::shared_ptr<DnnlContext> ctx) { dnnl_ = std::move(ctx); }
  // Note [Packed weights] (ops/weight_packs.h): the open scope, or null; set by the scope itself.
  WeightPacksScope* weight_packs() const { return weight_packs_; }
  void set_weight_packs(WeightPacksScope* scope) { weight_packs_ = scope; }
  // Keeps an object alive until reset() (what nodes' attrs point to outside the arena: packed weights).
  void keep_alive(std::shared_ptr<const void> object) { kept_alive_.push_back(std::move(object)); }
  const Arena& arena() const { return arena_; }
  const Arena& replay_arena() const { return replay_arena_; }

 private:
  std::vector<Node> nodes_;
  std::vector<NodeId> input_ids_;
  Arena arena_;
  Arena replay_arena_;  // Note [Replay region]
  NodeId replay_first_ = 0;
  bool replaying_ = false;
  uint64_t epoch_;
  bool grad_enabled_ = true;
  bool anomaly_ = false;
  bool backward_consumed_ = false;
  bool final_backward_ = false;
  bool release_grads_ = false;
  std::vector<bool> releasable_;  // Note [Gradient views]
  std::unordered_map<size_t, std::vector<void*>> free_grads_;  // bytes -> released gradient memory (this epoch)
  std::vector<std::string> scope_names_{""};
  std::vector<uint32_t> scope_stack_{0};
  std::shared_ptr<DnnlContext> dnnl_;
  WeightPacksScope* weight_packs_ = nullptr;
  std::vector<std::shared_ptr<const void>> kept_alive_;
  std::unordered_map<const Parameter*, NodeId> param_nodes_;  // this epoch's parameter leaves
};

// The handle users hold: small, copyable, checked against the tape's epoch on every use.
class Var {
 public:
  Var() = default;
  Var(Tape* tape, NodeId id, uint64_t epoch) : tape_(tape), id_(id), epoch_(epoch) {}

  bool defined() const { return tape_ != nullptr; }
  Tape& tape() const;  // throws UsageError for an undefined or stale handle
  NodeId id() const { return id_; }
  const Node& node() const { return tape().node(id_); }
  const Tensor& value() const { return node().value; }
  const Tensor& grad() const { return node().grad; }  // undefined when backward never reached it
  const Shape& shape() const { return node().value.shape(); }
  DType dtype() const { return node().value.dtype(); }
  bool requires_grad() const { return node().requires_grad; }
  double item() const { return value().item(); }
  bool same_tape(const Var& o) const { return tape_ == o.tape_ && epoch_ == o.epoch_; }

 private:
  Tape* tape_ = nullptr;
  NodeId id_ = 0;
  uint64_t epoch_ = 0;
};

// RAII: ops recorded inside do not require gradients.
class NoGradGuard {
 public:
  explicit NoGradGuard(Tape& t) : tape_(t), previous_(t.grad_enabled()) { t.set_grad_enabled(false); }
  ~NoGradGuard() { tape_.set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  Tape& tape_;
  bool previous_;
};

// RAII: nodes recorded inside carry this module path (for anomaly and error messages).
class ScopeGuard {
 public:
  ScopeGuard(Tape& t, const std::string& name) : tape_(t) { t.push_scope(name); }
  ~ScopeGuard() { tape_.pop_scope(); }
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;

 private:
  Tape& tape_;
};

// Handed to each op's backward function.
class BackwardContext {
 public:
  BackwardContext(Tape& tape, NodeId id, bool into_parameters)
      : tape_(tape), id_(id), node_(tape.node(id)), into_parameters_(into_parameters) {}

  const Node& node() const { return node_; }
  const OpAttrs& attrs() const { return node_.attrs; }
  const Tensor& out() const { return node_.value; }
  const Tensor& dout() const { return node_.grad; }
  const Tensor& aux() const { return node_.aux; }
  int n_inputs() const { return node_.n_inputs; }
  const Tensor& in(int i) const { return tape_.node(tape_.input_id(node_, i)).value; }
  bool needs(int i) const { return tape_.node(tape_.input_id(node_, i)).requires_grad; }
  Tensor& din(int i) { return tape_.grad_buffer(tape_.input_id(node_, i), into_parameters_); }
  // For a backward that overwrites all of din(i) when it is fresh (Note [Gradients accumulate]).
  struct GradTarget {
    Tensor& grad;
    bool fresh;  // true: unzeroed memory nothing has reached yet; store 0 + v into every element
  };
  GradTarget din_target(int i) {
    bool fresh = false;
    Tensor& g = tape_.grad_buffer(tape_.input_id(node_, i), into_parameters_, &fresh);
    return {g, fresh};
  }
  // Note [Gradient views]: this node's gradient is a window into its input's, where it already landed.
  bool grad_is_view() const { return node_.grad_is_view; }
  // Note [Consumed activations]: a backward may overwrite what its op saved (aux) -- say, with gradients
  // of the same size, saving a scratch buffer -- only when no backward follows on this tape. This is
  // that aux, writable, in the tape's last backward, and null when the graph is retained.
  Tensor* aux_to_consume() { return tape_.final_backward() ? &tape_.node(id_).aux : nullptr; }
  Tape& tape() { return tape_; }
  NodeId id() const { return id_; }
  bool into_parameters() const { return into_parameters_; }

 private:
  Tape& tape_;
  NodeId id_;
  const Node& node_;
  bool into_parameters_;
};

}  // namespace unroll
