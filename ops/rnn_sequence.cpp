// SPDX-License-Identifier: Apache-2.0
// What lives here: rnn_sequence, one stock-cell layer in one direction over a whole sequence as ONE recorded
// op (the fast path models/recurrent.cpp takes for stock cells; the graph of per-step ops stays the
// definition and the tests' reference): its checks, its record and the dispatch to one of two engines
// (RnnEngine, ops/ops.h; both in ops/rnn_engines.h):
//   step_loop (ops/rnn_step_loop.cpp, where Note [Step loop] and Note [Batch split] live): our own loop over
//     the steps on GEMMs and the gate math of ops/cell_math/; float64 always runs it, float32 by default;
//   primitive (ops/rnn_primitive.cpp): oneDNN's fused RNN primitives, float32 only.
//
// Formulas (the stock cells of models/cells.h; gx = W_ih x_t + b_ih, gh = W_hh h + b_hh, PyTorch order):
//   lstm      [i f g o] = gx + gh;  c' = s(f) c + s(i) tanh(g);  h' = s(o) tanh(c')
//   gru_lbr   r = s(gx_r + gh_r), z = s(gx_z + gh_z), n = tanh(gx_n + r gh_n);  h' = (1 - z) n + z h
//   rnn_tanh  h' = tanh(gx + gh);   rnn_relu  h' = max(0, gx + gh)
// Output: h at every t ([T, B, H]); LSTM appends the final c as row T. With reverse the recursion runs
// t = T-1 .. 0 (oneDNN right2left) and h stays at its own t, as in the graph path. With lengths, row b's
// state is held past t = lengths[b]-1 (Note [Masked step loop] in ops/rnn_step_loop.cpp), and the op runs
// the step loop whatever the engine: oneDNN's primitive has no per-row lengths.
#include <algorithm>
#include <span>
#include <vector>

#include "ops/op.h"
#include "ops/ops.h"
#include "ops/rnn_engines.h"

namespace unroll {

const char* rnn_kind_name(RnnKind kind) {
  switch (kind) {
    case RnnKind::lstm: return "lstm";
    case RnnKind::gru_lbr: return "gru_lbr";
    case RnnKind::rnn_tanh: return "rnn_tanh";
    case RnnKind::rnn_relu: return "rnn_relu";
  }
  return "?";
}

int rnn_gate_count(RnnKind kind) { return kind == RnnKind::lstm ? 4 : kind == RnnKind::gru_lbr ? 3 : 1; }

namespace {

using namespace rnn;  // Input, Dims, Inputs, Grads, the engines

void rnn_sequence_backward(BackwardContext& c) {
  Dims d = dims_of(static_cast<RnnKind>(c.attrs().i[0]), c.attrs().i[1] != 0, c.in(kX).shape(), c.in(kWhh).shape());
  if (c.attrs().i[2] != static_cast<int64_t>(RnnEngine::step_loop)) return primitive_backward(c, d);
  std::vector<int64_t> lengths;  // the masked op's lengths input, as recorded
  if (c.attrs().i[3] != 0) {
    const Tensor& recorded = c.in(lengths_input(d.kind));
    for (int64_t b = 0; b < d.B; ++b) lengths.push_back(static_cast<int64_t>(recorded.at(b)));
    d.lengths = lengths.data();
  }
  dispatch_dtype(c.out().dtype(), [&]<class T>() {
    const auto in = [&](int i) -> const T* { return c.in(i).data<T>(); };
    const auto din = [&](int i) -> T* { return c.needs(i) ? c.din(i).template data<T>() : nullptr; };
    // Note [Consumed activations]: the gate gradients go over the saved gates, or over a copy of them.
    std::vector<T> copy;
    T* aux = nullptr;
    if (Tensor* mine = c.aux_to_consume()) {
      aux = mine->data<T>();
    } else {
      copy.assign(c.aux().data<T>(), c.aux().data<T>() + c.aux().numel());
      aux = copy.data();
    }
    step_loop_backward<T>(
        c.tape(), d,
        Inputs<T>{in(kX), in(kH0), d.lstm() ? in(kC0) : nullptr, in(kWih), in(kWhh), in(kBih), in(kBhh)},
        c.out().data<T>(), aux, c.dout().data<T>(),
        Grads<T>{din(kX), din(kH0), d.lstm() ? din(kC0) : nullptr, din(kWih), din(kWhh), din(kBih), din(kBhh)});
  });
}

void check_param(const char* kind, const char* name, const Var& p, const Shape& want, const Shape& x,
                 const char* hint) {
  UNROLL_CHECK(p.shape() == want, ShapeError,
               "rnn_sequence ({}): {} has shape {} but the input has shape {} and expects {} (hint: {})", kind, name,
               p.shape().str(), x.str(), want.str(), hint);
}

}  // namespace

Var rnn_sequence(RnnKind kind, Var x, Var h0, Var c0, Var w_ih, Var w_hh, Var b_ih, Var b_hh, bool reverse,
                 RnnEngine engine, std::span<const int64_t> lengths) {
  const char* name = rnn_kind_name(kind);
  const bool lstm = kind == RnnKind::lstm;
  std::vector<Var> inputs{x, h0, w_ih, w_hh, b_ih, b_hh};
  if (lstm) {
    UNROLL_CHECK(c0.defined(), UsageError, "rnn_sequence (lstm): c0 is missing (hint: pass the initial cell state [B, H])");
    inputs.push_back(c0);
  } else {
    UNROLL_CHECK(!c0.defined(), UsageError, "rnn_sequence ({}): got a c0 but only lstm has a cell state (hint: pass Var())",
                 name);
  }
  for (size_t i = 1; i < inputs.size(); ++i) {
    check_same_tape("rnn_sequence", x, inputs[i]);
    check_same_dtype("rnn_sequence", x, inputs[i]);
  }
  const Shape& xs = x.shape();
  UNROLL_CHECK(xs.rank() == 3 && xs[0] >= 1 && xs[2] >= 1, ShapeError,
               "rnn_sequence ({}): the input must be [T, B, I] with T, I >= 1, got {} (hint: time-major)", name, xs.str());
  const int G = rnn_gate_count(kind);
  UNROLL_CHECK(w_hh.shape().rank() == 2 && w_hh.shape()[1] >= 1 && w_hh.shape()[0] == G * w_hh.shape()[1], ShapeError,
               "rnn_sequence ({}): w_hh has shape {}, expected [G*H, H] with G = {} (hint: Note [Cell layout])", name,
               w_hh.shape().str(), G);
  Dims d = dims_of(kind, reverse, xs, w_hh.shape());
  const int64_t GH = d.G * d.H;
  check_param(name, "w_ih", w_ih, Shape{GH, d.I}, xs, "w_ih is [G*H, I]: its columns must equal the input's last dimension");
  check_param(name, "b_ih", b_ih, Shape{GH}, xs, "b_ih is [G*H]");
  check_param(name, "b_hh", b_hh, Shape{GH}, xs, "b_hh is [G*H]");
  check_param(name, "h0", h0, Shape{d.B, d.H}, xs, "h0 is [B, H]: the input's batch and the hidden size");
  if (lstm) check_param(name, "c0", c0, Shape{d.B, d.H}, xs, "c0 is [B, H]: the input's batch and the hidden size");
  UNROLL_CHECK(lengths.empty() || static_cast<int64_t>(lengths.size()) == d.B, ShapeError,
               "rnn_sequence ({}): got {} lengths for a batch of {} (hint: one length per sequence, or none)", name,
               lengths.size(), d.B);
  for (size_t b = 0; b < lengths.size(); ++b)
    UNROLL_CHECK(lengths[b] >= 1 && lengths[b] <= d.T, ShapeError,
                 "rnn_sequence ({}): length {} of sequence {} is outside [1, {}] (T = input.shape[0])", name, lengths[b],
                 b, d.T);

  Tape& tape = x.tape();
  // Note [Masked step loop]: a batch where some sequence is shorter than T records its lengths as a
  // constant input; all of length T is the unmasked op.
  const bool masked = std::any_of(lengths.begin(), lengths.end(), [&](int64_t n) { return n < d.T; });
  if (masked) {
    Tensor recorded = Tensor::empty(Shape{d.B}, x.dtype());
    for (int64_t b = 0; b < d.B; ++b) recorded.set(b, static_cast<double>(lengths[static_cast<size_t>(b)]));
    inputs.push_back(tape.constant(recorded));
    d.lengths = lengths.data();
  }
  Tensor out = tape.alloc(Shape{d.T + (lstm ? 1 : 0), d.B, d.H}, x.dtype());
  Tensor aux;
  // oneDNN has no float64 RNN and no per-row lengths
  const RnnEngine run = x.dtype() == DType::f64 || masked ? RnnEngine::step_loop : engine;
  if (run == RnnEngine::step_loop) {
    aux = tape.alloc(Shape{step_loop_aux_elements(d)}, x.dtype());
    dispatch_dtype(x.dtype(), [&]<class T>() {
      const auto v = [](const Var& in) -> const T* { return in.value().data<T>(); };
      step_loop_forward<T>(tape, d, Inputs<T>{v(x), v(h0), lstm ? v(c0) : nullptr, v(w_ih), v(w_hh), v(b_ih), v(b_hh)},
                           out.data<T>(), aux.data<T>());
    });
  } else {
    const auto v = [](const Var& in) { return in.value().data<float>(); };
    // Nothing will need a gradient (no-grad guard, constants only): forward_inference, no workspace.
    const bool inference = !tape.grad_enabled() || std::none_of(inputs.begin(), inputs.end(), [](const Var& in) {
      return in.requires_grad();
    });
    aux = primitive_forward(
        tape, d, Inputs<float>{v(x), v(h0), lstm ? v(c0) : nullptr, v(w_ih), v(w_hh), v(b_ih), v(b_hh)}, inference,
        out.data<float>());
  }
  OpAttrs attrs;
  attrs.i[0] = static_cast<int64_t>(kind);
  attrs.i[1] = reverse ? 1 : 0;
  attrs.i[2] = static_cast<int64_t>(run);
  attrs.i[3] = masked ? 1 : 0;
  return record_op(OpKind::rnn_sequence, inputs, out, &rnn_sequence_backward, attrs, aux);
}

}  // namespace unroll
