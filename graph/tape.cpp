// SPDX-License-Identifier: Apache-2.0
// What lives here: Tape recording, parameters as leaves, epochs, replay bounds and scopes.
#include "graph/tape.h"

#include <atomic>
#include <cstring>

namespace unroll {

namespace {
// Epochs are unique across all tapes, so a handle can never match a different tape's recycled state.
uint64_t next_epoch() {
  static std::atomic<uint64_t> counter{0};
  return ++counter;
}
}  // namespace

Parameter::Parameter(std::string n, Tensor v) : name(std::move(n)), value(std::move(v)) {
  grad = Tensor::zeros(value.shape(), value.dtype());
}

Tape::Tape(std::shared_ptr<ExecutionContext> context) : epoch_(next_epoch()), context_(std::move(context)) {}
Tape::~Tape() = default;

Var Tape::leaf(const Tensor& value, bool requires_grad) {
  UNROLL_CHECK(value.defined(), UsageError, "leaf: the tensor is undefined (hint: create it with Tensor::zeros/from_values)");
  Node n;
  n.value = value;
  n.op = OpKind::leaf;
  n.requires_grad = requires_grad;
  n.scope = scope_stack_.back();
  nodes_.push_back(std::move(n));
  return Var(this, static_cast<NodeId>(nodes_.size() - 1), epoch_);
}

Var Tape::constant(const Tensor& value) { return leaf(value, false); }

Var Tape::param(Parameter& p) {
  // (The value check: a Parameter destroyed and another made at its address within one epoch is new.)
  if (const auto known = param_nodes_.find(&p);
      known != param_nodes_.end() && nodes_[known->second].value.raw() == p.value.raw())
    return Var(this, known->second, epoch_);
  UNROLL_CHECK(p.value.defined(), UsageError, "param: parameter '{}' has no value", p.name);
  UNROLL_CHECK(!replay_.is_open(), UsageError,
               "param: parameter '{}' is first used inside a replay region, where its node would be dropped at "
               "the region's end (hint: record it with tape.param() before the region; Note [Replay region])",
               p.name);
  if (!p.grad.defined() || p.grad.shape() != p.value.shape() || p.grad.dtype() != p.value.dtype())
    p.grad = Tensor::zeros(p.value.shape(), p.value.dtype());
  Node n;
  n.value = p.value;
  n.op = OpKind::parameter;
  n.requires_grad = true;
  n.param = &p;
  n.scope = scope_stack_.back();
  nodes_.push_back(std::move(n));
  const auto id = static_cast<NodeId>(nodes_.size() - 1);
  param_nodes_[&p] = id;
  return Var(this, id, epoch_);
}

void Tape::reset() {
  nodes_.clear();
  input_ids_.clear();
  arena_.reset();
  replay_.reset();
  grads_.reset();
  kept_alive_.clear();
  param_nodes_.clear();
  epoch_ = next_epoch();
  scope_names_.resize(1);
  scope_stack_.assign(1, 0);
}

Tensor Tape::alloc(const Shape& shape, DType dtype) {
  const size_t bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  return Tensor::view(alloc_bytes(bytes), shape, dtype);
}

void* Tape::alloc_bytes(size_t bytes) {
  return replay_.is_open() ? replay_.arena().allocate(bytes) : arena_.allocate(bytes);
}

NodeId Tape::begin_replay() {
  replay_.open(static_cast<NodeId>(nodes_.size()));
  return static_cast<NodeId>(nodes_.size());
}

void Tape::end_replay() {
  const NodeId first = replay_.close();
  if (nodes_.size() > first) input_ids_.resize(nodes_[first].first_input);
  nodes_.resize(first);
}

Tensor Tape::alloc_zeros(const Shape& shape, DType dtype) {
  Tensor t = alloc(shape, dtype);
  if (t.nbytes()) std::memset(t.raw(), 0, t.nbytes());
  return t;
}

Var Tape::record(const RecordSpec& spec) {
  Node n;
  n.op = spec.op;
  n.value = spec.value;
  n.attrs = spec.attrs;
  n.aux = spec.aux;
  n.first_input = static_cast<uint32_t>(input_ids_.size());
  n.n_inputs = static_cast<uint16_t>(spec.n_inputs);
  n.scope = scope_stack_.back();
  bool any_needs = false;
  for (size_t i = 0; i < spec.n_inputs; ++i) {
    const Var& in = spec.inputs[i];
    UNROLL_CHECK(in.defined(), UsageError, "{}: input {} is an undefined handle", op_name(spec.op), i);
    UNROLL_CHECK(&in.tape() == this, UsageError,
                 "{}: input {} belongs to a different tape (hint: record all inputs of an op on one tape)",
                 op_name(spec.op), i);
    input_ids_.push_back(in.id());
    any_needs = any_needs || nodes_[in.id()].requires_grad;
  }
  const auto new_id = static_cast<NodeId>(nodes_.size());  // only once every input passed its checks
  for (size_t i = 0; i < spec.n_inputs; ++i) nodes_[spec.inputs[i].id()].last_consumer = new_id;
  n.view_offset = spec.view_offset;
  n.requires_grad = grad_enabled_ && any_needs;
  n.backward = n.requires_grad ? spec.backward : nullptr;
  n.backward_without_grad = spec.backward_without_grad;
  nodes_.push_back(std::move(n));
  const auto id = static_cast<NodeId>(nodes_.size() - 1);
  if (anomaly_ && !nodes_[id].value.all_finite())
    throw NumericError(fmt::format("anomaly: {} produced a non-finite value (NaN or Inf); its inputs were {}",
                                   describe(id), [&] {
                                     std::string s;
                                     for (size_t i = 0; i < spec.n_inputs; ++i)
                                       s += (i ? ", " : "") + std::string(nodes_[spec.inputs[i].id()].value.all_finite()
                                                                                ? "finite"
                                                                                : "non-finite");
                                     return s.empty() ? std::string("none") : s;
                                   }()));
  return Var(this, id, epoch_);
}

void Tape::clear_grads() {
  for (Node& n : nodes_) {
    n.grad = Tensor();
    n.grad_is_view = false;
  }
}

void Tape::push_scope(const std::string& name) {
  const std::string& parent = scope_names_[scope_stack_.back()];
  scope_names_.push_back(parent.empty() ? name : parent + "/" + name);
  scope_stack_.push_back(static_cast<uint32_t>(scope_names_.size() - 1));
}

void Tape::pop_scope() {
  if (scope_stack_.size() > 1) scope_stack_.pop_back();
}

std::string Tape::describe(NodeId id) const {
  const Node& n = nodes_[id];
  const std::string scope = scope_name(n.scope);
  return fmt::format("op '{}' (tape node {}{}{})", op_name(n.op), id, scope.empty() ? "" : ", recorded in ",
                     scope);
}

Tape& Var::tape() const {
  UNROLL_CHECK(tape_ != nullptr, UsageError, "var: the handle is undefined (hint: it was default-constructed)");
  UNROLL_CHECK(tape_->epoch() == epoch_, UsageError,
               "var: handle to node {} was used after its tape was reset (hint: record it again on the new tape, or "
               "keep a copy of its value with value().clone())",
               id_);
  return *tape_;
}

}  // namespace unroll
