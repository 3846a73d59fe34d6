// SPDX-License-Identifier: Apache-2.0
// dnnl_rnn_cells: the per-cell fused RNN primitive setup of dnnl_bench (see
// dnnl_rnn_cells.h): descriptors, primitive descriptors, memories, stacking.

#include "dnnl_rnn_cells.h"

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <stdexcept>

namespace dnnl_bench {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

const std::vector<CellInfo> kCells = {
        {Cell::lstm, "lstm", 4, 4, true},
        {Cell::lbr_gru, "gru", 3, 4, false},
        {Cell::gru_cho, "gru_cho", 3, 3, false},
        {Cell::rnn_tanh, "rnn", 1, 1, false},
};

namespace {

std::mt19937 &rng() {
    static std::mt19937 gen(42);
    return gen;
}

} // namespace

void fill_uniform(memory &mem, float bound) {
    std::uniform_real_distribution<float> dist(-bound, bound);
    auto *p = static_cast<float *>(mem.get_data_handle());
    const size_t n = mem.get_desc().get_size() / sizeof(float);
    for (size_t i = 0; i < n; ++i) p[i] = dist(rng());
}

void fill_zero(memory &mem) {
    std::memset(mem.get_data_handle(), 0, mem.get_desc().get_size());
}

namespace {

struct RnnDescs {
    memory::desc src_layer, weights_layer, weights_iter, bias, dst_layer;
    memory::desc none; // zero desc: optional argument not used
};

RnnDescs make_descs(const CellInfo &ci, const SegmentShape &s) {
    RnnDescs d;
    d.src_layer = memory::desc({s.seq_len, s.batch, s.input}, dt::f32, tag::tnc);
    d.dst_layer = memory::desc({s.seq_len, s.batch, s.hidden}, dt::f32, tag::tnc);
    d.weights_layer = memory::desc(
            {s.layers, 1, s.input, ci.gates, s.hidden}, dt::f32, tag::any);
    d.weights_iter = memory::desc(
            {s.layers, 1, s.hidden, ci.gates, s.hidden}, dt::f32, tag::any);
    d.bias = memory::desc({s.layers, 1, ci.bias_gates, s.hidden}, dt::f32, tag::ldgo);
    return d;
}

template <typename Fwd, typename Bwd, bool kHasCState, typename... Extra>
RnnPds make_pds_with(
        const dnnl::engine &eng, const RnnDescs &d, Extra... extra_leading_args) {
    constexpr auto dir = dnnl::rnn_direction::unidirectional_left2right;
    const auto &n = d.none;
    auto build = [&](auto fwd_desc, auto bwd_desc) {
        typename Fwd::primitive_desc fwd_pd(fwd_desc, eng);
        typename Bwd::primitive_desc bwd_pd(bwd_desc, eng, fwd_pd);
        return RnnPds {fwd_pd, bwd_pd};
    };
    // Backward diff descs mirror the forward descs (weights: any).
    if constexpr (kHasCState) {
        return build(typename Fwd::desc(dnnl::prop_kind::forward_training,
                             extra_leading_args..., dir, d.src_layer, n, n,
                             d.weights_layer, d.weights_iter, d.bias,
                             d.dst_layer, n, n),
                typename Bwd::desc(dnnl::prop_kind::backward,
                        extra_leading_args..., dir, d.src_layer, n, n,
                        d.weights_layer, d.weights_iter, d.bias, d.dst_layer,
                        n, n, d.src_layer, n, n, d.weights_layer,
                        d.weights_iter, d.bias, d.dst_layer, n, n));
    } else {
        return build(typename Fwd::desc(dnnl::prop_kind::forward_training,
                             extra_leading_args..., dir, d.src_layer, n,
                             d.weights_layer, d.weights_iter, d.bias, d.dst_layer,
                             n),
                typename Bwd::desc(dnnl::prop_kind::backward,
                        extra_leading_args..., dir, d.src_layer, n,
                        d.weights_layer, d.weights_iter, d.bias, d.dst_layer, n,
                        d.src_layer, n, d.weights_layer, d.weights_iter, d.bias,
                        d.dst_layer, n));
    }
}

RnnPds make_pds(const dnnl::engine &eng, const CellInfo &ci, const SegmentShape &s) {
    const RnnDescs d = make_descs(ci, s);
    switch (ci.cell) {
        case Cell::lstm:
            return make_pds_with<dnnl::lstm_forward, dnnl::lstm_backward, true>(eng, d);
        case Cell::lbr_gru:
            return make_pds_with<dnnl::lbr_gru_forward, dnnl::lbr_gru_backward, false>(
                    eng, d);
        case Cell::gru_cho:
            return make_pds_with<dnnl::gru_forward, dnnl::gru_backward, false>(eng, d);
        case Cell::rnn_tanh:
            return make_pds_with<dnnl::vanilla_rnn_forward, dnnl::vanilla_rnn_backward,
                    false>(eng, d, dnnl::algorithm::eltwise_tanh);
    }
    throw std::logic_error("unknown cell");
}

// All execute() arguments an RNN primitive can take (optional ones are
// skipped when the primitive descriptor reports a zero desc for them).
const std::vector<int> kForwardArgs = {DNNL_ARG_SRC_LAYER, DNNL_ARG_WEIGHTS_LAYER,
        DNNL_ARG_WEIGHTS_ITER, DNNL_ARG_BIAS, DNNL_ARG_DST_LAYER, DNNL_ARG_WORKSPACE};
const std::vector<int> kDiffArgs = {DNNL_ARG_DIFF_SRC_LAYER,
        DNNL_ARG_DIFF_WEIGHTS_LAYER, DNNL_ARG_DIFF_WEIGHTS_ITER, DNNL_ARG_DIFF_BIAS,
        DNNL_ARG_DIFF_DST_LAYER};

bool is_weights_arg(int arg) {
    return arg == DNNL_ARG_WEIGHTS_LAYER || arg == DNNL_ARG_WEIGHTS_ITER;
}

memory::desc md_of(const dnnl::rnn_primitive_desc_base &pd, int arg) {
    return pd.query_md(dnnl::query::exec_arg_md, arg);
}

// Creates the primitives and memories of one segment.  `src_layer`, if given,
// is the previous segment's dst_layer memory (stacking).  User weights are
// created in ldigo and reordered once into each primitive's chosen layout.
Segment make_segment(const dnnl::engine &eng, dnnl::stream &strm,
        const CellInfo &ci, const SegmentShape &s, const memory *src_layer) {
    Segment seg;
    seg.pds = make_pds(eng, ci, s);
    seg.fwd = dnnl::primitive(seg.pds.fwd);
    seg.bwd = dnnl::primitive(seg.pds.bwd);

    const float bound = 1.f / std::sqrt(static_cast<float>(s.hidden));
    std::map<int, memory> user_weights;
    auto user_weight = [&](int arg) -> memory & {
        auto it = user_weights.find(arg);
        if (it == user_weights.end()) {
            const memory::dim in = arg == DNNL_ARG_WEIGHTS_LAYER ? s.input : s.hidden;
            memory m({{s.layers, 1, in, ci.gates, s.hidden}, dt::f32, tag::ldigo}, eng);
            fill_uniform(m, bound);
            it = user_weights.emplace(arg, m).first;
        }
        return it->second;
    };
    // A memory for `arg` in the layout `pd` wants, initialised once.
    auto materialize = [&](const dnnl::rnn_primitive_desc_base &pd, int arg) {
        const memory::desc md = md_of(pd, arg);
        if (arg == DNNL_ARG_SRC_LAYER && src_layer) return *src_layer;
        memory m(md, eng);
        if (is_weights_arg(arg)) {
            dnnl::reorder(user_weight(arg), m).execute(strm, user_weight(arg), m);
            strm.wait();
        } else if (arg == DNNL_ARG_WORKSPACE || arg == DNNL_ARG_DST_LAYER) {
            fill_zero(m); // written by the forward pass
        } else {
            fill_uniform(m, arg == DNNL_ARG_BIAS ? bound : 1.f);
        }
        return m;
    };

    for (int arg : kForwardArgs) {
        if (md_of(seg.pds.fwd, arg).get_size() == 0) continue;
        seg.fwd_args.emplace(arg, materialize(seg.pds.fwd, arg));
    }
    // Backward reuses forward memories (same layout) and the workspace;
    // weights get their own copy if the backward layout differs.
    for (int arg : kForwardArgs) {
        const memory::desc md = md_of(seg.pds.bwd, arg);
        if (md.get_size() == 0) continue;
        auto it = seg.fwd_args.find(arg);
        const bool reuse = it != seg.fwd_args.end()
                && (it->second.get_desc() == md || arg == DNNL_ARG_WORKSPACE);
        seg.bwd_args.emplace(arg, reuse ? it->second : materialize(seg.pds.bwd, arg));
    }
    for (int arg : kDiffArgs) {
        const memory::desc md = md_of(seg.pds.bwd, arg);
        if (md.get_size() == 0) continue;
        memory m(md, eng);
        if (arg == DNNL_ARG_DIFF_DST_LAYER) fill_uniform(m, 1.f); else fill_zero(m);
        seg.bwd_args.emplace(arg, m);
    }
    return seg;
}

} // namespace

std::vector<Segment> make_stack(const dnnl::engine &eng, dnnl::stream &strm,
        const CellInfo &ci, const std::vector<SegmentShape> &shapes) {
    std::vector<Segment> segs;
    for (const SegmentShape &s : shapes) {
        const memory *below = segs.empty() ? nullptr
                                           : &segs.back().fwd_args.at(DNNL_ARG_DST_LAYER);
        segs.push_back(make_segment(eng, strm, ci, s, below));
    }
    // Stacking in backward: the upper segment's diff_src_layer is the lower
    // segment's diff_dst_layer.
    for (size_t i = 1; i < segs.size(); ++i)
        segs[i - 1].bwd_args[DNNL_ARG_DIFF_DST_LAYER]
                = segs[i].bwd_args.at(DNNL_ARG_DIFF_SRC_LAYER);
    return segs;
}

} // namespace dnnl_bench
