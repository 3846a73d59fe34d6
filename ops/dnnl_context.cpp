// SPDX-License-Identifier: Apache-2.0
// What lives here: the oneDNN primitive caches behind DnnlContext: matmul (gemm) and the fused RNN
// primitives (rnn_forward / rnn_backward). Each entry keeps its primitives and memory objects; a call
// only swaps data handles (and reorders the weights when the primitive wants another layout) and executes.
#include "ops/dnnl_context.h"

#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>

#include "graph/check.h"
#include "ops/ops.h"

namespace unroll {

namespace {
struct GemmShapeHash {
  size_t operator()(const GemmShape& s) const {
    size_t h = 1469598103934665603ULL;
    for (int64_t v : {s.batch, s.m, s.n, s.k, int64_t(s.trans_a), int64_t(s.trans_b), int64_t(s.accumulate),
                      int64_t(s.bias), s.lda})
      h = (h ^ static_cast<size_t>(v)) * 1099511628211ULL;
    return h;
  }
};

struct CachedMatmul {
  dnnl::matmul primitive;
  dnnl::memory src, weights, dst, bias;
  // packed weights only: the user's layout (handle set per pack) and the reorder into the primitive's
  dnnl::memory user_weights;
  dnnl::reorder pack;
  // packed only: the primitive's own scratch (scratchpad mode user). oneDNN's default shares one library
  // scratchpad between executions, which races when GemmRunners run one primitive on several threads.
  dnnl::memory scratchpad;
  // packed only: every packed copy and runner made for this shape, handed out again once nobody else holds
  // it (use_count 1), so a training loop packs into the same buffers every step instead of fresh pages.
  std::vector<std::shared_ptr<dnnl::memory>> packs;
  std::vector<std::shared_ptr<GemmRunner::State>> runners;
};

// The first element nobody but `pool` holds, or null.
template <class T>
std::shared_ptr<T> spare(const std::vector<std::shared_ptr<T>>& pool) {
  for (const auto& p : pool)
    if (p.use_count() == 1) return p;
  return nullptr;
}
}  // namespace

// A runner's own copy of the cached entry: the same primitive, fresh memory objects (null handles) and
// its own scratchpad; it holds its packed weights.
struct GemmRunner::State {
  CachedMatmul matmul;
  PackedWeights weights;
  dnnl::stream stream;
};

namespace {

struct RnnShapeHash {
  size_t operator()(const RnnShape& s) const {
    size_t h = 1469598103934665603ULL;
    for (int64_t v : {int64_t(s.kind), int64_t(s.reverse), s.T, s.B, s.I, s.H, int64_t(s.inference)})
      h = (h ^ static_cast<size_t>(v)) * 1099511628211ULL;
    return h;
  }
};

// A weight in our layout (ldgoi, handle set per call) and in the layout a primitive chose; when the two
// descriptors are equal the primitive reads ours directly and no reorder runs.
struct RnnWeight {
  dnnl::memory user, prim;
  dnnl::reorder to_prim, from_prim;  // from_prim: only for diff weights
  bool same = false;
};

// One RnnShape: forward_training and backward primitives, their argument maps (user buffers have null
// handles set per call) and the scratch the caller never sees (final h, zero diff of the final h, the
// diff weights in the primitive's layout).
struct CachedRnn {
  dnnl::primitive fwd, bwd;
  std::unordered_map<int, dnnl::memory> fwd_args, bwd_args;
  RnnWeight w_layer_fwd, w_iter_fwd, w_layer_bwd, w_iter_bwd, dw_layer, dw_iter;
  dnnl::memory workspace_fwd, workspace_bwd;
  size_t workspace_bytes = 0;
  bool lstm = false;
};
}  // namespace

struct DnnlContext::Impl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::unordered_map<GemmShape, CachedMatmul, GemmShapeHash> matmuls, packed_matmuls;

  // packed: the weights in the layout the primitive prefers (format any), reached by `pack`.
  CachedMatmul create(const GemmShape& s, bool packed = false) {
    using dt = dnnl::memory::data_type;
    using dims = dnnl::memory::dims;
    const bool batched = s.batch > 1;
    // Transposes are expressed as strides, so no copy is ever made.
    // ld: the stored row stride (the row length when dense).
    const auto desc = [&](int64_t rows, int64_t cols, bool transposed, int64_t ld) {
      const dims shape = batched ? dims{s.batch, rows, cols} : dims{rows, cols};
      const dims strides = transposed ? (batched ? dims{rows * cols, 1, ld} : dims{1, ld})
                                      : (batched ? dims{rows * cols, ld, 1} : dims{ld, 1});
      return dnnl::memory::desc(shape, dt::f32, strides);
    };
    const auto src_md = desc(s.m, s.k, s.trans_a, s.a_stride());
    const auto user_weights_md = desc(s.k, s.n, s.trans_b, s.trans_b ? s.k : s.n);
    const auto weights_md = packed ? dnnl::memory::desc(dims{s.k, s.n}, dt::f32, dnnl::memory::format_tag::any)
                                   : user_weights_md;
    const auto dst_md = desc(s.m, s.n, false, s.n);
    dnnl::primitive_attr attr;
    if (packed) attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (s.accumulate) {
      dnnl::post_ops ops;
      ops.append_sum(1.0f);
      attr.set_post_ops(ops);
    }
    CachedMatmul c;
    dnnl::matmul::primitive_desc pd;
    if (s.bias) {
      const auto bias_md = batched ? dnnl::memory::desc({1, 1, s.n}, dt::f32, dims{s.n, s.n, 1})
                                   : dnnl::memory::desc({1, s.n}, dt::f32, dims{s.n, 1});
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(src_md, weights_md, bias_md, dst_md), attr, engine);
      c.bias = dnnl::memory(bias_md, engine, nullptr);
    } else {
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(src_md, weights_md, dst_md), attr, engine);
    }
    c.primitive = dnnl::matmul(pd);
    c.src = dnnl::memory(src_md, engine, nullptr);
    if (packed) {
      c.user_weights = dnnl::memory(user_weights_md, engine, nullptr);
      c.weights = dnnl::memory(pd.weights_desc(), engine, nullptr);
      c.pack = dnnl::reorder(c.user_weights, c.weights);
      c.scratchpad = dnnl::memory(pd.scratchpad_desc(), engine);
    } else {
      c.weights = dnnl::memory(weights_md, engine, nullptr);
    }
    c.dst = dnnl::memory(dst_md, engine, nullptr);
    return c;
  }

  std::unordered_map<RnnShape, CachedRnn, RnnShapeHash> rnns;

  // A memory in `md` (the primitive's choice) for a weight whose user layout is `user_md`.
  RnnWeight make_weight(const dnnl::memory::desc& user_md, const dnnl::memory::desc& md, bool diff) {
    RnnWeight w;
    w.same = user_md == md;
    if (diff) {
      w.prim = dnnl::memory(md, engine);  // zeroed before each backward
      w.user = w.same ? w.prim : dnnl::memory(user_md, engine);
      if (!w.same) w.from_prim = dnnl::reorder(w.prim, w.user);
      return w;
    }
    w.user = dnnl::memory(user_md, engine, nullptr);
    if (w.same) {
      w.prim = w.user;
    } else {
      w.prim = dnnl::memory(md, engine);
      w.to_prim = dnnl::reorder(w.user, w.prim);
    }
    return w;
  }

  // The memory descriptors of one fused RNN layer and direction in the user's layouts (w_*: ldgoi), and the
  // weights' "any" layout the primitives choose from.
  struct RnnMemoryDescs {
    dnnl::memory::desc src_layer, dst_layer, state, w_layer_user, w_iter_user, w_layer_any, w_iter_any, bias;
  };
  static RnnMemoryDescs rnn_memory_descs(const RnnShape& s) {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    using md = dnnl::memory::desc;
    const int64_t G = rnn_gate_count(s.kind), Gb = s.kind == RnnKind::gru_lbr ? 4 : G;
    return {md({s.T, s.B, s.I}, dt::f32, tag::tnc),          md({s.T, s.B, s.H}, dt::f32, tag::tnc),
            md({1, 1, s.B, s.H}, dt::f32, tag::ldnc),        md({1, 1, s.I, G, s.H}, dt::f32, tag::ldgoi),
            md({1, 1, s.H, G, s.H}, dt::f32, tag::ldgoi),    md({1, 1, s.I, G, s.H}, dt::f32, tag::any),
            md({1, 1, s.H, G, s.H}, dt::f32, tag::any),      md({1, 1, Gb, s.H}, dt::f32, tag::ldgo)};
  }

  // The forward (and, for training, backward) primitive descriptors of one fused RNN layer and direction.
  struct RnnDescs {
    dnnl::rnn_primitive_desc_base fwd, bwd;
  };
  RnnDescs rnn_descs(const RnnShape& s, const RnnMemoryDescs& m) {
    const bool lstm = s.kind == RnnKind::lstm, gru = s.kind == RnnKind::gru_lbr;
    const auto& [src_layer, dst_layer, state, w_layer_user, w_iter_user, w_layer_any, w_iter_any, bias] = m;
    const auto dir = s.reverse ? dnnl::rnn_direction::unidirectional_right2left
                               : dnnl::rnn_direction::unidirectional_left2right;
    const auto fwd_kind = s.inference ? dnnl::prop_kind::forward_inference : dnnl::prop_kind::forward_training;
    const auto bwd_kind = dnnl::prop_kind::backward;
    dnnl::rnn_primitive_desc_base fwd_pd, bwd_pd;
    if (lstm) {
      const dnnl::lstm_forward::primitive_desc f(
          dnnl::lstm_forward::desc(fwd_kind, dir, src_layer, state, state, w_layer_any, w_iter_any, bias, dst_layer,
                                   state, state),
          engine);
      if (!s.inference)
        bwd_pd = dnnl::lstm_backward::primitive_desc(
            dnnl::lstm_backward::desc(bwd_kind, dir, src_layer, state, state, w_layer_any, w_iter_any, bias, dst_layer,
                                      state, state, src_layer, state, state, w_layer_any, w_iter_any, bias, dst_layer,
                                      state, state),
            engine, f);
      fwd_pd = f;
    } else if (gru) {
      const dnnl::lbr_gru_forward::primitive_desc f(
          dnnl::lbr_gru_forward::desc(fwd_kind, dir, src_layer, state, w_layer_any, w_iter_any, bias, dst_layer, state),
          engine);
      if (!s.inference)
        bwd_pd = dnnl::lbr_gru_backward::primitive_desc(
            dnnl::lbr_gru_backward::desc(bwd_kind, dir, src_layer, state, w_layer_any, w_iter_any, bias, dst_layer, state,
                                         src_layer, state, w_layer_any, w_iter_any, bias, dst_layer, state),
            engine, f);
      fwd_pd = f;
    } else {
      const auto act = s.kind == RnnKind::rnn_relu ? dnnl::algorithm::eltwise_relu : dnnl::algorithm::eltwise_tanh;
      const dnnl::vanilla_rnn_forward::primitive_desc f(
          dnnl::vanilla_rnn_forward::desc(fwd_kind, act, dir, src_layer, state, w_layer_any, w_iter_any, bias,
                                          dst_layer, state),
          engine);
      if (!s.inference)
        bwd_pd = dnnl::vanilla_rnn_backward::primitive_desc(
            dnnl::vanilla_rnn_backward::desc(bwd_kind, act, dir, src_layer, state, w_layer_any, w_iter_any, bias,
                                             dst_layer, state, src_layer, state, w_layer_any, w_iter_any, bias, dst_layer,
                                             state),
            engine, f);
      fwd_pd = f;
    }
    return {fwd_pd, bwd_pd};
  }

  CachedRnn create(const RnnShape& s) {
    using md = dnnl::memory::desc;
    const bool lstm = s.kind == RnnKind::lstm;
    const RnnMemoryDescs m = rnn_memory_descs(s);
    const md &src_layer = m.src_layer, &dst_layer = m.dst_layer, &state = m.state, &bias = m.bias;
    const auto [fwd_pd, bwd_pd] = rnn_descs(s, m);
    CachedRnn c;
    c.lstm = lstm;
    c.fwd = dnnl::primitive(fwd_pd);
    const auto q = [](const dnnl::rnn_primitive_desc_base& pd, int arg) {
      return pd.query_md(dnnl::query::exec_arg_md, arg);
    };
    c.w_layer_fwd = make_weight(m.w_layer_user, q(fwd_pd, DNNL_ARG_WEIGHTS_LAYER), false);
    c.w_iter_fwd = make_weight(m.w_iter_user, q(fwd_pd, DNNL_ARG_WEIGHTS_ITER), false);
    const auto user = [&](const md& d) { return dnnl::memory(d, engine, nullptr); };
    // forward: user buffers (null handles) plus an owned final h (y's last row holds the same values)
    c.fwd_args = {{DNNL_ARG_SRC_LAYER, user(src_layer)},    {DNNL_ARG_SRC_ITER, user(state)},
                  {DNNL_ARG_WEIGHTS_LAYER, c.w_layer_fwd.prim}, {DNNL_ARG_WEIGHTS_ITER, c.w_iter_fwd.prim},
                  {DNNL_ARG_BIAS, user(bias)},               {DNNL_ARG_DST_LAYER, user(dst_layer)},
                  {DNNL_ARG_DST_ITER, dnnl::memory(state, engine)}};
    if (lstm) {
      c.fwd_args.emplace(DNNL_ARG_SRC_ITER_C, user(state));
      c.fwd_args.emplace(DNNL_ARG_DST_ITER_C, user(state));
    }
    if (s.inference) return c;
    c.bwd = dnnl::primitive(bwd_pd);
    c.w_layer_bwd = make_weight(m.w_layer_user, q(bwd_pd, DNNL_ARG_WEIGHTS_LAYER), false);
    c.w_iter_bwd = make_weight(m.w_iter_user, q(bwd_pd, DNNL_ARG_WEIGHTS_ITER), false);
    c.dw_layer = make_weight(m.w_layer_user, q(bwd_pd, DNNL_ARG_DIFF_WEIGHTS_LAYER), true);
    c.dw_iter = make_weight(m.w_iter_user, q(bwd_pd, DNNL_ARG_DIFF_WEIGHTS_ITER), true);
    const md ws = fwd_pd.workspace_desc();
    c.workspace_bytes = ws.get_size();
    c.workspace_fwd = dnnl::memory(ws, engine, nullptr);
    c.workspace_bwd = dnnl::memory(bwd_pd.workspace_desc(), engine, nullptr);
    c.fwd_args.emplace(DNNL_ARG_WORKSPACE, c.workspace_fwd);
    const auto owned_zero = [&](const md& d) {
      dnnl::memory m(d, engine);
      std::memset(m.get_data_handle(), 0, d.get_size());
      return m;
    };
    c.bwd_args = {{DNNL_ARG_SRC_LAYER, user(src_layer)},
                  {DNNL_ARG_SRC_ITER, user(state)},
                  {DNNL_ARG_WEIGHTS_LAYER, c.w_layer_bwd.prim},
                  {DNNL_ARG_WEIGHTS_ITER, c.w_iter_bwd.prim},
                  {DNNL_ARG_BIAS, user(bias)},
                  {DNNL_ARG_DST_LAYER, user(dst_layer)},
                  {DNNL_ARG_DST_ITER, user(state)},
                  {DNNL_ARG_WORKSPACE, c.workspace_bwd},
                  {DNNL_ARG_DIFF_SRC_LAYER, dnnl::memory(src_layer, engine)},
                  {DNNL_ARG_DIFF_SRC_ITER, dnnl::memory(state, engine)},
                  {DNNL_ARG_DIFF_WEIGHTS_LAYER, c.dw_layer.prim},
                  {DNNL_ARG_DIFF_WEIGHTS_ITER, c.dw_iter.prim},
                  {DNNL_ARG_DIFF_BIAS, dnnl::memory(bias, engine)},
                  {DNNL_ARG_DIFF_DST_LAYER, user(dst_layer)},
                  {DNNL_ARG_DIFF_DST_ITER, owned_zero(state)}};  // the final h's gradient arrives through y
    if (lstm) {
      c.bwd_args.emplace(DNNL_ARG_SRC_ITER_C, user(state));
      c.bwd_args.emplace(DNNL_ARG_DST_ITER_C, user(state));
      c.bwd_args.emplace(DNNL_ARG_DIFF_SRC_ITER_C, dnnl::memory(state, engine));
      c.bwd_args.emplace(DNNL_ARG_DIFF_DST_ITER_C, user(state));
    }
    return c;
  }

  CachedRnn& rnn(const RnnShape& s) {
    auto it = rnns.find(s);
    if (it == rnns.end()) it = rnns.emplace(s, create(s)).first;
    return it->second;
  }

  // Sets the user handle of weight w and brings the primitive's copy up to date.
  void load_weight(RnnWeight& w, const float* data) {
    w.user.set_data_handle(const_cast<float*>(data));
    if (!w.same) w.to_prim.execute(stream, w.user, w.prim);
  }
};

DnnlContext::DnnlContext() : impl_(std::make_unique<Impl>()) {}
DnnlContext::~DnnlContext() = default;

size_t DnnlContext::packed_primitives() const { return impl_->packed_matmuls.size(); }

size_t DnnlContext::cached_primitives() const {
  return impl_->matmuls.size() + impl_->packed_matmuls.size() + impl_->rnns.size();
}

void DnnlContext::gemm(const GemmShape& s, const float* a, const float* b, float* c, const float* bias) {
  UNROLL_CHECK(!(s.bias && s.accumulate), UsageError, "gemm: bias with accumulate is not supported");
  UNROLL_CHECK(s.lda == 0 || s.batch == 1, UsageError, "gemm: a row stride (lda) is only supported unbatched");
  auto it = impl_->matmuls.find(s);
  if (it == impl_->matmuls.end()) it = impl_->matmuls.emplace(s, impl_->create(s)).first;
  CachedMatmul& m = it->second;
  m.src.set_data_handle(const_cast<float*>(a));
  m.weights.set_data_handle(const_cast<float*>(b));
  m.dst.set_data_handle(c);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, m.src}, {DNNL_ARG_WEIGHTS, m.weights}, {DNNL_ARG_DST, m.dst}};
  if (s.bias) {
    m.bias.set_data_handle(const_cast<float*>(bias));
    args.emplace(DNNL_ARG_BIAS, m.bias);
  }
  m.primitive.execute(impl_->stream, args);
  impl_->stream.wait();
}

PackedWeights DnnlContext::pack_weights(const GemmShape& s, const float* b) {
  UNROLL_CHECK(s.batch == 1, UsageError, "pack_weights: only unbatched products");
  auto it = impl_->packed_matmuls.find(s);
  if (it == impl_->packed_matmuls.end()) it = impl_->packed_matmuls.emplace(s, impl_->create(s, true)).first;
  CachedMatmul& m = it->second;
  for (const auto& r : m.runners)  // idle runners let go of their last weights
    if (r.use_count() == 1) r->weights = {};
  std::shared_ptr<dnnl::memory> packed = spare(m.packs);
  if (!packed) packed = m.packs.emplace_back(std::make_shared<dnnl::memory>(m.weights.get_desc(), impl_->engine));
  m.user_weights.set_data_handle(const_cast<float*>(b));
  m.pack.execute(impl_->stream, m.user_weights, *packed);
  impl_->stream.wait();
  return PackedWeights{s, packed};
}

namespace {
// Runs a packed product: the cached primitive with its src/dst/bias memories pointed at this call's data.
void run_packed(const CachedMatmul& m, const dnnl::memory& weights, dnnl::stream& stream, const float* a, float* c,
                const float* bias) {
  m.src.set_data_handle(const_cast<float*>(a));
  m.dst.set_data_handle(c);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, m.src},
                                             {DNNL_ARG_WEIGHTS, weights},
                                             {DNNL_ARG_DST, m.dst},
                                             {DNNL_ARG_SCRATCHPAD, m.scratchpad}};
  if (m.bias) {
    m.bias.set_data_handle(const_cast<float*>(bias));
    args.emplace(DNNL_ARG_BIAS, m.bias);
  }
  m.primitive.execute(stream, args);
  stream.wait();
}

const dnnl::memory& packed_memory(const PackedWeights& w) { return *static_cast<const dnnl::memory*>(w.memory.get()); }
}  // namespace

void DnnlContext::gemm(const GemmShape& s, const float* a, const PackedWeights& w, float* c, const float* bias) {
  UNROLL_CHECK(w.shape == s && w.memory, UsageError, "gemm: the packed weights were made for another shape");
  run_packed(impl_->packed_matmuls.at(s), packed_memory(w), impl_->stream, a, c, bias);
}

GemmRunner DnnlContext::runner(const PackedWeights& w) {
  UNROLL_CHECK(w.memory != nullptr, UsageError, "runner: the packed weights are empty");
  CachedMatmul& cached = impl_->packed_matmuls.at(w.shape);
  GemmRunner r;
  r.state_ = spare(cached.runners);
  if (!r.state_) {
    const auto fresh = [&](const dnnl::memory& m) { return m ? dnnl::memory(m.get_desc(), impl_->engine, nullptr) : m; };
    r.state_ = cached.runners.emplace_back(std::make_shared<GemmRunner::State>(GemmRunner::State{
        .matmul = {.primitive = cached.primitive, .src = fresh(cached.src), .weights = {}, .dst = fresh(cached.dst),
                   .bias = fresh(cached.bias), .user_weights = {}, .pack = {},
                   .scratchpad = dnnl::memory(cached.scratchpad.get_desc(), impl_->engine), .packs = {}, .runners = {}},
        .weights = {},
        .stream = dnnl::stream(impl_->engine)}));
  }
  r.state_->weights = w;
  return r;
}

void GemmRunner::operator()(const float* a, float* c, const float* bias) const {
  run_packed(state_->matmul, packed_memory(state_->weights), state_->stream, a, c, bias);
}

// ---- fused RNN ----

size_t DnnlContext::rnn_workspace_bytes(const RnnShape& s) { return impl_->rnn(s).workspace_bytes; }

void DnnlContext::rnn_forward(const RnnShape& s, const RnnForwardArgs& a) {
  CachedRnn& r = impl_->rnn(s);
  auto& m = r.fwd_args;
  const auto set = [&](int arg, const void* p) { m.at(arg).set_data_handle(const_cast<void*>(p)); };
  set(DNNL_ARG_SRC_LAYER, a.x);
  set(DNNL_ARG_SRC_ITER, a.h0);
  set(DNNL_ARG_BIAS, a.bias);
  set(DNNL_ARG_DST_LAYER, a.y);
  if (!s.inference) set(DNNL_ARG_WORKSPACE, a.workspace);
  if (r.lstm) {
    set(DNNL_ARG_SRC_ITER_C, a.c0);
    set(DNNL_ARG_DST_ITER_C, a.c_last);
  }
  impl_->load_weight(r.w_layer_fwd, a.w_layer);
  impl_->load_weight(r.w_iter_fwd, a.w_iter);
  r.fwd.execute(impl_->stream, m);
  impl_->stream.wait();
}

RnnGrads DnnlContext::rnn_backward(const RnnShape& s, const RnnBackwardArgs& a) {
  UNROLL_CHECK(!s.inference, UsageError, "rnn_backward: the shape is an inference one (forward_inference has no backward)");
  CachedRnn& r = impl_->rnn(s);
  auto& m = r.bwd_args;
  const auto set = [&](int arg, const void* p) { m.at(arg).set_data_handle(const_cast<void*>(p)); };
  set(DNNL_ARG_SRC_LAYER, a.x);
  set(DNNL_ARG_SRC_ITER, a.h0);
  set(DNNL_ARG_BIAS, a.bias);
  set(DNNL_ARG_DST_LAYER, a.y);
  set(DNNL_ARG_WORKSPACE, a.workspace);
  set(DNNL_ARG_DIFF_DST_LAYER, a.dy);
  set(DNNL_ARG_DST_ITER, a.y + (s.reverse ? 0 : (s.T - 1) * s.B * s.H));  // the final h: y's last step
  if (r.lstm) {
    set(DNNL_ARG_SRC_ITER_C, a.c0);
    set(DNNL_ARG_DST_ITER_C, a.c_last);
    set(DNNL_ARG_DIFF_DST_ITER_C, a.dc_last);
  }
  impl_->load_weight(r.w_layer_bwd, a.w_layer);
  impl_->load_weight(r.w_iter_bwd, a.w_iter);
  // oneDNN's RNN backward accumulates into the diff weights and bias: start them from zero.
  for (int arg : {DNNL_ARG_DIFF_WEIGHTS_LAYER, DNNL_ARG_DIFF_WEIGHTS_ITER, DNNL_ARG_DIFF_BIAS}) {
    const dnnl::memory& d = m.at(arg);
    std::memset(d.get_data_handle(), 0, d.get_desc().get_size());
  }
  r.bwd.execute(impl_->stream, m);
  if (!r.dw_layer.same) r.dw_layer.from_prim.execute(impl_->stream, r.dw_layer.prim, r.dw_layer.user);
  if (!r.dw_iter.same) r.dw_iter.from_prim.execute(impl_->stream, r.dw_iter.prim, r.dw_iter.user);
  impl_->stream.wait();
  const auto ptr = [&](int arg) { return static_cast<const float*>(m.at(arg).get_data_handle()); };
  return RnnGrads{.dx = ptr(DNNL_ARG_DIFF_SRC_LAYER),
                  .dh0 = ptr(DNNL_ARG_DIFF_SRC_ITER),
                  .dc0 = r.lstm ? ptr(DNNL_ARG_DIFF_SRC_ITER_C) : nullptr,
                  .dw_layer = static_cast<const float*>(r.dw_layer.user.get_data_handle()),
                  .dw_iter = static_cast<const float*>(r.dw_iter.user.get_data_handle()),
                  .dbias = ptr(DNNL_ARG_DIFF_BIAS)};
}

}  // namespace unroll
