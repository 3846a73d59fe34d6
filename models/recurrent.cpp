// What lives here: the sequence driver (see Note [Recurrent layout] and Note [Variable lengths] in
// recurrent.h), its recompute segments (Note [Recompute segments]), its config's JSON form, and truncated BPTT.
#include "models/recurrent.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "autodiff/backward.h"
#include "graph/json_fields.h"
#include "ops/batch_split.h"
#include "ops/gemm.h"
#include "ops/ops.h"
#include "ops/pointwise.h"
#include "ops/weight_packs.h"

namespace unroll {

namespace {

// Note [Variable lengths]: per time step, keep = 1 where t < length and hold = its complement ([B, 1]);
// both empty when every sequence has length T.
struct LengthMasks {
  std::vector<Var> keep, hold;
  bool any() const { return !keep.empty(); }
};

// dst[i] += src[i] for n elements of dtype (two distinct buffers)
void add_elements(void* dst, const void* src, int64_t n, DType dtype) {
  dispatch_dtype(dtype, [&]<class T>() { add_into<T>(static_cast<T*>(dst), static_cast<const T*>(src), n); });
}

// One graph-path step at time t: `state` advances in place; returns the step's output.
Var advance(Cell& cell, const Var& px, int64_t t, int64_t B, std::vector<Var>& state, const Var* keep,
            const Var* hold) {
  std::vector<Var> next = cell.step(slice(px, 0, t * B, B), state);
  if (keep == nullptr) {
    state = std::move(next);
    return state[0];
  }
  for (size_t s = 0; s < state.size(); ++s) state[s] = next[s] * *keep + state[s] * *hold;  // exact for 0/1 masks
  return state[0] * *keep;
}

// Records steps k_begin..k_end-1 in processing order (t = T-1-k when reverse) as they are.
void run_steps(Cell& cell, const Var& px, int64_t T, int64_t B, bool reverse, int64_t k_begin, int64_t k_end,
               const LengthMasks& masks, std::vector<Var>& state, std::vector<Var>& outs) {
  for (int64_t k = k_begin; k < k_end; ++k) {
    const auto t = static_cast<size_t>(reverse ? T - 1 - k : k);
    outs[t] = masks.any() ? advance(cell, px, static_cast<int64_t>(t), B, state, &masks.keep[t], &masks.hold[t])
                          : advance(cell, px, static_cast<int64_t>(t), B, state, nullptr, nullptr);
  }
}

// ---- Note [Recompute segments] ----

// What a segment's backward needs to record it again. Lives in the tape's main arena (trivially
// destructible, gone with the tape epoch); the kept nodes point at it through OpAttrs::ptr.
struct SegmentPlan {
  Cell* cell;
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

// Records the plan's steps from `state` (advanced in place); returns the ids of each step's output, then
// of the final states, in the order kept_index describes.
std::vector<NodeId> record_segment(const SegmentPlan& plan, Tape& tape, const Var& px, std::vector<Var>& state) {
  const uint64_t epoch = tape.epoch();
  LengthMasks masks;
  if (plan.keep != nullptr)
    for (int64_t t = 0; t < plan.T; ++t) {
      masks.keep.emplace_back(&tape, plan.keep[t], epoch);
      masks.hold.emplace_back(&tape, plan.hold[t], epoch);
    }
  std::vector<Var> outs(static_cast<size_t>(plan.T));
  run_steps(*plan.cell, px, plan.T, plan.B, plan.reverse, plan.k_begin, plan.k_end, masks, state, outs);
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

// The backward of a segment's last kept node (Note [Recompute segments]). `ctx.node()` is not touched once
// the region records: the tape's node list may move.
void segment_backward(BackwardContext& ctx) {
  Tape& tape = ctx.tape();
  const SegmentPlan& plan = *static_cast<const SegmentPlan*>(ctx.attrs().ptr);
  const bool into_parameters = ctx.into_parameters();
  bool reached = false;
  for (int i = 0; i < plan.kept; ++i) reached = reached || tape.node(plan.first_kept + i).grad.defined();
  if (!reached) return;
  const uint64_t epoch = tape.epoch();
  const ReplayRegion region(tape, ctx.node().scope);
  const WeightPacksScope packs(tape);  // as when the segment was first recorded: the same kernels, the same bits
  std::vector<Var> state;
  for (int s = 0; s < plan.states; ++s) state.emplace_back(&tape, plan.start[s], epoch);
  const std::vector<NodeId> ids = record_segment(plan, tape, Var(&tape, plan.px, epoch), state);
  std::vector<int> index;
  const std::vector<NodeId> replayed = distinct(ids, index);
  bool same = static_cast<int>(replayed.size()) == plan.kept;
  for (size_t j = 0; same && j < index.size(); ++j) same = index[j] == plan.kept_index[j];
  for (int i = 0; same && i < plan.kept; ++i)
    same = tape.node(replayed[i]).value.bit_equal(tape.node(plan.first_kept + i).value);
  UNROLL_CHECK(same, UsageError,
               "recompute: cell '{}' gave different values when steps {}..{} were recorded again in backward (hint: "
               "recomputation needs a step() that is a pure function of its inputs and parameters -- no random "
               "draws, no state kept between calls; switch it off with set_recompute(0))",
               plan.cell->kind(), plan.k_begin, plan.k_end - 1);
  for (int i = 0; i < plan.kept; ++i) {
    const Tensor& dkept = tape.node(plan.first_kept + i).grad;
    if (!dkept.defined()) continue;
    Tensor& d = tape.grad_buffer(replayed[i], into_parameters);
    add_elements(d.raw(), dkept.raw(), d.numel(), d.dtype());
  }
  backward_range(tape, region.first(), static_cast<NodeId>(tape.size()), into_parameters);
}

// Runs one layer and direction in segments of k steps, keeping each step's output (outs[t]) and the
// segments' final states; `state` ends as the last step's state. The last segment is recorded as it is:
// its backward runs first, so recomputing it would only repeat its forward.
void run_recomputed(Tape& tape, Cell& cell, const Var& px, int64_t T, int64_t B, bool reverse, int64_t k,
                    const LengthMasks& masks, std::vector<Var>& state, std::vector<Var>& outs) {
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
    const int64_t k_end = k_begin + k, steps = k;
    auto* plan = new (tape.alloc_bytes(sizeof(SegmentPlan))) SegmentPlan{};
    auto* start = static_cast<NodeId*>(tape.alloc_bytes(static_cast<size_t>(S) * sizeof(NodeId)));
    for (int s = 0; s < S; ++s) start[s] = state[static_cast<size_t>(s)].id();
    plan->cell = &cell;
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
    plan->kept_index = static_cast<int*>(tape.alloc_bytes(static_cast<size_t>(steps + S) * sizeof(int)));
    // Room for every value the segment may keep, in the main arena, before the region opens.
    std::vector<Tensor> values;
    for (int64_t j = 0; j < steps + S; ++j) {
      const Var& like = state[static_cast<size_t>(j < steps ? 0 : j - steps)];
      values.push_back(tape.alloc(like.shape(), like.dtype()));
    }
    std::vector<Var> inputs{px};
    inputs.insert(inputs.end(), state.begin(), state.end());
    std::vector<int> index;
    {
      const ReplayRegion region(tape, tape.current_scope());  // the layer's own scope, for messages
      std::vector<Var> running = state;
      const std::vector<NodeId> ids = record_segment(*plan, tape, px, running);
      const std::vector<NodeId> unique = distinct(ids, index);
      plan->kept = static_cast<int>(unique.size());
      for (size_t i = 0; i < unique.size(); ++i) {
        const Tensor& v = tape.node(unique[i]).value;
        UNROLL_CHECK(v.shape() == values[i].shape() && v.dtype() == values[i].dtype(), ShapeError,
                     "recompute: cell '{}' returned a {} {} state or output, expected {} {} like its initial state",
                     cell.kind(), dtype_name(v.dtype()), v.shape().str(), dtype_name(values[i].dtype()),
                     values[i].shape().str());
        values[i].copy_from(v);
      }
    }
    std::copy(index.begin(), index.end(), plan->kept_index);
    std::vector<Var> kept;
    for (int i = 0; i < plan->kept; ++i) {
      const bool last = i + 1 == plan->kept;
      RecordSpec spec{OpKind::recompute_segment, inputs.data(), inputs.size(), values[static_cast<size_t>(i)],
                      last ? segment_backward : nullptr};
      spec.attrs.ptr = plan;
      spec.backward_without_grad = last;
      kept.push_back(tape.record(spec));
    }
    plan->first_kept = kept.front().id();
    for (int64_t j = 0; j < steps; ++j) {
      const int64_t kk = k_begin + j, t = reverse ? T - 1 - kk : kk;
      outs[static_cast<size_t>(t)] = kept[static_cast<size_t>(index[static_cast<size_t>(j)])];
    }
    for (int s = 0; s < S; ++s) state[static_cast<size_t>(s)] = kept[static_cast<size_t>(index[static_cast<size_t>(steps + s)])];
  }
  run_steps(cell, px, T, B, reverse, k_begin, T, masks, state, outs);
}

// One layer and direction on the graph path, on `tape`: x [T*B, in] -> outs[t] [B, H]; `state` ends as the
// last step's state.
void run_layer(Tape& tape, Cell& cell, const Var& x, int64_t T, int64_t B, bool reverse, int64_t segment,
               const LengthMasks& masks, std::vector<Var>& state, std::vector<Var>& outs) {
  const Var px = cell.project_inputs(x);  // [T*B, G*H]
  cell.begin_sequence(tape);
  const WeightPacksScope packs(tape);  // Note [Packed weights]: the steps' products on packed weights
  if (segment > 0) {
    for (Parameter* p : cell.parameters()) tape.param(*p);  // before any replay region (Note [Replay region])
    run_recomputed(tape, cell, px, T, B, reverse, segment, masks, state, outs);
  } else {
    run_steps(cell, px, T, B, reverse, 0, T, masks, state, outs);
  }
}

}  // namespace

// ---- Note [Graph batch split] ----
// The stock cells' step loop splits the batch between threads (Note [Batch split] in ops/rnn_sequence.cpp);
// this is the same for the graph path of any cell whose rows_independent() is true. Each OpenMP thread
// records the layer -- input projection, begin_sequence, every step, recompute segments included -- for
// its block of batch rows on a tape of its own (a block tape), with no barrier between steps; oneDNN runs
// a product single-threaded inside the parallel region. On the caller's tape the layer is one node,
// recurrent_split: inputs x [T, B, in], the initial states and the cell's parameters; value [T + S, B, H]
// (the step outputs at t, then the final states), which the consumers read through view slices. Its
// backward seeds every block tape's output nodes with their rows of the gradient, runs each block tape's
// reverse loop on its own thread (into the block tape's own buffers: no two threads write one parameter
// gradient), scatters the x and initial-state gradient rows back, and adds the blocks' parameter gradients
// in block order. Why: the per-step graph costs one fork and join per product and leaves the second thread
// idle through every pointwise op, which dominates custom cells (docs/performance.md).
// The block tapes are kept in the module (split_pool_) and reused once no tape holds their workspace, so
// their arenas and oneDNN primitives stay warm. Bits: a row's ops are the same ops on fewer rows --
// float64 values are the same bits as unsplit, float32 products on fewer rows may round differently --
// and parameter gradients are summed per block, so bits are reproducible for the same thread count
// (tests/test_graph_batch_split.cpp). Anomaly mode, released gradients and module paths carry over to
// the block tapes; a message names the block tape's node and its rows ("recorded in encoder/l0, batch rows
// 0-1 of 4"). The cell's promise is what makes it right: an op that mixes rows would see only its block,
// so the split is opt-in per cell (Cell::rows_independent).
struct SplitBlock {
  std::unique_ptr<Tape> tape;
  RowBlock rows{0, 0};
  NodeId x = 0;                  // the block's rows of x, [T * rows, in]: a leaf
  std::vector<NodeId> states;    // its initial states [rows, H]: leaves
  std::vector<NodeId> outs;      // [T] its step outputs, at t
  std::vector<NodeId> finals;    // [S] its final states
  std::vector<NodeId> params;    // the cell's parameters' nodes, in cell.parameters() order
};

struct SplitWorkspace {
  const Cell* cell = nullptr;  // the layer and direction it served last: it serves them again when free
  std::vector<SplitBlock> blocks;
};

namespace {

// The rows [begin, begin + rows) of each of the `steps` [B, width] blocks of `whole`, and the
// [steps * rows, width] tensor `part` holding them contiguously: copies one into the other (add: +=).
enum class RowsTo { part, whole, whole_add };
void move_rows(RowsTo direction, const Tensor& whole, const Tensor& part, int64_t steps, int64_t B, RowBlock r,
               int64_t width) {
  const size_t element = dtype_size(whole.dtype());
  auto* w = static_cast<char*>(whole.raw());
  auto* p = static_cast<char*>(part.raw());
  const int64_t n = r.rows * width;
  for (int64_t t = 0; t < steps; ++t) {
    char* wt = w + static_cast<size_t>((t * B + r.begin) * width) * element;
    char* pt = p + static_cast<size_t>(t * n) * element;
    if (direction == RowsTo::part) std::memcpy(pt, wt, static_cast<size_t>(n) * element);
    else if (direction == RowsTo::whole) std::memcpy(wt, pt, static_cast<size_t>(n) * element);
    else add_elements(wt, pt, n, whole.dtype());
  }
}

// recurrent_split's backward (Note [Graph batch split]).
void split_backward(BackwardContext& c) {
  const auto& ws = *static_cast<const SplitWorkspace*>(c.attrs().ptr);
  const Tensor& dy = c.dout();  // [T + S, B, H]
  const int64_t T = c.in(0).shape()[0], B = dy.shape()[1], in = c.in(0).shape()[2], H = dy.shape()[2];
  const int S = static_cast<int>(dy.shape()[0] - T);
  // The caller's buffers, made here: block threads only write disjoint rows of them.
  const Tensor* dx = c.needs(0) ? &c.din(0) : nullptr;
  std::vector<const Tensor*> dstate(static_cast<size_t>(S), nullptr);
  for (int s = 0; s < S; ++s)
    if (c.needs(1 + s)) dstate[static_cast<size_t>(s)] = &c.din(1 + s);
  const size_t element = dtype_size(dy.dtype());
  const auto dy_rows = [&](int64_t row, RowBlock r) {  // dy[row, r.begin .. r.begin + r.rows)
    return static_cast<const char*>(dy.raw()) + static_cast<size_t>((row * B + r.begin) * H) * element;
  };
  for_each_block(ws.blocks.size(), [&](size_t i) {
    const SplitBlock& b = ws.blocks[i];
    Tape& tape = *b.tape;
    tape.clear_grads();
    const int64_t n = b.rows.rows * H;
    for (int64_t t = 0; t < T; ++t)
      add_elements(tape.grad_buffer(b.outs[static_cast<size_t>(t)], false).raw(), dy_rows(t, b.rows), n, dy.dtype());
    for (int s = 0; s < S; ++s)
      add_elements(tape.grad_buffer(b.finals[static_cast<size_t>(s)], false).raw(), dy_rows(T + s, b.rows), n,
                   dy.dtype());
    // Note [Released gradients], as the caller's tape: every node but the leaves read below (never released).
    if (tape.release_grads()) tape.set_releasable(std::vector<bool>(tape.size(), true));
    backward_range(tape, 0, static_cast<NodeId>(tape.size()), false);
    tape.set_releasable({});
    if (dx != nullptr && tape.node(b.x).grad.defined())
      move_rows(RowsTo::whole_add, *dx, tape.node(b.x).grad, T, B, b.rows, in);
    for (int s = 0; s < S; ++s) {
      const Tensor& g = tape.node(b.states[static_cast<size_t>(s)]).grad;
      if (dstate[static_cast<size_t>(s)] != nullptr && g.defined())
        move_rows(RowsTo::whole_add, *dstate[static_cast<size_t>(s)], g, 1, B, b.rows, H);
    }
  });
  for (int j = 1 + S; j < c.n_inputs(); ++j) {
    if (!c.needs(j)) continue;
    Tensor& d = c.din(j);
    for (const SplitBlock& b : ws.blocks)  // in block order: the same bits for the same split
      if (const Tensor& g = b.tape->node(b.params[static_cast<size_t>(j - 1 - S)]).grad; g.defined())
        add_elements(d.raw(), g.raw(), d.numel(), d.dtype());
  }
}

// The graph path of one layer and direction split over row blocks (Note [Graph batch split]): like
// run_layer, for x [T, B, in] and the initial `state`; returns the recorded node, [T + S, B, H]: the step
// outputs, then the final states.
Var run_split(Tape& tape, Cell& cell, SplitWorkspace& ws, const std::vector<RowBlock>& rows, const Var& x,
              int64_t segment, bool reverse, const LengthMasks& masks, const std::vector<Var>& state) {
  const int64_t T = x.shape()[0], B = x.shape()[1], in = x.shape()[2], H = cell.hidden_size();
  const int S = static_cast<int>(state.size());
  const DType dtype = x.dtype();
  ws.blocks.resize(rows.size());
  const std::vector<Parameter*> params = cell.parameters();
  std::vector<Var> inputs{x};
  inputs.insert(inputs.end(), state.begin(), state.end());
  for (Parameter* p : params) inputs.push_back(tape.param(*p));  // here, so p.grad exists before the threads
  for (size_t i = 0; i < rows.size(); ++i) {
    SplitBlock& b = ws.blocks[i];
    if (!b.tape) b.tape = std::make_unique<Tape>();
    b.tape->reset();
    dnnl_context(*b.tape);  // made on this thread, once per block tape
    b.tape->set_grad_enabled(tape.grad_enabled());
    b.tape->set_anomaly_detection(tape.anomaly_detection());
    b.tape->set_release_grads(tape.release_grads());
    b.rows = rows[i];
  }
  Tensor value = tape.alloc(Shape{T + S, B, H}, dtype);
  const std::string scope = tape.scope_name(tape.current_scope());
  for_each_block(rows.size(), [&](size_t i) {
    SplitBlock& b = ws.blocks[i];
    Tape& bt = *b.tape;
    const RowBlock r = b.rows;
    const ScopeGuard path(bt, fmt::format("{}{}batch rows {}-{} of {}", scope, scope.empty() ? "" : ", ", r.begin,
                                          r.begin + r.rows - 1, B));
    Tensor x_rows = bt.alloc(Shape{T * r.rows, in}, dtype);
    move_rows(RowsTo::part, x.value(), x_rows, T, B, r, in);
    const Var bx = bt.leaf(x_rows, x.requires_grad());
    std::vector<Var> bstate;
    for (const Var& s : state) bstate.push_back(bt.leaf(s.value().leading(r.begin, r.rows), s.requires_grad()));
    LengthMasks bmasks;
    for (size_t t = 0; t < masks.keep.size(); ++t) {
      bmasks.keep.push_back(bt.constant(masks.keep[t].value().leading(r.begin, r.rows)));
      bmasks.hold.push_back(bt.constant(masks.hold[t].value().leading(r.begin, r.rows)));
    }
    b.x = bx.id();
    b.states.clear();
    for (const Var& s : bstate) b.states.push_back(s.id());
    std::vector<Var> bouts(static_cast<size_t>(T));
    run_layer(bt, cell, bx, T, r.rows, reverse, segment, bmasks, bstate, bouts);
    b.outs.clear();
    for (int64_t t = 0; t < T; ++t) {
      const Var& o = bouts[static_cast<size_t>(t)];
      b.outs.push_back(o.id());
      move_rows(RowsTo::whole, value.leading(t, 1), o.value(), 1, B, r, H);
    }
    b.finals.clear();
    for (int s = 0; s < S; ++s) {
      const Var& f = bstate[static_cast<size_t>(s)];
      b.finals.push_back(f.id());
      move_rows(RowsTo::whole, value.leading(T + s, 1), f.value(), 1, B, r, H);
    }
    b.params.clear();
    for (Parameter* p : params) b.params.push_back(bt.param(*p).id());
  });
  RecordSpec spec{OpKind::recurrent_split, inputs.data(), inputs.size(), value, &split_backward};
  spec.attrs.ptr = &ws;
  return tape.record(spec);
}

}  // namespace

// ---- RecurrentConfig ----

void RecurrentConfig::validate() const {
  UNROLL_CHECK(!cell.empty(), UsageError, "RecurrentConfig: cell is empty (hint: e.g. \"lstm\")");
  UNROLL_CHECK(input_size > 0, UsageError, "RecurrentConfig: input_size must be positive, got {}", input_size);
  UNROLL_CHECK(hidden_size > 0, UsageError, "RecurrentConfig: hidden_size must be positive, got {}", hidden_size);
  UNROLL_CHECK(layers > 0, UsageError, "RecurrentConfig: layers must be positive, got {}", layers);
  UNROLL_CHECK(dropout >= 0 && dropout < 1, UsageError, "RecurrentConfig: dropout {} is outside [0, 1)", dropout);
  UNROLL_CHECK(cell_options.is_object(), UsageError, "RecurrentConfig: cell_options must be a JSON object, got {}",
               cell_options.dump());
}

void to_json(nlohmann::json& j, const RecurrentConfig& c) {
  j = nlohmann::json{{"cell", c.cell},           {"input_size", c.input_size},
                     {"hidden_size", c.hidden_size}, {"layers", c.layers},
                     {"bidirectional", c.bidirectional}, {"dropout", c.dropout},
                     {"cell_options", c.cell_options}};
  if (!c.fused) j["fused"] = false;  // the default is omitted: configs written before the key stay identical
}

void from_json(const nlohmann::json& j, RecurrentConfig& c) {
  const JsonFields f(j, "RecurrentConfig",
                     {"cell", "input_size", "hidden_size", "layers", "bidirectional", "dropout", "cell_options", "fused"});
  c = RecurrentConfig{};
  f.read("cell", c.cell);
  f.read("input_size", c.input_size);
  f.read("hidden_size", c.hidden_size);
  f.read("layers", c.layers);
  f.read("bidirectional", c.bidirectional);
  f.read("dropout", c.dropout);
  f.read("cell_options", c.cell_options);
  f.read("fused", c.fused);
}

// ---- Recurrent ----

void Recurrent::set_engine(RnnEngine engine) { engine_ = engine; }

void Recurrent::set_recompute(int64_t k) {
  UNROLL_CHECK(k >= 0 || k == kRecomputeSqrt, UsageError,
               "Recurrent: recompute segment length must be >= 0 (0 = off) or kRecomputeSqrt, got {}", k);
  recompute_ = k;
}

Recurrent::Recurrent(const RecurrentConfig& config, Rng& rng, const CellRegistry& registry) : config_(config) {
  config_.validate();
  const int D = config_.directions();
  for (int l = 0; l < config_.layers; ++l)
    for (int d = 0; d < D; ++d) {
      const int in = l == 0 ? config_.input_size : config_.output_size();
      std::unique_ptr<Cell> cell = registry.create(config_.cell, in, config_.hidden_size, rng, config_.cell_options);
      UNROLL_CHECK(cell->input_size() == in && cell->hidden_size() == config_.hidden_size, UsageError,
                   "Recurrent: cell '{}' was asked for input {} and hidden {} but has {} and {}", config_.cell, in,
                   config_.hidden_size, cell->input_size(), cell->hidden_size());
      cells_.push_back(cell.get());
      register_module(fmt::format("l{}{}", l, d == 1 ? "_reverse" : ""), std::move(cell));
    }
}

RecurrentOutput Recurrent::forward(Tape& tape, Var x, const std::vector<Var>& initial_states,
                                   const std::vector<int64_t>& lengths, Rng* rng) {
  const int L = config_.layers, D = config_.directions(), H = config_.hidden_size, S = state_count();
  UNROLL_CHECK(&x.tape() == &tape, UsageError, "Recurrent: x was recorded on another tape (or an old epoch)");
  UNROLL_CHECK(x.shape().rank() == 3 && x.shape()[2] == config_.input_size && x.shape()[0] > 0, ShapeError,
               "Recurrent: input must be [T, B, {}] (time-major, T >= 1), got {} (hint: batch-first data needs a "
               "transpose to [T, B, I])",
               config_.input_size, x.shape().str());
  const DType dtype = cells_.front()->w_ih().value.dtype();
  UNROLL_CHECK(x.dtype() == dtype, DTypeError,
               "Recurrent: input is {} but the parameters are {} (hint: convert the model with to(DType) or the "
               "input with Tensor::to)",
               dtype_name(x.dtype()), dtype_name(dtype));
  const int64_t T = x.shape()[0], B = x.shape()[1];
  const Shape state_shape{int64_t{L} * D, B, H};
  UNROLL_CHECK(initial_states.empty() || static_cast<int>(initial_states.size()) == S, UsageError,
               "Recurrent: got {} initial state tensors, cell '{}' has {} state kinds (hint: pass none for zeros)",
               initial_states.size(), config_.cell, S);
  for (size_t s = 0; s < initial_states.size(); ++s)
    UNROLL_CHECK(initial_states[s].shape() == state_shape, ShapeError,
                 "Recurrent: initial state {} has shape {}, expected {} ([layers*directions, batch, hidden])", s,
                 initial_states[s].shape().str(), state_shape.str());
  UNROLL_CHECK(lengths.empty() || static_cast<int64_t>(lengths.size()) == B, ShapeError,
               "Recurrent: got {} lengths for a batch of {} (hint: one length per sequence, or none)", lengths.size(), B);
  bool masked = false;
  for (size_t b = 0; b < lengths.size(); ++b) {
    UNROLL_CHECK(lengths[b] >= 1 && lengths[b] <= T, ShapeError,
                 "Recurrent: length {} of sequence {} is outside [1, {}] (T = input.shape[0])", lengths[b], b, T);
    masked = masked || lengths[b] < T;
  }

  LengthMasks masks;
  if (masked)
    for (int64_t t = 0; t < T; ++t) {
      Tensor m = Tensor::empty(Shape{B, 1}, dtype), n = Tensor::empty(Shape{B, 1}, dtype);
      for (int64_t b = 0; b < B; ++b) {
        m.set(b, t < lengths[static_cast<size_t>(b)] ? 1.0 : 0.0);
        n.set(b, 1.0 - m.at(b));
      }
      masks.keep.push_back(tape.constant(m));
      masks.hold.push_back(tape.constant(n));
    }
  // Note [Recompute segments]: only when something will be differentiated.
  const int64_t segment = !tape.grad_enabled() ? 0
                          : recompute_ == kRecomputeSqrt
                              ? static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(T))))
                              : recompute_;

  RecurrentOutput result;
  std::vector<std::vector<Var>> finals(static_cast<size_t>(S));  // per kind: L*D pieces [1, B, H]
  Var layer_in = x;                                              // [T, B, in_l]
  for (int l = 0; l < L; ++l) {
    // Per direction either a whole h sequence seq[d] [T, B, H] (the fused op's, or the graph batch split's),
    // or the graph path's steps outs[d][t].
    std::vector<Var> seq(static_cast<size_t>(D));
    std::vector<std::vector<Var>> outs(static_cast<size_t>(D), std::vector<Var>(static_cast<size_t>(T)));  // [B, H]
    for (int d = 0; d < D; ++d) {
      Cell& cell = *cells_[static_cast<size_t>(l * D + d)];
      const ScopeGuard scope(tape, fmt::format("l{}{}", l, d == 1 ? "_reverse" : ""));
      std::vector<Var> state;
      if (initial_states.empty()) {
        state = cell.initial_state(tape, B, dtype);
      } else {
        for (int s = 0; s < S; ++s)
          state.push_back(select(initial_states[static_cast<size_t>(s)], l * D + d));
      }
      const std::optional<RnnKind> fused = cell.fused_kind();
      if (config_.fused && fused && dtype == DType::f32 && !masked && segment == 0) {
        // Note [Fused fast path]: one op for the whole sequence; h_T is y's last processed row.
        const Var c0 = S == 2 ? state[1] : Var();
        const Var packed = rnn_sequence(*fused, layer_in, state[0], c0, tape.param(cell.w_ih()), tape.param(cell.w_hh()),
                                        tape.param(cell.b_ih()), tape.param(cell.b_hh()), d == 1, engine_);
        // c_T first: the h rows' slice is then packed's last consumer and may share its gradient memory
        // (Note [Gradient views] in graph/tape.h).
        if (S == 2) finals[1].push_back(slice(packed, 0, T, 1));
        seq[d] = S == 2 ? slice(packed, 0, 0, T) : packed;  // [T, B, H]
        finals[0].push_back(slice(seq[d], 0, d == 0 ? T - 1 : 0, 1));
        continue;
      }
      const std::vector<RowBlock> blocks = batch_split_ && cell.rows_independent() ? split_batch(B)
                                                                                    : std::vector<RowBlock>{};
      if (blocks.size() > 1) {  // Note [Graph batch split]
        // A free workspace, the one this cell used last if free (its block tapes' arenas and primitives
        // are sized for this layer), or a new one.
        std::shared_ptr<SplitWorkspace> workspace;
        for (const auto& w : split_pool_)
          if (w.use_count() == 1 && (!workspace || w->cell == &cell)) workspace = w;
        if (!workspace) workspace = split_pool_.emplace_back(std::make_shared<SplitWorkspace>());
        workspace->cell = &cell;
        tape.keep_alive(workspace);
        const Var y = run_split(tape, cell, *workspace, blocks, layer_in, segment, d == 1, masks, state);
        // Like the fused op's output: the final states' rows first, so that the step outputs' slice, a view
        // of y's first T rows (no copy per step), is y's last consumer (Note [Gradient views]).
        for (int s = 0; s < S; ++s) finals[s].push_back(slice(y, 0, T + s, 1));
        seq[d] = slice(y, 0, 0, T);
        continue;
      } else {
        run_layer(tape, cell, reshape(layer_in, Shape{T * B, layer_in.shape()[2]}), T, B, d == 1, segment, masks,
                  state, outs[d]);
      }
      for (int s = 0; s < S; ++s) finals[s].push_back(reshape(state[s], Shape{1, B, H}));
    }
    const bool all_sequences = std::all_of(seq.begin(), seq.end(), [](const Var& v) { return v.defined(); });
    Var layer_out;  // [T, B, D*H]
    std::vector<Var> steps;
    if (all_sequences) {
      layer_out = D == 1 ? seq[0] : concat(seq, 2);
      if (l + 1 == L)
        for (int64_t t = 0; t < T; ++t) steps.push_back(select(layer_out, t));  // [B, D*H]
    } else {
      for (int d = 0; d < D; ++d)  // a whole sequence beside a per-step direction: cut it into steps
        if (seq[d].defined())
          for (int64_t t = 0; t < T; ++t) outs[d][t] = select(seq[d], t);
      std::vector<Var> rows;
      for (int64_t t = 0; t < T; ++t) {
        const Var step = D == 1 ? outs[0][t] : concat({outs[0][t], outs[1][t]}, 1);  // [B, D*H]
        steps.push_back(step);
        rows.push_back(reshape(step, Shape{1, B, int64_t{D} * H}));
      }
      layer_out = T == 1 ? rows[0] : concat(rows, 0);
    }
    if (l + 1 < L && config_.dropout > 0 && training()) {
      UNROLL_CHECK(rng != nullptr, UsageError,
                   "Recurrent: dropout {} between layers needs an Rng in training mode (hint: pass &rng, or eval())",
                   config_.dropout);
      layer_out = dropout(layer_out, config_.dropout, *rng, true);
    }
    if (l + 1 == L) {
      result.output = layer_out;
      result.steps = std::move(steps);
    }
    layer_in = layer_out;
  }
  for (int s = 0; s < S; ++s)
    result.final_states.push_back(finals[s].size() == 1 ? finals[s][0] : concat(finals[s], 0));
  return result;
}

// ---- TruncatedBptt ----

TruncatedBptt::TruncatedBptt(Recurrent& model, int k) : model_(model), k_(k) {
  UNROLL_CHECK(k > 0, UsageError, "TruncatedBptt: k must be positive, got {}", k);
  UNROLL_CHECK(!model.config().bidirectional, UsageError,
               "TruncatedBptt: the model is bidirectional (hint: truncated BPTT carries state forward in time, "
               "which a reverse direction cannot)");
}

RecurrentOutput TruncatedBptt::forward(Tape& tape, Var x, Rng* rng) {
  UNROLL_CHECK(x.shape().rank() == 3, ShapeError, "TruncatedBptt: input must be [T, B, I], got {}", x.shape().str());
  const int64_t T = x.shape()[0], B = x.shape()[1];
  std::vector<Var> init;
  if (!state_.empty()) {
    UNROLL_CHECK(state_[0].shape()[1] == B, ShapeError,
                 "TruncatedBptt: batch {} differs from the carried state's batch {} (state shape {}; hint: call "
                 "reset() when the batch changes)",
                 B, state_[0].shape()[1], state_[0].shape().str());
    for (const Tensor& s : state_) init.push_back(tape.constant(s));
  }
  RecurrentOutput result, chunk_result;
  std::vector<Var> pieces;
  for (int64_t start = 0; start < T; start += k_) {
    const int64_t len = std::min<int64_t>(k_, T - start);
    chunk_result = model_.forward(tape, len == T ? x : slice(x, 0, start, len), init, {}, rng);
    pieces.push_back(chunk_result.output);
    result.steps.insert(result.steps.end(), chunk_result.steps.begin(), chunk_result.steps.end());
    init.clear();
    for (const Var& s : chunk_result.final_states) init.push_back(detach(s));  // the cut
  }
  result.output = pieces.size() == 1 ? pieces[0] : concat(pieces, 0);
  result.final_states = chunk_result.final_states;
  state_.clear();
  for (const Var& s : chunk_result.final_states) state_.push_back(s.value().clone());  // survives tape.reset()
  return result;
}

}  // namespace unroll
