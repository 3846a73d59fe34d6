// SPDX-License-Identifier: Apache-2.0
// dnnl_rnn_cells: the oneDNN side of dnnl_bench's recurrent part.
//
// The cell table (lstm, gru = lbr_gru, gru_cho, rnn = vanilla tanh), and the
// setup of one stack of fused RNN primitives (forward_training + backward) with
// all their memories: user weights in ldigo, reordered once into the layouts
// the primitives choose (format_tag::any), so nothing but execute() is left to
// time.  Zero initial state (src_iter omitted), final state not requested
// (dst_iter omitted).  Also the memory fills shared with the matmul part: one
// seeded generator, so the data filled does not depend on how the code is split.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <unordered_map>
#include <vector>

namespace dnnl_bench {

enum class Cell { lstm, lbr_gru, gru_cho, rnn_tanh };

struct CellInfo {
    Cell cell;
    const char *name;
    int gates;        // G in the ldigo weights
    int bias_gates;   // lbr_gru has one extra bias block
    bool has_c_state; // LSTM cell state
};

extern const std::vector<CellInfo> kCells;

// Shapes of one RNN primitive: `layers` stacked unidirectional layers with
// input width `input` (oneDNN requires input == hidden when layers > 1).
struct SegmentShape {
    dnnl::memory::dim seq_len, batch, input, hidden, layers;
};

// Forward and backward primitive descriptors for one cell type, behind the
// common rnn_primitive_desc_base so the rest of the code is cell-agnostic.
struct RnnPds {
    dnnl::rnn_primitive_desc_base fwd, bwd;
};

// One RNN primitive pair (a stack of layers) with all its memories.
struct Segment {
    RnnPds pds;
    dnnl::primitive fwd, bwd;
    std::unordered_map<int, dnnl::memory> fwd_args, bwd_args;
};

// The segments of one network, bottom first, wired to each other: each
// segment's src_layer is the one below's dst_layer, and in backward the upper
// segment's diff_src_layer is the lower one's diff_dst_layer.
std::vector<Segment> make_stack(const dnnl::engine &eng, dnnl::stream &strm,
        const CellInfo &ci, const std::vector<SegmentShape> &shapes);

// Uniform in [-bound, bound] from the program's one generator (seed 42).
void fill_uniform(dnnl::memory &mem, float bound);
void fill_zero(dnnl::memory &mem);

} // namespace dnnl_bench
