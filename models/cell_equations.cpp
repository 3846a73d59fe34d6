// SPDX-License-Identifier: Apache-2.0
// What lives here: the parser of the cell equation format (Note [Cell equations] in cell_equations.h):
// a recursive-descent expression parser whose only recursion (parentheses and calls) is bounded at
// kMaxNesting, a register builder that folds constants and shares equal registers, the whole-file checks,
// and dead-register removal. Tokens and the error text: models/cell_equations_text.cpp.
#include "models/cell_equations.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include <fmt/ranges.h>

#include "models/cell_equations_text.h"

namespace unroll {

bool CellEquations::has_products() const {
  return std::any_of(code.begin(), code.end(),
                     [](const EquationInstr& in) { return in.product != EquationInstr::Product::none; });
}

std::vector<std::string> CellEquations::vector_param_names() const {
  std::vector<std::string> out;
  for (const EquationParam& p : params)
    if (!p.matrix) out.push_back(p.name);
  return out;
}

std::vector<std::string> CellEquations::matrix_param_names() const {
  std::vector<std::string> out;
  for (const EquationParam& p : params)
    if (p.matrix) out.push_back(p.name);
  return out;
}

std::optional<CellProgram> CellEquations::program() const {
  if (has_products()) return std::nullopt;
  CellProgram p;
  p.gates = static_cast<int32_t>(gates.size());
  p.states = static_cast<int32_t>(states.size());
  p.param_names = vector_param_names();
  for (const EquationInstr& in : code) p.code.push_back(in.op);
  p.outputs = outputs;
  p.validate();
  return p;
}

namespace {

using cell_equations_text::LexError;
using cell_equations_text::Tok;
using cell_equations_text::Token;
using cell_equations_text::tokenize_line;

const char* const kFunctions[] = {"sigmoid", "tanh", "relu", "exp"};
const CellOp kFunctionOps[] = {CellOp::sigmoid, CellOp::tanh, CellOp::relu, CellOp::exp};
const char* const kKeywords[] = {"cell", "state", "gates", "param", "H"};

int function_index(std::string_view name) {
  for (int i = 0; i < 4; ++i)
    if (name == kFunctions[i]) return i;
  return -1;
}

// What a name refers to.
struct Symbol {
  enum Kind : uint8_t { state, gate, vector_param, matrix_param, value } kind = value;
  int32_t index = 0;  // state, gate, parameter (within its kind) or the register of a value
  int line = 0, column = 0;
};

class Parser {
 public:
  Parser(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  CellEquations parse() {
    if (text_.size() > CellEquations::kMaxTextBytes)
      fail_at(1, 1, fmt::format("the text has {} bytes, more than the {} a cell may have", text_.size(),
                                CellEquations::kMaxTextBytes));
    size_t begin = 0;
    while (begin <= text_.size()) {
      size_t end = text_.find('\n', begin);
      if (end == std::string_view::npos) end = text_.size();
      ++line_no_;
      line_ = text_.substr(begin, end - begin);
      tokenize();
      if (tokens_.front().kind != Tok::end) statement();
      begin = end + 1;
    }
    finish();
    return std::move(eq_);
  }

 private:
  std::string_view text_;
  std::string source_;
  CellEquations eq_;
  std::map<std::string, Symbol, std::less<>> symbols_;
  std::map<std::tuple<uint8_t, uint8_t, int32_t, int32_t, int32_t, double>, int32_t> shared_;  // equal registers
  std::vector<int> new_state_line_;  // line of each state's update (0: none yet)
  Symbol cell_at_, state_at_, gates_at_;  // where each header line was (line 0: not yet)
  int line_no_ = 0;
  std::string_view line_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;

  [[noreturn]] void fail_at(int line, int column, const std::string& message) const {
    throw CellEquationError(source_, line, std::min(column, 202), message,
                            cell_equations_text::shown_line(text_, line));
  }
  [[noreturn]] void fail(const Token& t, const std::string& message) const { fail_at(line_no_, t.column, message); }

  // ---- tokens of the current line (models/cell_equations_text.h) ----
  void tokenize() {
    pos_ = 0;
    try {
      tokens_ = tokenize_line(line_);
    } catch (const LexError& e) {
      fail_at(line_no_, e.column, e.message);
    }
  }
  const Token& peek() const { return tokens_[pos_]; }
  bool at(std::string_view punct) const { return peek().kind == Tok::punct && peek().text == punct; }
  Token next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
  void expect(std::string_view punct, const char* what) {
    if (!at(punct))
      fail(peek(), fmt::format("expected '{}' {}, found {}", punct, what, describe(peek())));
    next();
  }
  static std::string describe(const Token& t) {
    return t.kind == Tok::end ? std::string("the end of the line") : fmt::format("'{}'", t.text);
  }
  Token expect_name(const char* what) {
    if (peek().kind != Tok::name) fail(peek(), fmt::format("expected {}, found {}", what, describe(peek())));
    return next();
  }
  void expect_end() {
    if (peek().kind != Tok::end)
      fail(peek(), fmt::format("unexpected {} (hint: one statement per line)", describe(peek())));
  }

  // ---- statements ----
  void statement() {
    const Token first = peek();
    const bool assigns = tokens_[1].kind == Tok::punct && (tokens_[1].text == "=" || tokens_[1].text == "'");
    if (first.kind == Tok::name && !assigns) {
      if (first.text == "cell") return cell_line();
      if (first.text == "state") return names_line(state_at_, Symbol::state, "state", eq_.states);
      if (first.text == "gates") return names_line(gates_at_, Symbol::gate, "gates", eq_.gates);
      if (first.text == "param") return param_line();
    }
    assignment();
  }

  void once(Symbol& where, const Token& t, const char* what) {
    if (where.line != 0)
      fail(t, fmt::format("duplicate definition: a second '{}' line (the first is line {})", what, where.line));
    where.line = line_no_;
    where.column = t.column;
  }

  void cell_line() {
    once(cell_at_, next(), "cell");
    eq_.name = std::string(expect_name("the cell's name after 'cell'").text);
    expect_end();
  }

  void declare(const Token& t, Symbol symbol) {
    for (const char* k : kKeywords)
      if (t.text == k) fail(t, fmt::format("'{}' is a keyword and cannot name a value", t.text));
    if (function_index(t.text) >= 0) fail(t, fmt::format("'{}' is a function and cannot name a value", t.text));
    const auto it = symbols_.find(t.text);
    if (it != symbols_.end())
      fail(t, fmt::format("duplicate definition: '{}' is already defined at line {}", t.text, it->second.line));
    symbol.line = line_no_;
    symbol.column = t.column;
    symbols_.emplace(std::string(t.text), symbol);
  }

  void names_line(Symbol& where, Symbol::Kind kind, const char* what, std::vector<std::string>& names) {
    once(where, next(), what);
    for (;;) {
      const Token t = expect_name(kind == Symbol::state ? "a state name" : "a gate name");
      if (names.size() >= static_cast<size_t>(CellEquations::kMaxNames))
        fail(t, fmt::format("more than {} {}", CellEquations::kMaxNames, kind == Symbol::state ? "states" : "gates"));
      declare(t, {kind, static_cast<int32_t>(names.size())});
      names.emplace_back(t.text);
      if (!at(",")) break;
      next();
    }
    expect_end();
    if (kind == Symbol::state) new_state_line_.assign(names.size(), 0);
  }

  void param_line() {
    next();
    for (;;) {
      const Token t = expect_name("a parameter name");
      const Token open = peek();
      expect("[", "and the parameter's shape ([H] or [H,H]) after its name");
      std::vector<Token> dims;
      while (!at("]") && peek().kind != Tok::end) dims.push_back(next());
      expect("]", "closing the shape");
      const bool vec = dims.size() == 1 && dims[0].text == "H";
      const bool mat = dims.size() == 3 && dims[0].text == "H" && dims[1].text == "," && dims[2].text == "H";
      if (!vec && !mat) {
        std::string shape;
        for (const Token& d : dims) shape += std::string(d.text);
        fail(open, fmt::format("parameter '{}' has shape [{}], which cannot work: a parameter is a vector [H] "
                               "(element-wise, like a peephole) or a matrix [H,H] applied as {}(v)",
                               t.text, shape, t.text));
      }
      if (eq_.params.size() >= static_cast<size_t>(CellEquations::kMaxNames))
        fail(t, fmt::format("more than {} parameters", CellEquations::kMaxNames));
      const int32_t index = static_cast<int32_t>(
          std::count_if(eq_.params.begin(), eq_.params.end(), [&](const EquationParam& p) { return p.matrix == mat; }));
      declare(t, {mat ? Symbol::matrix_param : Symbol::vector_param, index});
      eq_.params.push_back({std::string(t.text), mat, index});
      if (!at(",")) break;
      next();
    }
    expect_end();
  }

  void assignment() {
    const Token target = expect_name("a statement (cell, state, gates, param, or NAME = expression)");
    const bool update = at("'");
    if (update) next();
    expect("=", update ? "after the state update" : "after the name (or a declaration keyword)");
    if (peek().kind == Tok::end) fail(peek(), "expected an expression after '='");
    const int32_t reg = expression();
    expect_end();
    if (!update) {
      declare(target, {Symbol::value, reg});
      return;
    }
    const auto it = symbols_.find(target.text);
    if (it == symbols_.end() || it->second.kind != Symbol::state)
      fail(target, fmt::format("'{}' is not a state, so it has no update {}' (hint: declare it on the state "
                               "line, or write {} = ... for an intermediate value)",
                               target.text, target.text, target.text));
    const size_t s = static_cast<size_t>(it->second.index);
    if (new_state_line_[s] != 0)
      fail(target, fmt::format("duplicate definition: state {}' is already updated at line {}", target.text,
                               new_state_line_[s]));
    new_state_line_[s] = line_no_;
    if (eq_.outputs.size() < eq_.states.size()) eq_.outputs.assign(eq_.states.size(), -1);
    eq_.outputs[s] = reg;
  }

  // ---- expressions: sum := product (('+'|'-') product)*, product := unary (('*'|'/') unary)* ----
  int32_t expression() {
    if (++depth_ > CellEquations::kMaxNesting)
      fail(peek(), fmt::format("the expression nests deeper than {} levels", CellEquations::kMaxNesting));
    int32_t left = product();
    while (at("+") || at("-")) {
      const CellOp op = next().text == "+" ? CellOp::add : CellOp::sub;
      left = emit({op, left, product()});
    }
    --depth_;
    return left;
  }
  int32_t product() {
    int32_t left = unary();
    while (at("*") || at("/")) {
      const CellOp op = next().text == "*" ? CellOp::mul : CellOp::div;
      left = emit({op, left, unary()});
    }
    return left;
  }
  int32_t unary() {
    bool negate = false;
    while (at("-") || at("+"))
      if (next().text == "-") negate = !negate;
    const int32_t value = primary();
    return negate ? emit({CellOp::neg, value}) : value;
  }
  int32_t call_argument() {
    expect("(", "");
    const int32_t arg = expression();
    expect(")", "closing the call");
    return arg;
  }
  int32_t primary() {
    const Token t = next();
    if (t.kind == Tok::number) return emit({CellOp::constant, -1, -1, 0, t.value});
    if (t.kind == Tok::punct && t.text == "(") {
      const int32_t inner = expression();
      expect(")", "closing the parenthesis");
      return inner;
    }
    if (t.kind != Tok::name) fail(t, fmt::format("expected a value, found {}", describe(t)));
    if (const int f = function_index(t.text); f >= 0) {
      if (!at("(")) fail(t, fmt::format("function '{}' needs an argument: {}(...)", t.text, t.text));
      return emit({kFunctionOps[f], call_argument()});
    }
    const auto it = symbols_.find(t.text);
    if (it == symbols_.end()) {
      std::vector<std::string> known;
      for (const auto& [name, s] : symbols_) known.push_back(name);
      fail(t, fmt::format("unknown symbol '{}' (hint: defined so far: {}; functions: sigmoid, tanh, relu, exp)",
                          t.text, known.empty() ? std::string("nothing") : fmt::format("{}", fmt::join(known, ", "))));
    }
    const Symbol s = it->second;
    if (at("(") && s.kind != Symbol::matrix_param)
      fail(peek(), fmt::format("'{}' is not a function or a matrix parameter, so it cannot be applied (hint: "
                               "write {} * (...) to multiply element-wise)", t.text, t.text));
    switch (s.kind) {
      case Symbol::value: return s.index;
      case Symbol::vector_param: return emit({CellOp::param, -1, -1, s.index});
      case Symbol::matrix_param: {
        if (!at("("))
          fail(t, fmt::format("'{}' is a matrix [H,H]; it cannot be used element-wise (hint: apply it: {}(v))",
                              t.text, t.text));
        return emit({CellOp::constant, call_argument(), -1, s.index}, EquationInstr::Product::matrix);
      }
      case Symbol::state: {
        if (!at("'")) return emit({CellOp::state, -1, -1, s.index});
        next();
        const size_t k = static_cast<size_t>(s.index);
        if (new_state_line_[k] == 0)
          fail(t, fmt::format("{}' is read before it is defined (hint: define {}' = ... on an earlier line)", t.text,
                              t.text));
        return eq_.outputs[k];
      }
      case Symbol::gate: break;
    }
    if (!at(".")) {
      const int32_t x = emit({CellOp::gate_x, -1, -1, s.index}), h = emit({CellOp::gate_h, -1, -1, s.index});
      return emit({CellOp::add, x, h});
    }
    next();
    const Token part = next();
    if (part.kind == Tok::name && part.text == "x") return emit({CellOp::gate_x, -1, -1, s.index});
    if (part.kind != Tok::name || part.text != "h")
      fail(part, fmt::format("a gate has parts {}.x (input) and {}.h (hidden), not {}", t.text, t.text, describe(part)));
    if (!at("(")) return emit({CellOp::gate_h, -1, -1, s.index});
    return emit({CellOp::constant, call_argument(), -1, s.index}, EquationInstr::Product::gate_hidden);
  }

  // A register for `op`: constants folded, an equal earlier register reused.
  int32_t emit(CellInstr op, EquationInstr::Product product = EquationInstr::Product::none) {
    const auto constant = [&](int32_t reg) {
      return reg >= 0 && eq_.code[static_cast<size_t>(reg)].product == EquationInstr::Product::none &&
             eq_.code[static_cast<size_t>(reg)].op.op == CellOp::constant;
    };
    const auto value = [&](int32_t reg) { return eq_.code[static_cast<size_t>(reg)].op.value; };
    const bool binary = op.op == CellOp::add || op.op == CellOp::sub || op.op == CellOp::mul || op.op == CellOp::div;
    const bool unary = op.op == CellOp::neg || op.op == CellOp::sigmoid || op.op == CellOp::tanh ||
                       op.op == CellOp::relu || op.op == CellOp::exp;
    if (product == EquationInstr::Product::none && constant(op.a) && (unary || (binary && constant(op.b)))) {
      const double a = value(op.a), b = binary ? value(op.b) : 0;
      double r = 0;
      switch (op.op) {
        case CellOp::add: r = a + b; break;
        case CellOp::sub: r = a - b; break;
        case CellOp::mul: r = a * b; break;
        case CellOp::div: r = a / b; break;
        case CellOp::neg: r = -a; break;
        case CellOp::sigmoid: r = 1 / (1 + std::exp(-a)); break;
        case CellOp::tanh: r = std::tanh(a); break;
        case CellOp::relu: r = a > 0 ? a : 0; break;
        default: r = std::exp(a); break;
      }
      if (!std::isfinite(r)) fail(peek(), "a constant part of this expression is not a finite number");
      op = {CellOp::constant, -1, -1, 0, r};
    }
    const auto key = std::make_tuple(static_cast<uint8_t>(op.op), static_cast<uint8_t>(product), op.a,
                                     binary ? op.b : -1, op.index, op.value);
    if (const auto it = shared_.find(key); it != shared_.end()) return it->second;
    eq_.code.push_back({op, product});
    const int32_t reg = static_cast<int32_t>(eq_.code.size()) - 1;
    shared_.emplace(key, reg);
    return reg;
  }

  // ---- whole-file checks, then dead registers removed ----
  void finish() {
    const int last = std::max(line_no_, 1);
    if (cell_at_.line == 0) fail_at(1, 1, "no 'cell NAME' line (hint: start the file with e.g. 'cell my_cell')");
    if (state_at_.line == 0) fail_at(last, 1, "no 'state' line (hint: e.g. 'state h, c'; h, the output, first)");
    if (gates_at_.line == 0) fail_at(last, 1, "no 'gates' line (hint: e.g. 'gates i, f, g, o')");
    for (size_t s = 0; s < eq_.states.size(); ++s)
      if (new_state_line_[s] == 0) {
        const Symbol& at = symbols_.at(eq_.states[s]);
        fail_at(at.line, at.column, fmt::format("state {} is never updated (hint: add a line {}' = ...)", eq_.states[s],
                                                eq_.states[s]));
      }
    std::vector<char> live(eq_.code.size(), 0);
    for (int32_t reg : eq_.outputs) live[static_cast<size_t>(reg)] = 1;
    for (size_t r = eq_.code.size(); r-- > 0;) {
      if (!live[r]) continue;
      const EquationInstr& in = eq_.code[r];
      if (in.op.a >= 0) live[static_cast<size_t>(in.op.a)] = 1;
      if (in.op.b >= 0) live[static_cast<size_t>(in.op.b)] = 1;
    }
    std::vector<char> gate_used(eq_.gates.size(), 0), param_used(eq_.params.size(), 0);
    std::vector<int32_t> renumber(eq_.code.size(), -1);
    std::vector<EquationInstr> kept;
    for (size_t r = 0; r < eq_.code.size(); ++r) {
      if (!live[r]) continue;
      EquationInstr in = eq_.code[r];
      if (in.op.a >= 0) in.op.a = renumber[static_cast<size_t>(in.op.a)];
      if (in.op.b >= 0) in.op.b = renumber[static_cast<size_t>(in.op.b)];
      const bool gate = in.product == EquationInstr::Product::gate_hidden ||
                        (in.product == EquationInstr::Product::none &&
                         (in.op.op == CellOp::gate_x || in.op.op == CellOp::gate_h));
      if (gate) gate_used[static_cast<size_t>(in.op.index)] = 1;
      const bool matrix = in.product == EquationInstr::Product::matrix;
      if (matrix || (in.product == EquationInstr::Product::none && in.op.op == CellOp::param))
        for (size_t p = 0; p < eq_.params.size(); ++p)
          if (eq_.params[p].matrix == matrix && eq_.params[p].index == in.op.index) param_used[p] = 1;
      renumber[r] = static_cast<int32_t>(kept.size());
      kept.push_back(in);
    }
    for (size_t g = 0; g < eq_.gates.size(); ++g)
      if (!gate_used[g]) {
        const Symbol& at = symbols_.at(eq_.gates[g]);
        fail_at(at.line, at.column,
                fmt::format("gate {} is declared but no state depends on it: the cell declares {} gates and its "
                            "equations use {} (hint: remove it from the gates line, or use it)",
                            eq_.gates[g], eq_.gates.size(), std::count(gate_used.begin(), gate_used.end(), 1)));
      }
    for (size_t p = 0; p < eq_.params.size(); ++p)
      if (!param_used[p]) {
        const Symbol& at = symbols_.at(eq_.params[p].name);
        fail_at(at.line, at.column, fmt::format("parameter {} is declared but no state depends on it",
                                                eq_.params[p].name));
      }
    eq_.code = std::move(kept);
    for (int32_t& reg : eq_.outputs) reg = renumber[static_cast<size_t>(reg)];
    eq_.text = std::string(text_);
  }
};

}  // namespace

CellEquations parse_cell_equations(std::string_view text, const std::string& source) {
  return Parser(text, source).parse();
}

}  // namespace unroll
