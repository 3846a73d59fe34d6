// SPDX-License-Identifier: Apache-2.0
// What lives here: cells from equations (models/cell_equations.h, models/equation_cell.h): every shipped
// cells/*.cell equal to its C++ cell in float64 (parameters, outputs, final states and every gradient),
// float64 finite-difference checks of equation cells, the programs they declare, the config round trip,
// and the parser's errors (file:line:column, the line, a caret).
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "autodiff/backward.h"
#include "autodiff/gradcheck.h"
#include "models/equation_cell.h"
#include "models/recurrent.h"
#include "ops/ops.h"
#include "test_helpers.h"

using namespace unroll;
using unroll::testing::max_abs_diff;
using unroll::testing::random_tensor;

namespace {

std::string cell_text(const std::string& name) {
  std::ifstream in(std::string(UNROLL_SOURCE_DIR) + "/cells/" + name + ".cell");
  REQUIRE(in.good());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Result {
  std::vector<std::string> names;  // parameter paths
  std::vector<Tensor> values;      // output, final states, then gradients: params, x, initial states
};

// A 2-layer bidirectional Recurrent of `config` in float64 on fixed inputs: its parameters, outputs and
// the gradients of a weighted sum of outputs and final states.
Result run(RecurrentConfig config) {
  constexpr int64_t T = 4, B = 3;
  config.input_size = 3;
  config.hidden_size = 5;
  config.layers = 2;
  config.bidirectional = true;
  Rng rng(77);
  Recurrent net(config, rng);
  Result r;
  for (auto& [path, p] : net.named_parameters()) {
    p->value = p->value.to(DType::f64);
    p->grad = Tensor::zeros(p->value.shape(), DType::f64);
    r.names.push_back(path);
    r.values.push_back(p->value.clone());
  }
  Rng data(5);
  Tape tape;
  const Var x = tape.leaf(random_tensor({T, B, 3}, data), true);
  std::vector<Var> h0;
  for (int s = 0; s < net.state_count(); ++s) h0.push_back(tape.leaf(random_tensor({4, B, 5}, data, -0.5, 0.5), true));
  const RecurrentOutput out = net.forward(tape, x, h0);
  Var loss = sum(out.output * tape.constant(random_tensor({T, B, 10}, data)));
  for (const Var& f : out.final_states) loss = loss + sum(f * tape.constant(random_tensor(f.shape(), data)));
  backward(loss);
  r.values.push_back(out.output.value().clone());  // clones: the tape's memory goes with it
  for (const Var& f : out.final_states) r.values.push_back(f.value().clone());
  for (auto& [path, p] : net.named_parameters()) r.values.push_back(p->grad.clone());
  r.values.push_back(x.grad().clone());
  for (const Var& h : h0) r.values.push_back(h.grad().clone());
  return r;
}

void check_equal_to_builtin(const std::string& name) {
  RecurrentConfig builtin;
  builtin.cell = name;
  RecurrentConfig equations = builtin;
  equations.cell_equations = cell_text(name);
  const Result a = run(builtin), b = run(equations);
  REQUIRE(a.names == b.names);  // Note [Cell layout]: the same paths, so checkpoints are interchangeable
  REQUIRE(a.values.size() == b.values.size());
  for (size_t i = 0; i < a.values.size(); ++i) {
    INFO(name, ": tensor ", i, " of ", a.values.size(), " (parameters first, then outputs, then gradients)");
    REQUIRE(a.values[i].shape() == b.values[i].shape());
    CHECK(max_abs_diff(a.values[i], b.values[i]) <= 1e-13);
  }
}

}  // namespace

TEST_CASE("cell file rnn_tanh equals the built-in cell") { check_equal_to_builtin("rnn_tanh"); }
TEST_CASE("cell file rnn_relu equals the built-in cell") { check_equal_to_builtin("rnn_relu"); }
TEST_CASE("cell file lstm equals the built-in cell") { check_equal_to_builtin("lstm"); }
TEST_CASE("cell file lstm_peephole equals the built-in cell") { check_equal_to_builtin("lstm_peephole"); }
TEST_CASE("cell file gru (cho form) equals the built-in cell") { check_equal_to_builtin("gru"); }
TEST_CASE("cell file gru_lbr equals the built-in cell") { check_equal_to_builtin("gru_lbr"); }

TEST_CASE("a cell file that differs from the built-in cell is caught") {  // the comparison can fail
  RecurrentConfig builtin;
  builtin.cell = "lstm";
  RecurrentConfig wrong = builtin;
  wrong.cell_equations = "cell lstm\nstate h, c\ngates i, f, g, o\nc' = sigmoid(f) * c + sigmoid(i) * tanh(g)\n"
                         "h' = sigmoid(o) * sigmoid(c')\n";
  const Result a = run(builtin), b = run(wrong);
  CHECK(max_abs_diff(a.values.back(), b.values.back()) > 1e-6);
}

TEST_CASE("gradcheck equation cells over several steps") {
  for (const char* name : {"cifg", "gru", "gru_lbr", "lstm_peephole"}) {
    CellRegistry registry;
    registry.register_equations(name, cell_text(name));
    Rng rng(2026);
    std::unique_ptr<Cell> cell = registry.create(name, 3, 4, rng);
    cell->to(DType::f64);
    constexpr int64_t T = 3, B = 2;
    std::vector<Tensor> inputs{random_tensor({T, B, 3}, rng)};
    std::vector<std::string> names{"x"};
    for (int s = 0; s < cell->state_count(); ++s) {
      inputs.push_back(random_tensor({B, 4}, rng, -0.8, 0.8));
      names.push_back(fmt::format("state{}", s));
    }
    GradcheckOptions options;
    options.input_names = names;
    const GradcheckReport report = gradcheck(
        [&](Tape& tape, const std::vector<Var>& in) {
          const Var px = cell->project_inputs(reshape(in[0], Shape{T * B, 3}));
          const std::shared_ptr<SequenceContext> seq = cell->open_sequence(tape, false);
          std::vector<Var> state(in.begin() + 1, in.end()), rows;
          for (int64_t t = 0; t < T; ++t) {
            state = cell->step(slice(px, 0, t * B, B), state, *seq);
            rows.push_back(state[0]);
          }
          rows.push_back(state.back());
          return concat(rows, 0);
        },
        inputs, cell->parameters(), options);
    INFO(name, ": ", report.summary());
    CHECK(report.ok);
    CHECK(report.worst_per_input.size() == inputs.size() + cell->parameters().size());
  }
}

TEST_CASE("equation cells declare their program unless they hold a product") {
  const auto program_of = [](const std::string& name) {
    CellRegistry registry;
    registry.register_equations(name, cell_text(name));
    Rng rng(1);
    const std::unique_ptr<Cell> cell = registry.create(name, 2, 3, rng);
    CHECK(cell->rows_independent());
    const CellProgram* p = cell->cell_program();
    return p == nullptr ? std::optional<CellProgram>() : std::optional<CellProgram>(*p);
  };
  for (const char* name : {"rnn_tanh", "rnn_relu", "lstm", "lstm_peephole", "cifg"}) {
    const std::optional<CellProgram> p = program_of(name);
    REQUIRE(p.has_value());
    p->validate();
    CHECK(p->uses_gate_sums_only());
  }
  const std::optional<CellProgram> lbr = program_of("gru_lbr");
  REQUIRE(lbr.has_value());
  CHECK_FALSE(lbr->uses_gate_sums_only());  // r scales n.h alone
  CHECK(lbr->gates == 3);
  CHECK(lbr->states == 1);
  CHECK_FALSE(program_of("gru").has_value());  // n.h(r * h) is a product
  const std::optional<CellProgram> peep = program_of("lstm_peephole");
  CHECK(peep->param_names == std::vector<std::string>{"w_ci", "w_cf", "w_co"});
  // constants fold and equal registers are shared: sigmoid(f) once in the CIFG program
  const std::optional<CellProgram> cifg = program_of("cifg");
  CHECK(std::count_if(cifg->code.begin(), cifg->code.end(), [](const CellInstr& in) { return in.op == CellOp::sigmoid; }) == 2);
}

TEST_CASE("equation cell matrix parameters and constants") {
  // A Cho-like GRU with its own matrix: registered after b_hh, applied as W(v); the program is absent.
  const std::string text =
      "cell mgu\nstate h\ngates f, n\nparam W[H,H], b[H]\n"
      "fz = sigmoid(f)\n"
      "h' = (1 - fz) * h + fz * tanh(n.x + W(fz * h) + b) / 2 + 0.5 * exp(-2) + 0.1 / (2 + exp(-fz))\n";
  CellRegistry registry;
  registry.register_equations("mgu", text);
  Rng rng(3);
  std::unique_ptr<Cell> cell = registry.create("mgu", 2, 3, rng);
  CHECK(cell->cell_program() == nullptr);
  std::vector<std::string> paths;
  for (auto& [path, p] : cell->named_parameters()) paths.push_back(path);
  CHECK(paths == std::vector<std::string>{"w_ih", "w_hh", "b_ih", "b_hh", "W", "b"});
  cell->to(DType::f64);
  const std::vector<Tensor> inputs{random_tensor({2, 2, 2}, rng), random_tensor({2, 3}, rng)};
  const GradcheckReport report = gradcheck(
      [&](Tape& tape, const std::vector<Var>& in) {
        const Var px = cell->project_inputs(reshape(in[0], Shape{4, 2}));
        const std::shared_ptr<SequenceContext> seq = cell->open_sequence(tape, false);
        std::vector<Var> state{in[1]};
        state = cell->step(slice(px, 0, 0, 2), state, *seq);
        state = cell->step(slice(px, 0, 2, 2), state, *seq);
        return state[0];
      },
      inputs, cell->parameters(), {});
  INFO(report.summary());
  CHECK(report.ok);
}

TEST_CASE("cell_equations round-trips through RecurrentConfig JSON") {
  RecurrentConfig c;
  c.cell = "cifg";
  c.cell_equations = cell_text("cifg");
  nlohmann::json j = c;
  CHECK(j.at("cell_equations") == c.cell_equations);
  RecurrentConfig back = j.get<RecurrentConfig>();
  CHECK(back.cell_equations == c.cell_equations);
  RecurrentConfig plain;
  nlohmann::json k = plain;
  CHECK_FALSE(k.contains("cell_equations"));  // configs of built-in cells stay as they were
  Rng rng(1);
  Recurrent net(back, rng);
  CHECK(net.cell(0).kind() == "cifg");
  CHECK(net.state_count() == 2);
}

TEST_CASE("cell equation errors name line, column and show a caret") {
  struct Case {
    const char* text;
    int line, column;
    const char* says;
  };
  const std::string head = "cell x\nstate h, c\ngates f, g\n";  // lines 1-3
  const Case cases[] = {
      {"h' = sigmod(f) * c\n", 4, 6, "unknown symbol 'sigmod'"},
      {"h' = f + g\n", 2, 10, "state c is never updated"},
      {"c' = f * c + g\n", 2, 7, "state h is never updated"},
      {"c' = f * c\nh' = tanh(c)\n", 3, 10, "gate g is declared but no state depends on it: the cell declares 2 gates "
                                            "and its equations use 1"},
      {"param W[H,3]\n", 4, 8, "shape [H,3], which cannot work"},
      {"param W[H,H]\nc' = W * c + f + g\nh' = c'\n", 5, 6, "'W' is a matrix [H,H]; it cannot be used element-wise"},
      {"c' = f + g\nc' = c\nh' = c'\n", 5, 1, "duplicate definition: state c' is already updated at line 4"},
      {"f = 1\n", 4, 1, "duplicate definition: 'f' is already defined at line 3"},
      {"state q\n", 4, 1, "duplicate definition: a second 'state' line"},
      {"h' = c' + f + g\nc' = c\n", 4, 6, "c' is read before it is defined"},
      {"h' = f(c) + g\n", 4, 7, "'f' is not a function or a matrix parameter"},
      {"h' = (f + g\n", 4, 12, "expected ')' closing the parenthesis"},
      {"h' = f.y + g\n", 4, 8, "a gate has parts f.x (input) and f.h (hidden), not 'y'"},
      {"h' = f + g $\n", 4, 12, "unexpected character '$'"},
      {"h' = 1e999 * f + g\n", 4, 6, "'1e999' is not a finite number"},
      {"h' = f + g g\n", 4, 12, "unexpected 'g' (hint: one statement per line)"},
      {"h = f + g\n", 4, 1, "duplicate definition: 'h' is already defined at line 2"},
      {"tanh = f\n", 4, 1, "'tanh' is a function and cannot name a value"},
      {"q' = f\n", 4, 1, "'q' is not a state"},
      {"c' = sigmoid\n", 4, 6, "function 'sigmoid' needs an argument"},
  };
  for (const Case& c : cases) {
    const std::string text = head + c.text;
    INFO(text);
    try {
      parse_cell_equations(text, "my.cell");
      FAIL("no error");
    } catch (const CellEquationError& e) {
      CHECK(e.line == c.line);
      CHECK(e.column == c.column);
      CHECK(e.first_line().find(c.says) != std::string::npos);
      CHECK(e.first_line().rfind(fmt::format("my.cell:{}:{}: ", c.line, c.column), 0) == 0);
      // the offending line, then the caret under the column
      std::istringstream lines(e.what());
      std::string first, shown, caret;
      std::getline(lines, first);
      std::getline(lines, shown);
      std::getline(lines, caret);
      CHECK(caret == std::string(static_cast<size_t>(c.column + 1), ' ') + "^");
    }
  }
  CHECK_THROWS_WITH_AS(parse_cell_equations("state h\ngates a\nh' = a\n", "f.cell"),
                       doctest::Contains("f.cell:1:1: no 'cell NAME' line"), CellEquationError);
  CHECK_THROWS_WITH_AS(parse_cell_equations("cell a\ngates a\n", "f.cell"), doctest::Contains("no 'state' line"),
                       CellEquationError);
  std::string deep = "cell d\nstate h\ngates a\nh' = ";
  for (int i = 0; i < 100; ++i) deep += "(";
  CHECK_THROWS_WITH_AS(parse_cell_equations(deep + "a", "f.cell"), doctest::Contains("nests deeper than 64"),
                       CellEquationError);
  std::string minus = "cell d\nstate h\ngates a\nh' = ";  // unary signs are a loop, not recursion
  for (int i = 0; i < 100000; ++i) minus += "-";
  CHECK_NOTHROW(parse_cell_equations(minus + "a\n", "f.cell"));
  CHECK_THROWS_AS(read_cell_file("/nonexistent/x.cell"), IoError);
}
