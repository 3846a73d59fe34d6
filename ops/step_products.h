// SPDX-License-Identifier: Apache-2.0
// What lives here: StepProducts, the per-step product of a step loop with one weight matrix for each row
// block of Note [Batch split] (ops/rnn_step_loop.cpp), shared by the stock step loop and the cell-program
// loop (ops/cell_program_loop.cpp). Internal to ops/.
#pragma once
#include <type_traits>
#include <vector>

#include "graph/tape.h"
#include "ops/batch_split.h"
#include "ops/gemm.h"

namespace unroll {

// The product with one weight matrix at every step (h W_hh^T forward, da W_hh backward), for each row
// block of Note [Batch split]. float32 packs the weights once per sequence (once per distinct block
// height) into the layout oneDNN's matmul prefers for the small M (with plain weights it would repack them
// on every call), and gives each block its own runner; float64 runs the reference kernel on them as they
// are. Made on the calling thread; block i's product may then run on thread i.
template <class T>
class StepProducts {
 public:
  StepProducts(Tape& tape, const GemmShape& per_row, const T* w, const std::vector<RowBlock>& blocks) : w_(w) {
    PackedWeights packed;  // the last block height's copy (the runners hold theirs)
    for (const RowBlock& blk : blocks) {
      GemmShape shape = per_row;
      shape.m = blk.rows;
      shapes_.push_back(shape);
      if constexpr (std::is_same_v<T, float>) {
        DnnlContext& dnnl = dnnl_context(tape);
        if (!packed.memory || !(packed.shape == shape)) packed = dnnl.pack_weights(shape, w);
        runners_.push_back(dnnl.runner(packed));
      }
    }
  }
  void operator()(size_t block, const T* a, T* c, const T* bias = nullptr) const {
    if constexpr (std::is_same_v<T, float>)
      runners_[block](a, c, bias);
    else
      gemm_reference(shapes_[block], a, w_, c, bias);
  }

 private:
  const T* w_;
  std::vector<GemmShape> shapes_;
  std::vector<GemmRunner> runners_;
};

}  // namespace unroll
