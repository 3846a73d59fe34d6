// SPDX-License-Identifier: Apache-2.0
// What lives here: the batch_split strategy (strategies.h), its op, recurrent_split, forward and backward
// side by side, and the pool of block tapes it records on.
//
// Note [Graph batch split]: the stock cells' step loop splits the batch between threads (Note [Batch
// split] in ops/rnn_sequence.cpp); this is the same for the graph path of any cell whose rows_independent()
// is true. Each OpenMP thread records the layer -- input projection, begin_sequence, every step, recompute
// segments included -- for its block of batch rows on a tape of its own (a block tape), with no barrier
// between steps; oneDNN runs a product single-threaded inside the parallel region. On the caller's tape the
// layer is one node, recurrent_split: inputs x [T, B, in], the initial states and the cell's parameters;
// value [T + S, B, H] (the step outputs at t, then the final states), which the consumers read through
// view slices. Its backward seeds every block tape's output nodes with their rows of the gradient, runs
// each block tape's reverse loop on its own thread (into the block tape's own buffers: no two threads
// write one parameter gradient), scatters the x and initial-state gradient rows back, and adds the blocks'
// parameter gradients in block order. Why: the per-step graph costs one fork and join per product and
// leaves the second thread idle through every pointwise op, which dominates custom cells
// (docs/performance.md). The block tapes are kept in the module (SplitWorkspacePool) and reused once no
// tape holds their workspace, so their arenas and oneDNN primitives stay warm. Bits: a row's ops are the
// same ops on fewer rows -- float64 values are the same bits as unsplit, float32 products on fewer rows may
// round differently -- and parameter gradients are summed per block, so bits are reproducible for the same
// thread count (tests/test_graph_batch_split.cpp). Anomaly mode, released gradients and module paths carry
// over to the block tapes; a message names the block tape's node and its rows ("recorded in encoder/l0,
// batch rows 0-1 of 4"). The cell's promise is what makes it right: an op that mixes rows would see only
// its block, so the split is opt-in per cell (Cell::rows_independent).
#include <cstring>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "autodiff/backward.h"
#include "models/strategies/steps.h"
#include "models/strategies/strategies.h"
#include "ops/batch_split.h"
#include "ops/gemm.h"
#include "ops/ops.h"

namespace unroll::strategies {

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

SplitWorkspace& SplitWorkspacePool::acquire(Tape& tape, const Cell& cell) {
  std::shared_ptr<SplitWorkspace> workspace;
  for (const auto& w : pool_)  // free: no tape holds a share
    if (w.use_count() == 1 && (!workspace || w->cell == &cell)) workspace = w;
  if (!workspace) workspace = pool_.emplace_back(std::make_shared<SplitWorkspace>());
  workspace->cell = &cell;
  tape.keep_alive(workspace);
  return *workspace;
}

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

// y [T + S, B, H] = each block tape's step outputs, then final states, in its rows
// dx, dstate += each block tape's backward, in its rows;  dparameter += the blocks' gradients, in block order
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

// Readies one block tape per row block (made on this thread, once per block tape), with the caller's modes.
void prepare_blocks(SplitWorkspace& ws, const std::vector<RowBlock>& rows, const Tape& tape) {
  ws.blocks.resize(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    SplitBlock& b = ws.blocks[i];
    if (!b.tape) b.tape = std::make_unique<Tape>();
    b.tape->reset();
    dnnl_context(*b.tape);
    b.tape->set_grad_enabled(tape.grad_enabled());
    b.tape->set_anomaly_detection(tape.anomaly_detection());
    b.tape->set_release_grads(tape.release_grads());
    b.rows = rows[i];
  }
}

// Records block b's rows of the layer on its block tape (on the block's own thread) and writes its step
// outputs and final states into its rows of `value` [T + S, B, H].
void record_block(SplitBlock& b, const DirectionInput& in, const std::vector<Parameter*>& params,
                  const std::string& scope, const Tensor& value) {
  const Var& x = in.x;
  const int64_t T = x.shape()[0], B = x.shape()[1], width = x.shape()[2], H = in.cell.hidden_size();
  const DType dtype = x.dtype();
  Tape& bt = *b.tape;
  const RowBlock r = b.rows;
  const ScopeGuard path(bt, fmt::format("{}{}batch rows {}-{} of {}", scope, scope.empty() ? "" : ", ", r.begin,
                                        r.begin + r.rows - 1, B));
  Tensor x_rows = bt.alloc(Shape{T * r.rows, width}, dtype);
  move_rows(RowsTo::part, x.value(), x_rows, T, B, r, width);
  const Var bx = bt.leaf(x_rows, x.requires_grad());
  std::vector<Var> bstate;
  for (const Var& s : in.state) bstate.push_back(bt.leaf(s.value().leading(r.begin, r.rows), s.requires_grad()));
  LengthMasks bmasks;
  for (size_t t = 0; t < in.masks.keep.size(); ++t) {
    bmasks.keep.push_back(bt.constant(in.masks.keep[t].value().leading(r.begin, r.rows)));
    bmasks.hold.push_back(bt.constant(in.masks.hold[t].value().leading(r.begin, r.rows)));
  }
  b.x = bx.id();
  b.states.clear();
  for (const Var& s : bstate) b.states.push_back(s.id());
  std::vector<Var> bouts(static_cast<size_t>(T));
  record_graph_layer(bt, in.cell, bx, T, r.rows, in.reverse, in.segment, bmasks, bstate, bouts);
  b.outs.clear();
  for (int64_t t = 0; t < T; ++t) {
    const Var& o = bouts[static_cast<size_t>(t)];
    b.outs.push_back(o.id());
    move_rows(RowsTo::whole, value.leading(t, 1), o.value(), 1, B, r, H);
  }
  b.finals.clear();
  for (size_t s = 0; s < bstate.size(); ++s) {
    const Var& f = bstate[s];
    b.finals.push_back(f.id());
    move_rows(RowsTo::whole, value.leading(T + static_cast<int64_t>(s), 1), f.value(), 1, B, r, H);
  }
  b.params.clear();
  for (Parameter* p : params) b.params.push_back(bt.param(*p).id());
}

// recurrent_split's forward: the graph path of one layer and direction split over row blocks, for x
// [T, B, in] and the initial states; returns the recorded node, [T + S, B, H]: the step outputs, then
// the final states.
Var record_split(const DirectionInput& in, SplitWorkspace& ws, const std::vector<RowBlock>& rows) {
  Tape& tape = in.tape;
  const int64_t T = in.x.shape()[0], B = in.x.shape()[1], H = in.cell.hidden_size();
  const int S = static_cast<int>(in.state.size());
  const std::vector<Parameter*> params = in.cell.parameters();
  std::vector<Var> inputs{in.x};
  inputs.insert(inputs.end(), in.state.begin(), in.state.end());
  for (Parameter* p : params) inputs.push_back(tape.param(*p));  // here, so p.grad exists before the threads
  prepare_blocks(ws, rows, tape);
  Tensor value = tape.alloc(Shape{T + S, B, H}, in.x.dtype());
  const std::string scope = tape.scope_name(tape.current_scope());
  for_each_block(rows.size(), [&](size_t i) { record_block(ws.blocks[i], in, params, scope, value); });
  RecordSpec spec{OpKind::recurrent_split, inputs.data(), inputs.size(), value, &split_backward};
  spec.attrs.ptr = &ws;
  return tape.record(spec);
}

}  // namespace

DirectionOutput run_batch_split(const DirectionInput& in, SplitWorkspacePool& pool) {
  const int64_t T = in.x.shape()[0];
  const Var y = record_split(in, pool.acquire(in.tape, in.cell), split_batch(in.x.shape()[1]));
  DirectionOutput out;
  // Like the fused op's output: the final states' rows first, so that the step outputs' slice, a view of
  // y's first T rows (no copy per step), is y's last consumer (Note [Gradient views] in graph/grad_memory.h).
  for (size_t s = 0; s < in.state.size(); ++s) out.finals.push_back(slice(y, 0, T + static_cast<int64_t>(s), 1));
  out.sequence = slice(y, 0, 0, T);
  return out;
}

}  // namespace unroll::strategies
