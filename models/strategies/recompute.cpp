// SPDX-License-Identifier: Apache-2.0
// What lives here: the recomputed_segments strategy (strategies.h) and its op, recompute_segment, forward
// and backward side by side.
//
// Note [Recompute segments]: with set_recompute(k) the graph path keeps, of each layer and direction,
// only the step outputs and the state every k steps; backward records each k-step segment again and
// differentiates it there (gradient checkpointing; memory for a segment's internals is O(k), reused).
// How: a segment's steps are recorded inside a replay region (Note [Replay region] in graph/replay.h); the
// values the rest of the graph reads -- each step's output and the segment's final states -- are copied
// out as nodes of kind recompute_segment (inputs: the projected inputs px and the segment's start
// states), and the region is dropped. The last of those nodes carries the backward: it opens a region
// again, records the same steps from the same start-state nodes, checks that they reproduce the kept
// values bit for bit (a cell whose step() is random or stateful cannot be recomputed: UsageError), seeds
// the re-recorded output nodes with the gradients the kept nodes received, and runs the region's reverse
// loop. Every consumer outside a segment is recorded after it, so its contribution comes first in both
// modes; the steps inside are the same ops in the same order, reaching the same parameter, px and state
// gradient buffers: the gradients equal the plain mode's bit for bit (tests/test_recompute.cpp). The last
// segment is recorded as usual (its backward comes first; recomputing it would only repeat it). Cost:
// one more forward of all steps but the last segment's. Recompute mode uses the graph path for every cell
// (the fused op keeps its saved gates for all T: Note [Step loop] in ops/rnn_step_loop.cpp); choose_strategy
// (strategies.h) says so. px, the outputs and their gradients stay O(T). Under the graph batch split (Note
// [Graph batch split] in batch_split.cpp) each block tape holds its own rows' segments, and the same holds
// there.
#include <algorithm>
#include <new>
#include <unordered_map>

#include "autodiff/backward.h"
#include "models/strategies/steps.h"
#include "models/strategies/strategies.h"

namespace unroll::strategies {

namespace {

// What a segment's backward needs to record it again. Lives in the tape's main arena (trivially
// destructible, gone with the tape epoch); the kept nodes point at it through OpAttrs::ptr.
struct SegmentPlan {
  Cell* cell;
  SequenceContext* seq;  // the layer's (Note [Sequence context]), kept alive by the tape
  int64_t k_begin, k_end, T, B;  // steps k_begin..k_end-1 in processing order (t = T-1-k when reverse)
  bool reverse;
  int states;
  NodeId px;
  const NodeId* start;  // [states]: the nodes the segment starts from
  const NodeId* keep;   // [T] mask nodes, or null
  const NodeId* hold;
  int kept;             // number of kept nodes, recorded consecutively from first_kept
  NodeId first_kept;
  int* kept_index;      // [steps + states]: which kept node holds step output j (then final state s)
  int64_t steps() const { return k_end - k_begin; }
};

// The plan's masks as handles on `tape` (empty when the layer is not masked).
LengthMasks plan_masks(const SegmentPlan& plan, Tape& tape) {
  const uint64_t epoch = tape.epoch();
  LengthMasks masks;
  if (plan.keep != nullptr)
    for (int64_t t = 0; t < plan.T; ++t) {
      masks.keep.emplace_back(&tape, plan.keep[t], epoch);
      masks.hold.emplace_back(&tape, plan.hold[t], epoch);
    }
  return masks;
}

// The ids of each step's output (outs at t), then of the final states.
std::vector<NodeId> segment_ids(const SegmentPlan& plan, const std::vector<Var>& outs, const std::vector<Var>& state) {
  std::vector<NodeId> ids;
  for (int64_t k = plan.k_begin; k < plan.k_end; ++k)
    ids.push_back(outs[static_cast<size_t>(plan.reverse ? plan.T - 1 - k : k)].id());
  for (const Var& s : state) ids.push_back(s.id());
  return ids;
}

// Distinct ids in first-seen order; index[j] = position of ids[j] among them (an unmasked step's output is
// also its state h, so the last output and the final h are one node).
std::vector<NodeId> distinct(const std::vector<NodeId>& ids, std::vector<int>& index) {
  std::vector<NodeId> unique;
  std::unordered_map<NodeId, int> seen;
  index.clear();
  for (NodeId id : ids) {
    const auto [it, inserted] = seen.emplace(id, static_cast<int>(unique.size()));
    if (inserted) unique.push_back(id);
    index.push_back(it->second);
  }
  return unique;
}

// Opens a replay region with gradients on; closes it, and restores the mode and scope, on every exit.
class ReplayRegion {
 public:
  ReplayRegion(Tape& tape, uint32_t scope) : tape_(tape), grad_was_(tape.grad_enabled()) {
    first_ = tape.begin_replay();
    tape.set_grad_enabled(true);
    tape.push_scope_id(scope);
  }
  ~ReplayRegion() {
    tape_.pop_scope();
    tape_.set_grad_enabled(grad_was_);
    tape_.end_replay();
  }
  ReplayRegion(const ReplayRegion&) = delete;
  ReplayRegion& operator=(const ReplayRegion&) = delete;
  NodeId first() const { return first_; }

 private:
  Tape& tape_;
  bool grad_was_;
  NodeId first_ = 0;
};

// kept_i = value i of (the step outputs, the final states) of steps k_begin..k_end-1 recorded from (px, start)
// d(px, start, parameters) += the backward of those steps recorded again, seeded with d kept_i
//
// The backward of a segment's last kept node. `ctx.node()` is not touched once the region records: the
// tape's node list may move.
void segment_backward(BackwardContext& ctx) {
  Tape& tape = ctx.tape();
  const SegmentPlan& plan = *static_cast<const SegmentPlan*>(ctx.attrs().ptr);
  const bool into_parameters = ctx.into_parameters();
  bool reached = false;
  for (int i = 0; i < plan.kept; ++i) reached = reached || tape.node(plan.first_kept + i).grad.defined();
  if (!reached) return;
  const uint64_t epoch = tape.epoch();
  const ReplayRegion region(tape, ctx.node().scope);
  std::vector<Var> state;
  for (int s = 0; s < plan.states; ++s) state.emplace_back(&tape, plan.start[s], epoch);
  const LengthMasks masks = plan_masks(plan, tape);
  std::vector<Var> outs(static_cast<size_t>(plan.T));
  run_steps(*plan.cell, *plan.seq, Var(&tape, plan.px, epoch), plan.T, plan.B, plan.reverse, plan.k_begin,
            plan.k_end, masks, state, outs);  // on plan.seq's packed weights: the same kernels, the same bits
  std::vector<int> index;
  const std::vector<NodeId> replayed = distinct(segment_ids(plan, outs, state), index);
  bool same = static_cast<int>(replayed.size()) == plan.kept;
  for (size_t j = 0; same && j < index.size(); ++j) same = index[j] == plan.kept_index[j];
  for (int i = 0; same && i < plan.kept; ++i)
    same = tape.node(replayed[i]).value.bit_equal(tape.node(plan.first_kept + i).value);
  UNROLL_CHECK(same, UsageError,
               "recompute: cell '{}' gave different values when steps {}..{} were recorded again in "
               "backward (hint: recomputation needs a step() that is a pure function of its inputs "
               "and parameters -- no random draws, no state kept between calls; switch it off with "
               "set_recompute(0))",
               plan.cell->kind(), plan.k_begin, plan.k_end - 1);
  for (int i = 0; i < plan.kept; ++i) {
    const Tensor& dkept = tape.node(plan.first_kept + i).grad;
    if (!dkept.defined()) continue;
    Tensor& d = tape.grad_buffer(replayed[i], into_parameters);
    add_elements(d.raw(), dkept.raw(), d.numel(), d.dtype());
  }
  backward_range(tape, region.first(), static_cast<NodeId>(tape.size()), into_parameters);
}

// A plan for steps k_begin..k_end-1 from `state`, in the tape's main arena (kept and first_kept are filled
// in by record_segment).
SegmentPlan* make_plan(Tape& tape, Cell& cell, SequenceContext& seq, const Var& px, int64_t T, int64_t B,
                       bool reverse, int64_t k_begin, int64_t k_end, const std::vector<Var>& state,
                       const NodeId* keep, const NodeId* hold) {
  const int S = static_cast<int>(state.size());
  auto* plan = new (tape.alloc_bytes(sizeof(SegmentPlan))) SegmentPlan{};
  auto* start = static_cast<NodeId*>(tape.alloc_bytes(static_cast<size_t>(S) * sizeof(NodeId)));
  for (int s = 0; s < S; ++s) start[s] = state[static_cast<size_t>(s)].id();
  plan->cell = &cell;
  plan->seq = &seq;
  plan->k_begin = k_begin;
  plan->k_end = k_end;
  plan->T = T;
  plan->B = B;
  plan->reverse = reverse;
  plan->states = S;
  plan->px = px.id();
  plan->start = start;
  plan->keep = keep;
  plan->hold = hold;
  plan->kept_index = static_cast<int*>(tape.alloc_bytes(static_cast<size_t>(plan->steps() + S) * sizeof(int)));
  return plan;
}

// recompute_segment's forward: records the plan's steps from `state` in a replay region, copies out the
// values the rest of the graph reads and records them as the kept nodes; returns them, with index[j] =
// which kept node holds step output j (then final state s).
std::vector<Var> record_segment(Tape& tape, SegmentPlan& plan, const Var& px, const std::vector<Var>& state,
                                std::vector<int>& index) {
  const int64_t steps = plan.steps();
  // Room for every value the segment may keep, in the main arena, before the region opens.
  std::vector<Tensor> values;
  for (int64_t j = 0; j < steps + plan.states; ++j) {
    const Var& like = state[static_cast<size_t>(j < steps ? 0 : j - steps)];
    values.push_back(tape.alloc(like.shape(), like.dtype()));
  }
  std::vector<Var> inputs{px};
  inputs.insert(inputs.end(), state.begin(), state.end());
  {
    const ReplayRegion region(tape, tape.current_scope());  // the layer's own scope, for messages
    std::vector<Var> running = state;
    std::vector<Var> outs(static_cast<size_t>(plan.T));
    run_steps(*plan.cell, *plan.seq, px, plan.T, plan.B, plan.reverse, plan.k_begin, plan.k_end, plan_masks(plan, tape),
              running, outs);
    const std::vector<NodeId> unique = distinct(segment_ids(plan, outs, running), index);
    plan.kept = static_cast<int>(unique.size());
    for (size_t i = 0; i < unique.size(); ++i) {
      const Tensor& v = tape.node(unique[i]).value;
      UNROLL_CHECK(v.shape() == values[i].shape() && v.dtype() == values[i].dtype(), ShapeError,
                   "recompute: cell '{}' returned a {} {} state or output, expected {} {} like its initial state",
                   plan.cell->kind(), dtype_name(v.dtype()), v.shape().str(), dtype_name(values[i].dtype()),
                   values[i].shape().str());
      values[i].copy_from(v);
    }
  }
  std::copy(index.begin(), index.end(), plan.kept_index);
  std::vector<Var> kept;
  for (int i = 0; i < plan.kept; ++i) {
    const bool last = i + 1 == plan.kept;
    RecordSpec spec{OpKind::recompute_segment, inputs.data(), inputs.size(), values[static_cast<size_t>(i)],
                    last ? segment_backward : nullptr};
    spec.attrs.ptr = &plan;
    spec.backward_without_grad = last;
    kept.push_back(tape.record(spec));
  }
  plan.first_kept = kept.front().id();
  return kept;
}

}  // namespace

// The last segment is recorded as it is: its backward runs first, so recomputing it would only repeat
// its forward.
void record_recomputed(Tape& tape, Cell& cell, SequenceContext& seq, const Var& px, int64_t T, int64_t B,
                       bool reverse, int64_t k, const LengthMasks& masks, std::vector<Var>& state,
                       std::vector<Var>& outs) {
  const int S = static_cast<int>(state.size());
  const NodeId* keep = nullptr;
  const NodeId* hold = nullptr;
  if (masks.any()) {
    auto* keep_ids = static_cast<NodeId*>(tape.alloc_bytes(2 * static_cast<size_t>(T) * sizeof(NodeId)));
    for (int64_t t = 0; t < T; ++t) {
      keep_ids[t] = masks.keep[static_cast<size_t>(t)].id();
      keep_ids[T + t] = masks.hold[static_cast<size_t>(t)].id();
    }
    keep = keep_ids;
    hold = keep_ids + T;
  }
  int64_t k_begin = 0;
  for (; k_begin + k < T; k_begin += k) {
    SegmentPlan* plan = make_plan(tape, cell, seq, px, T, B, reverse, k_begin, k_begin + k, state, keep, hold);
    std::vector<int> index;
    const std::vector<Var> kept = record_segment(tape, *plan, px, state, index);
    for (int64_t j = 0; j < k; ++j) {
      const int64_t kk = k_begin + j, t = reverse ? T - 1 - kk : kk;
      outs[static_cast<size_t>(t)] = kept[static_cast<size_t>(index[static_cast<size_t>(j)])];
    }
    for (int s = 0; s < S; ++s) state[static_cast<size_t>(s)] = kept[static_cast<size_t>(index[static_cast<size_t>(k + s)])];
  }
  run_steps(cell, seq, px, T, B, reverse, k_begin, T, masks, state, outs);
}

DirectionOutput run_recomputed_segments(const DirectionInput& in) { return record_graph_direction(in, in.segment); }

}  // namespace unroll::strategies
