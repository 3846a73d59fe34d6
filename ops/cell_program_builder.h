// SPDX-License-Identifier: Apache-2.0
// What lives here: CellProgramBuilder, for writing a CellProgram (Note [Cell program] in ops/cell_program.h)
// in C++ as ordinary arithmetic on registers, the way a C++ cell declares its program (examples/cifg_cell.h):
//   CellProgramBuilder p(/*gates=*/3, /*states=*/2);
//   const CellReg f = sigmoid(p.gate(0));                       // gate(k) = gate_x(k) + gate_h(k)
//   const CellReg c = f * p.state(1) + (1.0 - f) * tanh(p.gate(1));
//   CellProgram program = p.finish({sigmoid(p.gate(2)) * tanh(c), c});   // new h, new c
// Every operation appends one instruction; the program is straight-line by construction.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ops/cell_program.h"

namespace unroll {

class CellProgramBuilder;

/// One register of the program being built.
struct CellReg {
  CellProgramBuilder* builder = nullptr;
  int32_t index = -1;
};

class CellProgramBuilder {
 public:
  CellProgramBuilder(int32_t gates, int32_t states) {
    program_.gates = gates;
    program_.states = states;
  }

  CellReg gate_x(int32_t k) { return leaf(CellOp::gate_x, k); }
  CellReg gate_h(int32_t k) { return leaf(CellOp::gate_h, k); }
  CellReg gate(int32_t k) { return emit(CellOp::add, gate_x(k), gate_h(k)); }  ///< the full pre-activation
  CellReg state(int32_t k) { return leaf(CellOp::state, k); }
  /// The vector parameter `name` [H] (registered by the cell under that name).
  CellReg param(const std::string& name) {
    int32_t k = 0;
    while (static_cast<size_t>(k) < program_.param_names.size() && program_.param_names[static_cast<size_t>(k)] != name) ++k;
    if (static_cast<size_t>(k) == program_.param_names.size()) program_.param_names.push_back(name);
    return leaf(CellOp::param, k);
  }
  CellReg constant(double value) {
    CellInstr in;
    in.op = CellOp::constant;
    in.value = value;
    return push(in);
  }
  CellReg emit(CellOp op, CellReg a, CellReg b = {}) {
    CellInstr in;
    in.op = op;
    in.a = a.index;
    in.b = b.index;
    return push(in);
  }
  /// The program whose new states are `outputs` (h first); validated.
  CellProgram finish(const std::vector<CellReg>& outputs) {
    for (const CellReg& r : outputs) program_.outputs.push_back(r.index);
    program_.validate();
    return std::move(program_);
  }

 private:
  CellReg leaf(CellOp op, int32_t k) {
    CellInstr in;
    in.op = op;
    in.index = k;
    return push(in);
  }
  CellReg push(const CellInstr& in) {
    program_.code.push_back(in);
    return {this, static_cast<int32_t>(program_.code.size() - 1)};
  }
  CellProgram program_;
};

inline CellReg operator+(CellReg a, CellReg b) { return a.builder->emit(CellOp::add, a, b); }
inline CellReg operator-(CellReg a, CellReg b) { return a.builder->emit(CellOp::sub, a, b); }
inline CellReg operator*(CellReg a, CellReg b) { return a.builder->emit(CellOp::mul, a, b); }
inline CellReg operator/(CellReg a, CellReg b) { return a.builder->emit(CellOp::div, a, b); }
inline CellReg operator-(CellReg a) { return a.builder->emit(CellOp::neg, a); }
inline CellReg operator+(CellReg a, double s) { return a + a.builder->constant(s); }
inline CellReg operator+(double s, CellReg a) { return a.builder->constant(s) + a; }
inline CellReg operator-(CellReg a, double s) { return a - a.builder->constant(s); }
inline CellReg operator-(double s, CellReg a) { return a.builder->constant(s) - a; }
inline CellReg operator*(CellReg a, double s) { return a * a.builder->constant(s); }
inline CellReg operator*(double s, CellReg a) { return a.builder->constant(s) * a; }
inline CellReg sigmoid(CellReg a) { return a.builder->emit(CellOp::sigmoid, a); }
inline CellReg tanh(CellReg a) { return a.builder->emit(CellOp::tanh, a); }
inline CellReg relu(CellReg a) { return a.builder->emit(CellOp::relu, a); }
inline CellReg exp(CellReg a) { return a.builder->emit(CellOp::exp, a); }

}  // namespace unroll
