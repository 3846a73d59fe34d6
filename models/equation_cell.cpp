// SPDX-License-Identifier: Apache-2.0
// What lives here: EquationCell (Note [Equation cell] in equation_cell.h), CellRegistry::register_equations
// and read_cell_file.
#include "models/equation_cell.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "models/init.h"
#include "ops/ops.h"

namespace unroll {

namespace {

using Product = EquationInstr::Product;

bool is_leaf(const EquationInstr& in, CellOp op) { return in.product == Product::none && in.op.op == op; }

// The registers as a CellProgram for its checks, a product standing in as `neg` of its operand (the same
// reads), so uses_gate_sums_only() sees every read.
CellProgram read_pattern(const CellEquations& eq) {
  CellProgram p;
  p.gates = static_cast<int32_t>(eq.gates.size());
  p.states = static_cast<int32_t>(eq.states.size());
  p.param_names = eq.vector_param_names();
  for (const EquationInstr& in : eq.code)
    p.code.push_back(in.product == Product::none ? in.op : CellInstr{CellOp::neg, in.op.a});
  p.outputs = eq.outputs;
  return p;
}

}  // namespace

EquationCell::EquationCell(std::string name, std::shared_ptr<const CellEquations> equations, int input_size,
                           int hidden_size, Rng& rng, const nlohmann::json& options)
    : Cell(input_size, hidden_size, static_cast<int>(equations->gates.size()), rng, options),
      name_(std::move(name)),
      eq_(std::move(equations)),
      program_(eq_->program()) {
  check_options(options, {});
  const std::string scheme = options.is_object() ? options.value("init", std::string("uniform")) : "uniform";
  for (const EquationParam& p : eq_->params) {  // Note [Equation cell]: after b_hh, in declaration order
    Tensor t = Tensor::empty(p.matrix ? Shape{hidden_size, hidden_size} : Shape{hidden_size}, DType::f32);
    if (!p.matrix || scheme == "uniform") {
      init::uniform_recurrent(t, hidden_size, rng);
    } else if (scheme == "xavier") {
      init::xavier_uniform(t, rng);
    } else {
      init::orthogonal(t, rng);
    }
    (p.matrix ? matrix_params_ : vector_params_).push_back(&register_parameter(p.name, t));
  }
  const int G = gate_count();
  std::vector<char> standard(static_cast<size_t>(G), 0), applied(static_cast<size_t>(G), 0);
  for (const EquationInstr& in : eq_->code) {
    if (is_leaf(in, CellOp::gate_h)) standard[static_cast<size_t>(in.op.index)] = 1;
    if (in.product == Product::gate_hidden) applied[static_cast<size_t>(in.op.index)] = 1;
  }
  cut_hidden_ = std::find(applied.begin(), applied.end(), 1) != applied.end();
  sums_only_ = !cut_hidden_ && read_pattern(*eq_).uses_gate_sums_only();
  if (!cut_hidden_) return;
  hidden_cut_.assign(static_cast<size_t>(G), -1);
  product_cut_.assign(static_cast<size_t>(G), -1);
  for (int k = 0; k < G; ++k) {  // runs of consecutive gates read as g.h: one product each
    if (!standard[static_cast<size_t>(k)]) continue;
    if (k > 0 && hidden_cut_[static_cast<size_t>(k - 1)] >= 0) {
      ++cuts_.back().count;
    } else {
      cuts_.push_back({k, 1});
    }
    hidden_cut_[static_cast<size_t>(k)] = static_cast<int>(cuts_.size()) - 1;
  }
  for (int k = 0; k < G; ++k)
    if (applied[static_cast<size_t>(k)]) {
      product_cut_[static_cast<size_t>(k)] = static_cast<int>(cuts_.size());
      cuts_.push_back({k, 1});
    }
}

std::vector<Var> EquationCell::cut_weights(Tape& tape) {
  const Var w = tape.param(w_hh()), b = tape.param(b_hh());
  const int64_t H = hidden_size();
  std::vector<Var> out;
  for (const Cut& c : cuts_) {
    out.push_back(slice(w, 0, c.first * H, c.count * H));
    out.push_back(slice(b, 0, c.first * H, c.count * H));
  }
  return out;
}

void EquationCell::begin_sequence(SequenceContext& seq) {
  if (cut_hidden_) seq.nodes = cut_weights(seq.tape());
}

std::vector<Var> EquationCell::step(Var px, const std::vector<Var>& state, SequenceContext& seq) {
  check_step(px, state);
  Tape& tape = px.tape();
  const int G = gate_count();
  const int64_t B = px.shape()[0], H = hidden_size();
  const auto cut_gates = [&](Var v) { return G == 1 ? std::vector<Var>{v} : chunk(v, 1, G); };
  std::vector<Var> sums, gx, gh(static_cast<size_t>(G)), cut;  // [B, H] each
  if (sums_only_) {
    sums = cut_gates(px + project_hidden(state[0], seq));
  } else {
    gx = cut_gates(px);
    if (!cut_hidden_) {
      gh = cut_gates(project_hidden(state[0], seq));
    } else {  // Note [Equation cell]: the pieces cut once per sequence, or anew when those carry no gradient
      const bool reuse = seq.nodes.size() == 2 * cuts_.size() && (!tape.grad_enabled() || seq.nodes[0].requires_grad());
      cut = reuse ? seq.nodes : cut_weights(tape);
      for (size_t c = 0; c < cuts_.size(); ++c) {
        if (product_cut_[static_cast<size_t>(cuts_[c].first)] == static_cast<int>(c)) continue;
        const Var p = linear_packed(state[0], seq.packs(), cut[2 * c], cut[2 * c + 1]);
        const std::vector<Var> pieces = cuts_[c].count == 1 ? std::vector<Var>{p} : chunk(p, 1, cuts_[c].count);
        for (int i = 0; i < cuts_[c].count; ++i) gh[static_cast<size_t>(cuts_[c].first + i)] = pieces[static_cast<size_t>(i)];
      }
    }
  }

  // The registers: a Var, or a constant kept as a number (the scalar forms of the ops).
  struct Value {
    Var v;
    double c = 0;
    bool constant = false;
  };
  const auto rows = [&](const Value& a) {  // as [B, H]: constants filled, [H] parameters broadcast
    if (a.constant) return tape.constant(Tensor::full(Shape{B, H}, px.dtype(), a.c));
    if (a.v.shape() == Shape{B, H}) return a.v;
    return tape.constant(Tensor::zeros(Shape{B, H}, px.dtype())) + a.v;
  };
  std::vector<Value> r(eq_->code.size());
  for (size_t i = 0; i < eq_->code.size(); ++i) {
    const EquationInstr& in = eq_->code[i];
    const CellInstr& op = in.op;
    const size_t k = static_cast<size_t>(op.index);
    if (in.product == Product::matrix) {
      r[i].v = linear_packed(rows(r[static_cast<size_t>(op.a)]), seq.packs(), tape.param(*matrix_params_[k]));
      continue;
    }
    if (in.product == Product::gate_hidden) {
      const size_t c = static_cast<size_t>(product_cut_[k]);
      r[i].v = linear_packed(rows(r[static_cast<size_t>(op.a)]), seq.packs(), cut[2 * c], cut[2 * c + 1]);
      continue;
    }
    const Value& a = op.a >= 0 ? r[static_cast<size_t>(op.a)] : r[i];
    const Value& b = op.b >= 0 ? r[static_cast<size_t>(op.b)] : r[i];
    switch (op.op) {
      case CellOp::gate_x:
        if (!sums_only_) r[i].v = gx[k];
        break;
      case CellOp::gate_h:
        if (!sums_only_) r[i].v = gh[k];
        break;
      case CellOp::state: r[i].v = state[k]; break;
      case CellOp::param: r[i].v = tape.param(*vector_params_[k]); break;
      case CellOp::constant: r[i] = {Var{}, op.value, true}; break;
      case CellOp::add:
        if (sums_only_ && is_leaf(eq_->code[static_cast<size_t>(op.a)], CellOp::gate_x)) {
          r[i].v = sums[static_cast<size_t>(eq_->code[static_cast<size_t>(op.a)].op.index)];
        } else if (sums_only_ && is_leaf(eq_->code[static_cast<size_t>(op.a)], CellOp::gate_h)) {
          r[i].v = sums[static_cast<size_t>(eq_->code[static_cast<size_t>(op.a)].op.index)];
        } else {
          r[i].v = a.constant ? b.v + a.c : b.constant ? a.v + b.c : a.v + b.v;
        }
        break;
      case CellOp::sub: r[i].v = a.constant ? a.c - b.v : b.constant ? a.v - b.c : a.v - b.v; break;
      case CellOp::mul: r[i].v = a.constant ? b.v * a.c : b.constant ? a.v * b.c : a.v * b.v; break;
      case CellOp::div: r[i].v = b.constant ? a.v / b.c : a.constant ? rows(a) / b.v : a.v / b.v; break;
      case CellOp::neg: r[i].v = -a.v; break;
      case CellOp::sigmoid: r[i].v = sigmoid(a.v); break;
      case CellOp::tanh: r[i].v = tanh(a.v); break;
      case CellOp::relu: r[i].v = relu(a.v); break;
      case CellOp::exp: r[i].v = exp(a.v); break;
    }
  }
  std::vector<Var> out;
  for (int32_t reg : eq_->outputs) out.push_back(rows(r[static_cast<size_t>(reg)]));
  return out;
}

void CellRegistry::register_equations(const std::string& name, std::string_view text, const std::string& source) {
  auto eq = std::make_shared<const CellEquations>(parse_cell_equations(text, source.empty() ? name : source));
  register_cell(name, [name, eq](int in, int hidden, Rng& rng, const nlohmann::json& options) -> std::unique_ptr<Cell> {
    return std::make_unique<EquationCell>(name, eq, in, hidden, rng, options);
  });
}

CellEquations read_cell_file(const std::string& path) {
  std::error_code ec;
  UNROLL_CHECK(std::filesystem::is_regular_file(path, ec), IoError,
               "{}: not a readable cell file (hint: --cell-file takes a text file of equations, docs/cells.md)", path);
  const auto bytes = std::filesystem::file_size(path, ec);
  UNROLL_CHECK(!ec && bytes <= CellEquations::kMaxTextBytes, IoError, "{}: a cell file may have at most {} bytes",
               path, CellEquations::kMaxTextBytes);
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  UNROLL_CHECK(in.good() || in.eof(), IoError, "{}: cannot read the cell file", path);
  return parse_cell_equations(text.str(), path);
}

}  // namespace unroll
