// SPDX-License-Identifier: Apache-2.0
// What lives here: the interpreter of Note [Program step loop] (ops/cell_program_engine.h): a CellProgram
// run over one chunk of units, every instruction one vectorised loop (SIMD clones, ops/simd.h), forward and
// reverse mode. The local derivatives are the graph ops' (ops/elementwise.cpp, ops/activations.cpp), written
// the same way, so the fused path and the per-step graph round alike.
#include <algorithm>
#include <cmath>

#include "ops/cell_program_engine.h"
#include "ops/fast_math.h"
#include "ops/pointwise.h"
#include "ops/simd.h"

namespace unroll::cellprog {

namespace {

size_t z(int64_t v) { return static_cast<size_t>(v); }

// ---- forward: y = f(a) or f(a, b) ----
struct Add { template <class T> static T f(T a, T b) { return a + b; } };
struct Sub { template <class T> static T f(T a, T b) { return a - b; } };
struct Mul { template <class T> static T f(T a, T b) { return a * b; } };
struct Div { template <class T> static T f(T a, T b) { return a / b; } };
struct Neg { template <class T> static T f(T a) { return -a; } };
struct Sigmoid { template <class T> static T f(T a) { return act::sigmoid(a); } };
struct Tanh { template <class T> static T f(T a) { return act::tanh(a); } };
struct Relu { template <class T> static T f(T a) { return a > 0 ? a : T(0); } };
struct Exp {
  static float f(float a) { return fast::exp(a); }
  static double f(double a) { return std::exp(a); }
};

template <class Fn, class T>
UNROLL_SIMD_CLONES void unary_loop(const T* __restrict a, T* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = Fn::f(a[i]);
}
template <class Fn, class T>
UNROLL_SIMD_CLONES void binary_loop(const T* __restrict a, const T* __restrict b, T* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = Fn::f(a[i], b[i]);
}

// ---- reverse: dst (+)= g(d, p, q), d the adjoint of the instruction, p and q what its derivative reads ----
struct Pass { template <class T> static T g(T d, T, T) { return d; } };             // add, alias: da += d
struct Negate { template <class T> static T g(T d, T, T) { return d * T(-1); } };   // sub's b, neg
struct Times { template <class T> static T g(T d, T q, T) { return d * q; } };     // mul: da += d b; exp: d y
struct Over { template <class T> static T g(T d, T q, T) { return d * (T(1) / q); } };          // div a: d / b
struct DivB { template <class T> static T g(T d, T y, T b) { return d * (-y / b); } };          // div b: -d y / b
struct SigmoidD { template <class T> static T g(T d, T y, T) { return d * (y * (1 - y)); } };  // y = s(a)
struct TanhD { template <class T> static T g(T d, T y, T) { return d * (1 - y * y); } };       // y = tanh(a)
struct ReluD { template <class T> static T g(T d, T a, T) { return d * (a > 0 ? T(1) : T(0)); } };

template <class Fn, class T>
UNROLL_SIMD_CLONES void unary_inplace(T* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = Fn::f(y[i]);
}

template <class T>  // y = (0 + a) + b: a fresh adjoint from two seeds, rounded as two Passes
UNROLL_SIMD_CLONES void sum_loop(const T* __restrict a, const T* __restrict b, T* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = (T(0) + a[i]) + b[i];
}

template <class Fn, bool kFresh, class T>  // adjoint_loop with p = dst (q unused)
UNROLL_SIMD_CLONES void adjoint_inplace(const T* __restrict d, T* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = (kFresh ? T(0) : dst[i]) + Fn::g(d[i], dst[i], d[i]);
}

template <class Fn, bool kFresh, class T>
UNROLL_SIMD_CLONES void adjoint_loop(const T* __restrict d, const T* __restrict p, const T* __restrict q,
                                     T* __restrict dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = (kFresh ? T(0) : dst[i]) + Fn::g(d[i], p[i], q[i]);
}

}  // namespace

Plan make_plan(const CellProgram& program) {
  program.validate();
  Plan plan{program.gates, program.states, static_cast<int32_t>(program.param_names.size()),
            program.uses_gate_sums_only(), {}, program.outputs};
  for (const CellInstr& c : program.code) {
    Instr in{static_cast<Op>(0), c.a, c.b, c.index, c.value};
    switch (c.op) {
      case CellOp::gate_x: in.op = Op::gate_x; break;
      case CellOp::gate_h: in.op = Op::gate_h; break;
      case CellOp::state: in.op = Op::state; break;
      case CellOp::param: in.op = Op::param; break;
      case CellOp::constant: in.op = Op::constant; break;
      case CellOp::add: in.op = Op::add; break;
      case CellOp::sub: in.op = Op::sub; break;
      case CellOp::mul: in.op = Op::mul; break;
      case CellOp::div: in.op = Op::div; break;
      case CellOp::neg: in.op = Op::neg; break;
      case CellOp::sigmoid: in.op = Op::sigmoid; break;
      case CellOp::tanh: in.op = Op::tanh; break;
      case CellOp::relu: in.op = Op::relu; break;
      case CellOp::exp: in.op = Op::exp; break;
    }
    if (plan.folded && in.op == Op::add) {  // gate_x k + gate_h k: gx already holds the sum
      const CellOp oa = program.code[z(in.a)].op, ob = program.code[z(in.b)].op;
      if (oa == CellOp::gate_x && ob == CellOp::gate_h) in = {Op::alias, in.a, -1, 0, 0};
      if (oa == CellOp::gate_h && ob == CellOp::gate_x) in = {Op::alias, in.b, -1, 0, 0};
    }
    plan.code.push_back(in);
  }
  return plan;
}

// Note [Program adjoints]: backward keeps one adjoint buffer per slot, and saves passes over the chunk by
// sharing buffers where the sum is unchanged:
//  - an alias whose target has no other reader (and is no output) shares the target's slot: its Pass is free;
//  - a Pass into a register not yet written takes over the reader's buffer (nothing reads it afterwards);
//  - a gate leaf read by one register whose value no derivative reads accumulates straight into d gate
//    (its destination; gx / gh hold the values, which backward then no longer needs);
//  - constants get no adjoint at all;
//  - a sigmoid / tanh / exp of a folded gate sum that nothing else reads (the gate a direct leaf) overwrites
//    the sum in aux: backward reads it there instead of recomputing it, and its derivative then turns it
//    into d gate in place.
// Every gradient is the same sum as with a buffer per register, up to the sign of a zero (0 + -0 = +0).
template <class T>
Interpreter<T>::Interpreter(const Plan& plan)
    : plan_(&plan),
      scratch_(plan.code.size() * z(kChunk)),
      adj_scratch_(plan.code.size() * z(kChunk)),
      val_(plan.code.size()),
      out_of_(plan.code.size(), -1),
      slot_(plan.code.size()),
      adj_(plan.code.size()),
      touched_(plan.code.size()),
      fixed_(plan.code.size()),
      direct_(plan.code.size()),
      needed_(plan.code.size()),
      inplace_(plan.code.size()) {
  const size_t R = plan.code.size();
  std::vector<int32_t> readers(R);
  std::vector<char> value_read(R);  // some derivative reads register r's value
  for (const Instr& c : plan.code)
    for (const int32_t o : {c.a, c.b})
      if (o >= 0) ++readers[z(o)];
  for (const int32_t o : plan.outputs) readers[z(o)] += 2;  // an output's adjoint starts from its seed
  for (size_t k = plan.outputs.size(); k-- > 0;) out_of_[z(plan.outputs[k])] = static_cast<int32_t>(k);
  for (size_t r = 0; r < R; ++r) {
    const Instr& c = plan.code[r];
    if (c.op == Op::constant)  // constants are filled once
      std::fill_n(scratch_.data() + r * z(kChunk), kChunk, static_cast<T>(c.value));
    slot_[r] = c.op == Op::alias && readers[z(c.a)] == 1 ? slot_[z(c.a)] : static_cast<int32_t>(r);
    if (c.op == Op::mul) value_read[z(c.a)] = value_read[z(c.b)] = 1;  // the registers backward reads
    if (c.op == Op::div) value_read[z(c.b)] = 1;
    if (c.op == Op::relu) value_read[z(c.a)] = 1;
  }
  for (size_t r = R; r-- > 0;)  // an alias's value is its target's
    if (plan.code[r].op == Op::alias && value_read[r]) value_read[z(plan.code[r].a)] = 1;
  std::vector<int32_t> count(z(2 * plan.gates));  // registers per gate leaf (gate_x k, then gate_h k)
  const auto leaf = [&](const Instr& c) { return z((c.op == Op::gate_h ? plan.gates : 0) + c.index); };
  for (const Instr& c : plan.code)
    if (c.op == Op::gate_x || c.op == Op::gate_h) ++count[leaf(c)];
  for (size_t r = 0; r < R; ++r) {
    const Instr& c = plan.code[r];
    const bool gate = c.op == Op::gate_x || (c.op == Op::gate_h && !plan.folded);
    direct_[r] = gate && !value_read[r] && count[leaf(c)] == 1;
  }
  for (size_t r = 0; r < R; ++r) {
    const Instr& c = plan.code[r];
    const bool act = c.op == Op::sigmoid || c.op == Op::tanh || c.op == Op::exp;
    if (!act || out_of_[r] >= 0 || plan.code[z(c.a)].op != Op::alias || readers[z(c.a)] != 1) continue;
    const int32_t gate = plan.code[z(c.a)].a;  // readers counts outputs, so neither is an output
    inplace_[r] = plan.code[z(gate)].op == Op::gate_x && plan.folded && readers[z(gate)] == 1 && direct_[z(gate)];
  }
  for (size_t r = R; r-- > 0;) {  // what the sweep reads, and what that is computed from
    const Instr& c = plan.code[r];
    needed_[r] = needed_[r] || value_read[r] || c.op == Op::sigmoid || c.op == Op::tanh || c.op == Op::exp ||
                 c.op == Op::div;
    if (!needed_[r] || (out_of_[r] >= 0 && c.op > Op::alias)) continue;  // a new state is saved
    for (const int32_t o : {c.a, c.b})
      if (o >= 0) needed_[z(o)] = 1;
  }
}

template <class T>
void Interpreter<T>::forward(const ChunkIn<T>& in, T* const* dst) {
  run(in, dst, nullptr);
}

template <class T>
void Interpreter<T>::run(const ChunkIn<T>& in, T* const* dst, const T* const* saved) {
  const int64_t n = in.n;
  for (size_t r = 0; r < plan_->code.size(); ++r) {
    const Instr& c = plan_->code[r];
    if (inplace_[r]) {  // the activation in its gate's block: computed there once, in forward
      T* g = const_cast<T*>(val_[z(c.a)]);  // aux (loop_forward's and loop_backward's gates)
      if (!saved && c.op == Op::sigmoid) unary_inplace<Sigmoid>(g, n);
      if (!saved && c.op == Op::tanh) unary_inplace<Tanh>(g, n);
      if (!saved && c.op == Op::exp) unary_inplace<Exp>(g, n);
      val_[r] = g;
      continue;
    }
    if (saved && c.op > Op::alias && (out_of_[r] >= 0 || !needed_[r])) {  // computed ops only
      val_[r] = out_of_[r] >= 0 ? saved[out_of_[r]] : nullptr;
      continue;
    }
    const bool direct = dst && out_of_[r] >= 0 && c.op != Op::constant;  // a new state computed in place
    T* y = direct ? dst[out_of_[r]] : scratch_.data() + r * z(kChunk);
    const T* a = c.a >= 0 ? val_[z(c.a)] : nullptr;
    const T* b = c.b >= 0 ? val_[z(c.b)] : nullptr;
    switch (c.op) {
      case Op::gate_x: val_[r] = in.gx + c.index * in.H; continue;
      case Op::gate_h: val_[r] = in.gh ? in.gh + c.index * in.H : nullptr; continue;
      case Op::state: val_[r] = in.states[z(c.index)]; continue;
      case Op::param: val_[r] = in.params[z(c.index)]; continue;
      case Op::alias: val_[r] = a; continue;
      case Op::constant: break;
      case Op::add: binary_loop<Add>(a, b, y, n); break;
      case Op::sub: binary_loop<Sub>(a, b, y, n); break;
      case Op::mul: binary_loop<Mul>(a, b, y, n); break;
      case Op::div: binary_loop<Div>(a, b, y, n); break;
      case Op::neg: unary_loop<Neg>(a, y, n); break;
      case Op::sigmoid: unary_loop<Sigmoid>(a, y, n); break;
      case Op::tanh: unary_loop<Tanh>(a, y, n); break;
      case Op::relu: unary_loop<Relu>(a, y, n); break;
      case Op::exp: unary_loop<Exp>(a, y, n); break;
    }
    val_[r] = y;
  }
  if (dst)
    for (size_t k = 0; k < plan_->outputs.size(); ++k)
      if (output(static_cast<int32_t>(k)) != dst[k]) std::copy_n(output(static_cast<int32_t>(k)), n, dst[k]);
}

template <class T>
void Interpreter<T>::backward(const ChunkIn<T>& in, const ChunkGrads<T>& g) {
  run(in, nullptr, g.saved.data());
  const int64_t n = in.n;
  const size_t R = plan_->code.size();
  std::fill(touched_.begin(), touched_.end(), 0);
  for (size_t r = 0; r < R; ++r) {  // gate leaves straight into their destination (Note [Program adjoints])
    const Instr& c = plan_->code[r];
    fixed_[r] = direct_[r];
    adj_[r] = !direct_[r] ? adj_scratch_.data() + r * z(kChunk) : (c.op == Op::gate_h ? g.dgh : g.dgx) + c.index * in.H;
  }
  // dst(r) (+)= Fn::g(d, p, q): the first contribution to a slot stores, later ones add. An operand Fn does
  // not read (null) is passed as d, so that the loops need no test.
  const auto acc = [&]<class Fn>(Fn, int32_t r, const T* d, const T* p, const T* q) {
    if (plan_->code[z(r)].op == Op::constant) return;  // nothing needs a constant's gradient
    const size_t s = z(slot_[z(r)]);
    if (p == adj_[s]) {  // an activation kept in place (its q is unused)
      if (touched_[s]) return adjoint_inplace<Fn, false>(d, adj_[s], n);
      touched_[s] = 1;
      return adjoint_inplace<Fn, true>(d, adj_[s], n);
    }
    p = p ? p : d;
    q = q ? q : d;
    if (touched_[s]) return adjoint_loop<Fn, false>(d, p, q, adj_[s], n);
    touched_[s] = 1;
    adjoint_loop<Fn, true>(d, p, q, adj_[s], n);
  };
  // d of register `from` passed on to r: a slot not written yet takes over from's buffer.
  const auto pass = [&](int32_t r, size_t from) {
    const size_t s = z(slot_[z(r)]);
    if (touched_[s] || fixed_[s] || fixed_[from] || plan_->code[z(r)].op == Op::constant)
      return acc(Pass{}, r, adj_[from], nullptr, nullptr);
    adj_[s] = adj_[from];
    touched_[s] = 1;
  };
  if (g.seed_h_extra) {  // h's seed: d(new h) + dy, one pass
    const size_t s = z(slot_[z(plan_->outputs[0])]);
    touched_[s] = 1;
    sum_loop(g.seeds[0], g.seed_h_extra, adj_[s], n);
  }
  for (int32_t k = g.seed_h_extra ? 1 : 0; k < plan_->states; ++k)
    acc(Pass{}, plan_->outputs[z(k)], g.seeds[z(k)], nullptr, nullptr);
  for (int32_t r = static_cast<int32_t>(R) - 1; r >= 0; --r) {
    const size_t sr = z(slot_[z(r)]);
    if (!touched_[sr]) continue;  // nothing reaches this register
    const Instr& c = plan_->code[z(r)];
    const T* d = adj_[sr];
    const T* y = val_[z(r)];
    const T* a = c.a >= 0 ? val_[z(c.a)] : nullptr;
    const T* b = c.b >= 0 ? val_[z(c.b)] : nullptr;
    switch (c.op) {
      case Op::gate_x: case Op::gate_h: case Op::state: case Op::param: case Op::constant: break;
      case Op::alias:
        if (slot_[z(c.a)] != slot_[z(r)]) pass(c.a, sr);  // else: the same slot already
        break;
      case Op::add:
        if (slot_[z(c.a)] == slot_[z(c.b)])
          acc(Pass{}, c.a, d, nullptr, nullptr);
        else
          pass(c.a, sr);
        acc(Pass{}, c.b, d, nullptr, nullptr);
        break;
      case Op::sub:
        if (slot_[z(c.a)] == slot_[z(c.b)])
          acc(Pass{}, c.a, d, nullptr, nullptr);
        else
          pass(c.a, sr);
        acc(Negate{}, c.b, d, nullptr, nullptr);
        break;
      case Op::mul: acc(Times{}, c.a, d, b, nullptr); acc(Times{}, c.b, d, a, nullptr); break;
      case Op::div: acc(Over{}, c.a, d, b, nullptr); acc(DivB{}, c.b, d, y, b); break;
      case Op::neg: acc(Negate{}, c.a, d, nullptr, nullptr); break;
      case Op::sigmoid: acc(SigmoidD{}, c.a, d, y, nullptr); break;
      case Op::tanh: acc(TanhD{}, c.a, d, y, nullptr); break;
      case Op::relu: acc(ReluD{}, c.a, d, a, nullptr); break;
      case Op::exp: acc(Times{}, c.a, d, y, nullptr); break;
    }
  }
  // The leaves' gradients, summed over the registers reading the same leaf in register order.
  const auto collect = [&](Op op, int32_t index, T* dst, bool add) {
    bool wrote = add;
    for (size_t r = 0; r < plan_->code.size(); ++r) {
      const Instr& c = plan_->code[r];
      if (c.op != op || c.index != index || !touched_[r]) continue;  // a leaf's slot is its own
      if (adj_[r] == dst)  // accumulated in place (the only register of this leaf)
        ;
      else if (wrote)
        add_into<T>(dst, adj_[r], n);
      else
        std::copy_n(adj_[r], n, dst);
      wrote = true;
    }
    if (!wrote) std::fill_n(dst, n, T(0));
  };
  for (int32_t k = 0; k < plan_->gates; ++k) {
    collect(Op::gate_x, k, g.dgx + k * in.H, false);
    if (!plan_->folded) collect(Op::gate_h, k, g.dgh + k * in.H, false);
  }
  for (int32_t k = 0; k < plan_->states; ++k) collect(Op::state, k, g.dstates[z(k)], false);
  for (int32_t k = 0; k < plan_->params; ++k) collect(Op::param, k, g.dparams[z(k)], true);
}

template class Interpreter<float>;
template class Interpreter<double>;

}  // namespace unroll::cellprog
