// SPDX-License-Identifier: Apache-2.0
// What lives here: the engine behind cell_program_sequence (ops/cell_program_sequence.cpp), internal to
// ops/: the interpreter of a CellProgram over chunks of units (ops/cell_program_interp.cpp) and the loop
// over the steps around it (ops/cell_program_loop.cpp), T = float or double.
//
// Note [Program step loop]: the step loop of Note [Step loop] (ops/rnn_step_loop.cpp) for ANY cell program
// (Note [Cell program]): one GEMM for the input projection of all steps, each row block's own product
// with the packed W_hh per step (Note [Batch split]), then the program as one pass over the block's rows
// in chunks of at most kChunk units: every instruction is one vectorised loop over the chunk, its
// registers live in a small scratch that stays in L1 (numexpr-style). aux keeps
//   gates  [T, B, G*H]  gx (folded: gx + gh, the gate sums, when uses_gate_sums_only()), overwritten in
//                       backward by d gate_x (folded: d of the sums); a folded gate whose sum only feeds
//                       one sigmoid / tanh / exp holds that activation after forward (Note [Program adjoints]);
//   gh     [T, B, G*H]  only when not folded: gh = h W_hh^T + b_hh, overwritten by d gate_h;
//   states [S-1, T, B, H]  the new states 1..S-1 of every step (h is the op's output).
// Backward recomputes the program's registers per chunk from those and the previous states, then runs
// reverse mode over the straight-line program (a reverse loop over its instructions), so per chunk it
// yields d gate_x, d gate_h, d(previous states) and d(vector params). Vector-param and bias gradients are
// summed per row over the steps, then over the rows in order, so the bits do not depend on the split.
// Weight gradients are single GEMMs over all steps, as in the stock step loop.
#pragma once
#include <cstdint>
#include <vector>

#include "graph/tape.h"
#include "ops/cell_program.h"

namespace unroll::cellprog {

inline constexpr int64_t kChunk = 128;  // units per interpreted chunk: a register is kChunk values

// A program prepared for the engine: when folded, each add of gate_x k and gate_h k becomes an alias of
// gate_x k (which then holds the gate sum), and gate_h registers are never read.
enum class Op : uint8_t { gate_x, gate_h, state, param, constant, alias, add, sub, mul, div, neg, sigmoid, tanh, relu, exp };
struct Instr {
  Op op;
  int32_t a, b, index;
  double value;
};
struct Plan {
  int32_t gates, states, params;
  bool folded;
  std::vector<Instr> code;
  std::vector<int32_t> outputs;
};
Plan make_plan(const CellProgram& program);

// Where a chunk's leaves are: rows of one step, units j0 .. j0 + n - 1 (the pointers start at j0).
template <class T>
struct ChunkIn {
  int64_t n;
  const T* gx;                    // gate block k at gx + k H
  const T* gh;                    // the same for gh (null when folded)
  int64_t H;
  std::vector<const T*> states;   // the previous states
  std::vector<const T*> params;   // the vector parameters
};
// Backward's per-chunk targets.
template <class T>
struct ChunkGrads {
  std::vector<const T*> seeds;    // d(new state k) of the chunk
  const T* seed_h_extra;          // added to seeds[0] (dy + dh_next); may be null
  T* dgx;                         // d gate_x, block k at dgx + k H (overwritten)
  T* dgh;                         // d gate_h, the same (not folded; overwritten)
  std::vector<T*> dstates;        // d(previous state k) (overwritten)
  std::vector<T*> dparams;        // += d(param k)
  std::vector<const T*> saved;    // the chunk's new states as forward stored them (the same bits)
};

template <class T>
class Interpreter {
 public:
  explicit Interpreter(const Plan& plan);
  // Runs the program on one chunk; output(k) then points at new state k's n values. With dst, new state k
  // also lands in dst[k] (n values each, apart from the leaves): computed there, or else copied.
  void forward(const ChunkIn<T>& in, T* const* dst = nullptr);
  const T* output(int32_t k) const { return val_[static_cast<size_t>(plan_->outputs[static_cast<size_t>(k)])]; }
  // Recomputes what the sweep reads (the new states are g.saved), then sweeps back: the gradients of g.
  void backward(const ChunkIn<T>& in, const ChunkGrads<T>& g);

 private:
  // forward, or with saved: only the registers backward reads, the new states taken from saved.
  void run(const ChunkIn<T>& in, T* const* dst, const T* const* saved);
  const Plan* plan_;
  std::vector<T> scratch_, adj_scratch_;  // [R, kChunk] each
  std::vector<const T*> val_;             // register r's values (scratch, a constant, or a leaf's source)
  std::vector<int32_t> out_of_;           // the new state register r is first, or -1
  // Backward (Note [Program adjoints] in ops/cell_program_interp.cpp): register r's adjoint is slot
  // slot_[r]'s, held at adj_[slot] (scratch, a destination, or a buffer taken over from a reader).
  std::vector<int32_t> slot_;
  std::vector<T*> adj_;
  std::vector<char> touched_;             // backward: slot written yet
  std::vector<char> fixed_;               // backward: slot's buffer is a destination (never handed on)
  std::vector<char> direct_;              // a gate leaf whose adjoint accumulates in its destination
  std::vector<char> needed_;              // backward reads the register's value (given the saved states)
  std::vector<char> inplace_;             // an activation kept in its gate's block of aux
};

// The op's sizes and arrays.
struct Dims {
  bool reverse;
  int64_t T, B, I, H, G, S, P;
  int64_t time(int64_t k) const { return reverse ? T - 1 - k : k; }  // the k-th step processed
};
int64_t aux_elements(const Plan& plan, const Dims& d);

template <class T>
struct Inputs {
  const T *x, *w_ih, *w_hh, *b_ih, *b_hh;
  std::vector<const T*> states0, params;
};
template <class T>
struct Grads {  // null: not needed; gradients are ADDED
  T *dx, *dw_ih, *dw_hh, *db_ih, *db_hh;
  std::vector<T*> dstates0, dparams;
};

// out [T + S - 1, B, H]: h of every step, then the final states 1 .. S-1; aux [aux_elements].
template <class T>
void loop_forward(Tape& tape, const Plan& plan, const Dims& d, const Inputs<T>& in, T* out, T* aux);
// BPTT over aux, which it overwrites (the caller passes a copy when it must stay).
template <class T>
void loop_backward(Tape& tape, const Plan& plan, const Dims& d, const Inputs<T>& in, const T* out, T* aux,
                   const T* dout, const Grads<T>& g);

}  // namespace unroll::cellprog
