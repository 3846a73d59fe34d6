// SPDX-License-Identifier: Apache-2.0
// What lives here: the Tape (append-only record of ops in creation order, which is a topological order),
// the Node it stores per op, Parameters that outlive tapes, the Var handle, the RAII guards (no-grad, name
// scope) and the BackwardContext each op's backward gets. Gradient memory: graph/grad_memory.h; the replay
// region: graph/replay.h.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "graph/arena.h"
#include "graph/grad_memory.h"
#include "graph/op_kind.h"
#include "graph/replay.h"
#include "graph/tensor.h"

namespace unroll {

class Tape;
class Var;
using NodeId = uint32_t;

/// What ops keep per tape to run their kernels, opaque here: the tape only holds it (and hands it to the
/// tapes it is shared with). ops/ derives the one it uses and makes it on first use.
class ExecutionContext {
 public:
  virtual ~ExecutionContext() = default;
};

/// A trainable tensor that lives across tapes: a model's weight. Its path name is its checkpoint key.
class Parameter {
 public:
  Parameter() = default;
  Parameter(std::string name, Tensor value);

  std::string name;
  Tensor value;
  Tensor grad;  ///< same shape and dtype as value; accumulated by backward(), cleared by zero_grad()

  void zero_grad() { grad.fill(0.0); }
};

class BackwardContext;
using BackwardFn = void (*)(BackwardContext&);

/// Small attributes an op keeps for its backward (axes, sizes, scalars, a pointer into the arena).
struct OpAttrs {
  int64_t i[4] = {0, 0, 0, 0};
  double f[2] = {0, 0};
  const void* ptr = nullptr;
};

struct Node {
  Tensor value;
  Tensor grad;  ///< undefined until some backward writes into it
  Tensor aux;   ///< anything else backward needs (a dropout mask, softmax output)
  BackwardFn backward = nullptr;  ///< null when no input needs a gradient
  Parameter* param = nullptr;     ///< set on parameter leaves
  OpAttrs attrs;
  uint32_t first_input = 0;  ///< into Tape's input id list
  uint16_t n_inputs = 0;
  OpKind op = OpKind::leaf;
  bool requires_grad = false;
  bool backward_without_grad = false;  ///< backward runs even when no gradient reached this node
  uint32_t scope = 0;  ///< index into the tape's scope names (module path), 0 = none
  /// Note [Gradient views] (graph/grad_memory.h)
  int64_t view_offset = -1;     ///< the value is input 0's value from this element on (reshape, a view slice)
  NodeId last_consumer = 0;     ///< the latest node recorded with this one as an input (0: none yet)
  bool grad_is_view = false;    ///< grad is a window into input 0's gradient: backward has nothing to add
};

/// What a recording op hands to Tape::record.
struct RecordSpec {
  OpKind op;
  const Var* inputs;
  size_t n_inputs;
  Tensor value;
  BackwardFn backward;
  OpAttrs attrs = {};
  Tensor aux = {};
  /// Run backward even when this node's own gradient was never written (an op whose backward serves
  /// other nodes' gradients too: the trigger of a recompute segment). It must handle an undefined dout().
  bool backward_without_grad = false;
  /// Note [Gradient views]: >= 0 when value is a view of input 0's value from this element on.
  int64_t view_offset = -1;
};

/// What Tape::to_dot draws (graph/tape_dot.cpp).
struct DotOptions {
  bool backward = false;  ///< also each gradient (dashed "d op" twins) and its flow from outputs to inputs
  NodeId begin = 0;       ///< the nodes [begin, end) only
  NodeId end = UINT32_MAX;
  std::string title = "tape";
};

/// Note [Tape ownership]: the tape owns every recorded value and gradient (in its Arena, or by sharing a
/// leaf's storage). Nodes refer to their inputs by integer id, never by pointer, so destruction is a flat
/// loop and there is no recursion anywhere. Handles (Var) are {tape, id, epoch}; reset() starts a new
/// epoch, after which old handles raise UsageError instead of reading recycled memory.
class Tape {
 public:
  explicit Tape(std::shared_ptr<ExecutionContext> context = nullptr);
  ~Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  /// Leaves. leaf() shares `value`'s storage (no copy). param() returns the same node for the same
  /// parameter within one epoch, so a weight used at every time step is one node. The lookup is the
  /// tape's own: a parameter keeps nothing per tape, so tapes on different threads may share it
  /// (Note [Graph batch split] in models/strategies/batch_split.cpp), once each has seen it (its first use here may
  /// create p.grad).
  Var leaf(const Tensor& value, bool requires_grad = false);
  Var constant(const Tensor& value);  ///< leaf(value, false)
  Var param(Parameter& p);

  /// Drops every node and rewinds the arena; all existing Var handles become stale.
  void reset();

  size_t size() const { return nodes_.size(); }
  uint64_t epoch() const { return epoch_; }
  const Node& node(NodeId id) const { return nodes_[id]; }
  Node& node(NodeId id) { return nodes_[id]; }
  NodeId input_id(const Node& n, int i) const { return input_ids_[n.first_input + static_cast<uint32_t>(i)]; }

  /// Recording (used by ops): arena-backed uninitialised/zeroed tensors, and the append itself.
  Tensor alloc(const Shape& shape, DType dtype);
  Tensor alloc_zeros(const Shape& shape, DType dtype);
  void* alloc_bytes(size_t bytes);  ///< raw arena memory (e.g. indices); the replay arena inside a region
  Var record(const RecordSpec& spec);

  /// Gradient memory (graph/grad_memory.h), for backward (autodiff/).
  Tensor& grad_buffer(NodeId id, bool into_parameters, bool* fresh = nullptr) {
    return grads_.buffer(*this, id, into_parameters, fresh);
  }
  bool may_share_input_grad(NodeId id) const { return grads_.may_share_input_grad(*this, id); }
  void clear_grads();
  bool release_grads() const { return grads_.release_grads(); }
  void set_release_grads(bool on) { grads_.set_release_grads(on); }
  void release_grad(NodeId id) { grads_.release(*this, id); }
  void set_releasable(std::vector<bool> releasable) { grads_.set_releasable(std::move(releasable)); }
  bool releasable(NodeId id) const { return grads_.releasable(id); }
  bool backward_consumed() const { return grads_.consumed(); }
  void set_backward_consumed(bool v) { grads_.set_consumed(v); }
  bool final_backward() const { return grads_.final_backward(); }
  void set_final_backward(bool v) { grads_.set_final_backward(v); }

  /// Note [Replay region] (graph/replay.h). begin_replay() returns the region's first node id.
  NodeId begin_replay();
  void end_replay();
  bool replaying() const { return replay_.is_open(); }

  bool grad_enabled() const { return grad_enabled_; }
  void set_grad_enabled(bool on) { grad_enabled_ = on; }

  /// Anomaly mode: every recorded value is checked for NaN/Inf; the first one raises NumericError
  /// naming the op, its tape index and the module path that recorded it.
  bool anomaly_detection() const { return anomaly_; }
  void set_anomaly_detection(bool on) { anomaly_ = on; }

  /// Name scopes (module paths) for messages.
  void push_scope(const std::string& name);
  void pop_scope();
  void push_scope_id(uint32_t scope) { scope_stack_.push_back(scope); }  ///< an existing scope (node.scope)
  uint32_t current_scope() const { return scope_stack_.back(); }  ///< what the next recorded node gets
  std::string scope_name(uint32_t scope) const { return scope < scope_names_.size() ? scope_names_[scope] : ""; }
  std::string describe(NodeId id) const;  ///< "tanh (node 17, in encoder/l0)"
  /// The recorded graph as Graphviz DOT text: each node's op, shape and module path (a cluster per path),
  /// parameters by name; with options.backward the gradients too. Iterative (graph/tape_dot.cpp).
  std::string to_dot(const DotOptions& options = {}) const;

  /// What ops run their kernels with on this tape (ops/ makes it on first use), shared or handed in.
  const std::shared_ptr<ExecutionContext>& context() const { return context_; }
  void set_context(std::shared_ptr<ExecutionContext> context) { context_ = std::move(context); }
  /// Keeps an object alive until reset() (what nodes' attrs point to outside the arena: packed weights).
  void keep_alive(std::shared_ptr<const void> object) { kept_alive_.push_back(std::move(object)); }
  const Arena& arena() const { return arena_; }
  const Arena& replay_arena() const { return replay_.arena(); }

 private:
  friend class GradMemory;  ///< allocates gradients from arena_ and replay_

  std::vector<Node> nodes_;
  std::vector<NodeId> input_ids_;
  Arena arena_;
  Replay replay_;
  GradMemory grads_;
  uint64_t epoch_;
  bool grad_enabled_ = true;
  bool anomaly_ = false;
  std::vector<std::string> scope_names_{""};
  std::vector<uint32_t> scope_stack_{0};
  std::shared_ptr<ExecutionContext> context_;
  std::vector<std::shared_ptr<const void>> kept_alive_;
  std::unordered_map<const Parameter*, NodeId> param_nodes_;  ///< this epoch's parameter leaves
};

/// The handle users hold: small, copyable, checked against the tape's epoch on every use.
class Var {
 public:
  Var() = default;
  Var(Tape* tape, NodeId id, uint64_t epoch) : tape_(tape), id_(id), epoch_(epoch) {}

  bool defined() const { return tape_ != nullptr; }
  Tape& tape() const;  ///< throws UsageError for an undefined or stale handle
  NodeId id() const { return id_; }
  const Node& node() const { return tape().node(id_); }
  const Tensor& value() const { return node().value; }
  const Tensor& grad() const { return node().grad; }  ///< undefined when backward never reached it
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

/// RAII: ops recorded inside do not require gradients.
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

/// RAII: nodes recorded inside carry this module path (for anomaly and error messages).
class ScopeGuard {
 public:
  ScopeGuard(Tape& t, const std::string& name) : tape_(t) { t.push_scope(name); }
  ~ScopeGuard() { tape_.pop_scope(); }
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;

 private:
  Tape& tape_;
};

/// Handed to each op's backward function.
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
  /// For a backward that overwrites all of din(i) when it is fresh (Note [Gradients accumulate]).
  struct GradTarget {
    Tensor& grad;
    bool fresh;  ///< true: unzeroed memory nothing has reached yet; store 0 + v into every element
  };
  GradTarget din_target(int i) {
    bool fresh = false;
    Tensor& g = tape_.grad_buffer(tape_.input_id(node_, i), into_parameters_, &fresh);
    return {g, fresh};
  }
  /// Note [Gradient views]: this node's gradient is a window into its input's, where it already landed.
  bool grad_is_view() const { return node_.grad_is_view; }
  /// Note [Consumed activations]: a backward may overwrite what its op saved (aux) -- say, with gradients
  /// of the same size, saving a scratch buffer -- only when no backward follows on this tape. This is
  /// that aux, writable, in the tape's last backward, and null when the graph is retained.
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
