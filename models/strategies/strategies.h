// SPDX-License-Identifier: Apache-2.0
// What lives here: the five ways Recurrent::forward runs one layer and direction, behind one door:
// choose_strategy picks one, and each is a function in a file of its own:
//   fused_sequence       one rnn_sequence op for the whole sequence     fused_sequence.cpp
//   program_sequence     one cell_program_sequence op for the whole     program_sequence.cpp
//                        sequence of a cell that declares its program
//   graph_steps          T step() calls recorded on the caller's tape   graph_steps.cpp
//   batch_split          graph steps per block of batch rows, one       batch_split.cpp (op recurrent_split,
//                        block tape per OpenMP thread                   Note [Graph batch split])
//   recomputed_segments  graph steps, all but the last segment kept     recompute.cpp (op recompute_segment,
//                        as a few values and recorded again in backward Note [Recompute segments])
// Internal to models/: the names live in namespace unroll::strategies.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "graph/tape.h"
#include "models/cell.h"

namespace unroll::strategies {

struct LengthMasks;  // steps.h

enum class Strategy { fused_sequence, graph_steps, batch_split, recomputed_segments, program_sequence };
inline constexpr const char* kStrategyNames[] = {"fused_sequence", "graph_steps", "batch_split",
                                                  "recomputed_segments", "program_sequence"};
inline const char* strategy_name(Strategy s) { return kStrategyNames[static_cast<int>(s)]; }

// What decides the strategy of one layer and direction.
struct StrategyQuery {
  const Cell& cell;
  DType dtype;
  int64_t batch;
  int64_t segment;  // the recompute segment length, 0 when off (or nothing is differentiated)
  bool fused;       // RecurrentConfig::fused
  bool split;       // Recurrent::batch_split()
  bool masked;      // some sequence is shorter than T (the program engine cannot hold rows yet)
};

// The choice (choose.cpp): the fused op when the config allows it, the cell has a fused kind, the dtype
// is float32 and recompute is off -- masked or not (Note [Fused fast path] in models/cell.h); else
// the program's op when the cell declares a cell program, float32, nothing masked, no recompute (Note [Cell program]); else
// the batch split when the cell's rows are independent and there is more than one OpenMP thread and row
// (its block tapes then record graph steps or recomputed segments themselves); else recomputed segments
// when a segment length is set; else graph steps.
Strategy choose_strategy(const StrategyQuery& q);

// One layer and direction, as every strategy reads it.
struct DirectionInput {
  Tape& tape;
  Cell& cell;
  Var x;                       // [T, B, in]
  std::vector<Var> state;      // the initial states, state_count() of [B, H]
  bool reverse;
  const LengthMasks& masks;    // Note [Variable lengths]
  int64_t segment;             // Note [Recompute segments]: 0 = off
};

// What a strategy gives back: the h sequence as one node, or one output node per step; and the final states.
struct DirectionOutput {
  Var sequence;               // [T, B, H], or undefined when `steps` holds the outputs
  std::vector<Var> steps;     // T entries [B, H], at t (empty when `sequence` is defined)
  std::vector<Var> finals;    // per state kind, [1, B, H]
};

class SplitWorkspacePool;

DirectionOutput run_fused_sequence(const DirectionInput& in, RnnKind kind, RnnEngine engine);
DirectionOutput run_program_sequence(const DirectionInput& in);
DirectionOutput run_graph_steps(const DirectionInput& in);
DirectionOutput run_batch_split(const DirectionInput& in, SplitWorkspacePool& pool);
DirectionOutput run_recomputed_segments(const DirectionInput& in);

// The graph path of one layer and direction on `tape` (graph_steps.cpp), shared by the graph strategies
// and the batch split's block tapes: x [T*B, in] -> outs[t] [B, H]; `state` ends as the last step's state.
// segment > 0 records recomputed segments (record_recomputed), 0 plain steps.
void record_graph_layer(Tape& tape, Cell& cell, const Var& x, int64_t T, int64_t B, bool reverse, int64_t segment,
                        const LengthMasks& masks, std::vector<Var>& state, std::vector<Var>& outs);

// Graph steps (segment 0) or recomputed segments on the caller's tape: x [T, B, in] -> T outputs [B, H].
DirectionOutput record_graph_direction(const DirectionInput& in, int64_t segment);

// Records the steps of px [T*B, G*H] in segments of k (recompute.cpp); arguments as run_steps (steps.h).
void record_recomputed(Tape& tape, Cell& cell, SequenceContext& seq, const Var& px, int64_t T, int64_t B,
                       bool reverse, int64_t k, const LengthMasks& masks, std::vector<Var>& state,
                       std::vector<Var>& outs);

struct SplitWorkspace;  // batch_split.cpp

// Note [Graph batch split]: the block tapes of a module, one workspace per split layer and direction
// recorded on a tape that is still alive (that tape holds a share until it is reset); free ones are
// reused, so their arenas and oneDNN primitives stay warm.
class SplitWorkspacePool {
 public:
  // A free workspace -- the one this cell used last if free (its block tapes are sized for this layer),
  // else the first free one, else a new one -- marked busy until `tape` is reset.
  SplitWorkspace& acquire(Tape& tape, const Cell& cell);

 private:
  std::vector<std::shared_ptr<SplitWorkspace>> pool_;
};

}  // namespace unroll::strategies
