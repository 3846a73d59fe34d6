// SPDX-License-Identifier: Apache-2.0
// What lives here: the program engine (cell_program_sequence, Note [Program step loop]) against the graph
// path it replaces: the built-in cells written as programs (tests/cell_programs.h) and the example CIFG cell's
// own program, on the cell's weights, equal the cell's step() recorded T times -- outputs, final states and
// EVERY gradient (x, initial states, w_ih, w_hh, b_ih, b_hh, vector parameters), float64 to 1e-12 and
// float32 to rounding, both directions, several row blocks and chunks of units; the programs equal the
// stock step loop (rnn_sequence); the batch split gives the same float64 bits for 1, 2, 3 threads;
// Recurrent takes the program path for the CIFG cell (and not when masked or in float64); bad input is
// refused. The finite-difference checks of the op are in tests/test_ops_grad.cpp.
#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "cell_programs.h"
#include "examples/cifg_cell.h"
#include "test_helpers.h"
#include "unroll.h"

using namespace unroll;
using unroll::testing::builtin_program;
using unroll::testing::count_ops;
using unroll::testing::max_scaled_diff;
using unroll::testing::OmpThreads;
using unroll::testing::random_tensor;

namespace {

using Values = std::vector<std::pair<std::string, Tensor>>;  // name -> float64 copy

// One layer and direction of `cell` over x [T, B, I] from `init`, on the program engine (fused) or as T
// step() calls; the loss weights h at every step and the final states by fixed random tensors. Returns the
// outputs and every gradient, in the same order for both paths.
Values run_layer(Cell& cell, const CellProgram& program, bool fused, DType dtype, const Tensor& x,
                 const std::vector<Tensor>& init, bool reverse) {
  cell.to(dtype);
  cell.zero_grad();
  const int64_t T = x.shape()[0], B = x.shape()[1], H = cell.hidden_size();
  const int S = cell.state_count();
  Tape tape;
  const Var xv = tape.leaf(x.to(dtype), true);
  std::vector<Var> states;
  for (const Tensor& s : init) states.push_back(tape.leaf(s.to(dtype), true));
  Var hs;
  std::vector<Var> finals(static_cast<size_t>(S));
  if (fused) {
    std::vector<Var> params;
    for (const std::string& name : program.param_names) params.push_back(tape.param(*cell.find_parameter(name)));
    const Var packed = cell_program_sequence(program, xv, states, tape.param(cell.w_ih()), tape.param(cell.w_hh()),
                                             tape.param(cell.b_ih()), tape.param(cell.b_hh()), params, reverse);
    hs = slice(packed, 0, 0, T);
    finals[0] = slice(hs, 0, reverse ? 0 : T - 1, 1);
    for (int s = 1; s < S; ++s) finals[static_cast<size_t>(s)] = slice(packed, 0, T + s - 1, 1);
  } else {
    const Var px = cell.project_inputs(reshape(xv, Shape{T * B, x.shape()[2]}));
    const auto seq = cell.open_sequence(tape);
    std::vector<Var> state = states, outs(static_cast<size_t>(T));
    for (int64_t k = 0; k < T; ++k) {
      const int64_t t = reverse ? T - 1 - k : k;
      state = cell.step(slice(px, 0, t * B, B), state, *seq);
      outs[static_cast<size_t>(t)] = reshape(state[0], Shape{1, B, H});
    }
    hs = concat(outs, 0);
    for (int s = 0; s < S; ++s) finals[static_cast<size_t>(s)] = reshape(state[static_cast<size_t>(s)], Shape{1, B, H});
  }
  Rng wrng(3);
  const auto weighted = [&](const Var& v) {
    return sum(mul(v, tape.constant(random_tensor(v.shape(), wrng).to(dtype))));
  };
  Var loss = weighted(hs);
  for (const Var& f : finals) loss = add(loss, weighted(f));
  backward(loss);
  Values out;
  const auto keep = [&](std::string name, const Tensor& t) { out.emplace_back(std::move(name), t.to(DType::f64)); };
  keep("h", hs.value());
  for (int s = 0; s < S; ++s) keep(fmt::format("final state {}", s), finals[static_cast<size_t>(s)].value());
  keep("dx", xv.grad());
  for (int s = 0; s < S; ++s) keep(fmt::format("d initial state {}", s), states[static_cast<size_t>(s)].grad());
  for (const auto& [path, p] : cell.named_parameters()) keep("d " + path, p->grad);
  return out;
}

void check_close(const Values& a, const Values& b, double tolerance) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i].first);
    REQUIRE(a[i].first == b[i].first);
    CHECK(max_scaled_diff(a[i].second, b[i].second) <= tolerance);
  }
}

std::vector<Tensor> random_states(int S, int64_t B, int64_t H, Rng& rng) {
  std::vector<Tensor> s;
  for (int i = 0; i < S; ++i) s.push_back(random_tensor({B, H}, rng));
  return s;
}

const std::vector<std::string> kBuiltins = {"lstm", "lstm_peephole", "gru_lbr", "rnn_tanh", "rnn_relu"};

}  // namespace

TEST_CASE("cell program: the built-in cells as programs equal their step() graphs, float64 and float32") {
  for (const std::string& name : kBuiltins)
    for (const bool reverse : {false, true})
      for (const int64_t H : {int64_t{5}, int64_t{130}}) {  // 130: two chunks of units, the second short
        CAPTURE(name);
        CAPTURE(reverse);
        CAPTURE(H);
        const CellProgram program = builtin_program(name);
        Rng rng(11);
        const std::unique_ptr<Cell> cell = builtin_cells().create(name, 3, static_cast<int>(H), rng);
        if (name == "lstm_peephole")  // nonzero peepholes (they start at zero)
          for (const char* p : {"w_ci", "w_cf", "w_co"}) cell->find_parameter(p)->value = random_tensor({H}, rng);
        const int64_t T = 4, B = 3;
        const Tensor x = random_tensor({T, B, 3}, rng);
        const std::vector<Tensor> init = random_states(cell->state_count(), B, H, rng);
        const OmpThreads threads(2);
        check_close(run_layer(*cell, program, true, DType::f64, x, init, reverse),
                    run_layer(*cell, program, false, DType::f64, x, init, reverse), 1e-12);
        check_close(run_layer(*cell, program, true, DType::f32, x, init, reverse),
                    run_layer(*cell, program, false, DType::f32, x, init, reverse), 1e-5);
      }
}

TEST_CASE("cell program: the CIFG cell's own program equals its step() graph, float64 and float32") {
  for (const bool reverse : {false, true}) {
    CAPTURE(reverse);
    Rng rng(5);
    examples::CifgCell cell(4, 6, rng);
    REQUIRE(cell.cell_program() != nullptr);
    const Tensor x = random_tensor({5, 7, 4}, rng);
    const std::vector<Tensor> init = random_states(2, 7, 6, rng);
    const OmpThreads threads(3);  // three row blocks
    check_close(run_layer(cell, *cell.cell_program(), true, DType::f64, x, init, reverse),
                run_layer(cell, *cell.cell_program(), false, DType::f64, x, init, reverse), 1e-12);
    check_close(run_layer(cell, *cell.cell_program(), true, DType::f32, x, init, reverse),
                run_layer(cell, *cell.cell_program(), false, DType::f32, x, init, reverse), 1e-5);
  }
}

TEST_CASE("cell program: the LSTM, GRU and Elman programs equal the stock step loop (rnn_sequence), float64") {
  const std::vector<std::pair<std::string, RnnKind>> kinds = {
      {"lstm", RnnKind::lstm}, {"gru_lbr", RnnKind::gru_lbr}, {"rnn_tanh", RnnKind::rnn_tanh}, {"rnn_relu", RnnKind::rnn_relu}};
  for (const auto& [name, kind] : kinds)
    for (const bool reverse : {false, true}) {
      CAPTURE(name);
      CAPTURE(reverse);
      const CellProgram program = builtin_program(name);
      const int64_t T = 6, B = 5, I = 3, H = 4, GH = rnn_gate_count(kind) * H;
      Rng rng(9);
      std::vector<Tensor> in{random_tensor({T, B, I}, rng), random_tensor({GH, I}, rng), random_tensor({GH, H}, rng),
                             random_tensor({GH}, rng),      random_tensor({GH}, rng),    random_tensor({B, H}, rng),
                             random_tensor({B, H}, rng)};
      const bool lstm = kind == RnnKind::lstm;
      const auto run = [&](bool stock) {
        Tape tape;
        std::vector<Var> v;
        for (const Tensor& t : in) v.push_back(tape.leaf(t, true));
        const Var y = stock ? rnn_sequence(kind, v[0], v[5], lstm ? v[6] : Var(), v[1], v[2], v[3], v[4], reverse)
                            : cell_program_sequence(program, v[0], lstm ? std::vector<Var>{v[5], v[6]}
                                                                        : std::vector<Var>{v[5]},
                                                    v[1], v[2], v[3], v[4], {}, reverse);
        Rng wrng(1);
        backward(sum(mul(y, tape.constant(random_tensor(y.shape(), wrng)))));
        std::vector<Tensor> r{y.value().clone()};  // owning copies: the tape's memory goes with it
        for (size_t i = 0; i < (lstm ? 7u : 6u); ++i) r.push_back(v[i].grad().clone());
        return r;
      };
      const std::vector<Tensor> a = run(true), b = run(false);
      for (size_t i = 0; i < a.size(); ++i) {
        CAPTURE(i);
        CHECK(max_scaled_diff(b[i], a[i]) <= 1e-12);
      }
    }
}

TEST_CASE("cell program: the batch split gives the same float64 bits for 1, 2 and 3 threads") {
  Rng rng(8);
  const CellProgram program = builtin_program("lstm_peephole");
  const std::unique_ptr<Cell> cell = builtin_cells().create("lstm_peephole", 2, 3, rng);
  for (const char* p : {"w_ci", "w_cf", "w_co"}) cell->find_parameter(p)->value = random_tensor({3}, rng);
  const Tensor x = random_tensor({4, 7, 2}, rng);
  const std::vector<Tensor> init = random_states(2, 7, 3, rng);
  std::vector<Values> runs;
  for (const int n : {1, 2, 3}) {
    const OmpThreads threads(n);
    runs.push_back(run_layer(*cell, program, true, DType::f64, x, init, true));
  }
  for (size_t r = 1; r < runs.size(); ++r)
    for (size_t i = 0; i < runs[0].size(); ++i) {
      CAPTURE(runs[0][i].first);
      CHECK(unroll::testing::max_abs_diff(runs[r][i].second, runs[0][i].second) == 0.0);
    }
}

TEST_CASE("cell program: Recurrent runs the CIFG cell on the program engine in float32, equal to the graph path") {
  CellRegistry registry = builtin_cells();
  examples::register_cifg(registry);
  const auto run = [&](bool fused, DType dtype, const std::vector<int64_t>& lengths) {
    RecurrentConfig config{.cell = "cifg", .input_size = 3, .hidden_size = 5, .layers = 2, .bidirectional = true};
    config.fused = fused;
    Rng init_rng(42);
    Recurrent model(config, init_rng, registry);
    model.to(dtype);
    model.zero_grad();
    Tape tape;
    Rng rng(4);
    const Var x = tape.leaf(random_tensor({4, 3, 3}, rng).to(dtype), true);
    const RecurrentOutput out = model.forward(tape, x, {}, lengths);
    Rng wrng(3);
    backward(sum(mul(out.output, tape.constant(random_tensor(out.output.shape(), wrng).to(dtype)))));
    std::vector<Tensor> r{out.output.value().to(DType::f64), x.grad().to(DType::f64)};
    for (const auto& [path, p] : model.named_parameters()) r.push_back(p->grad.to(DType::f64));
    return std::make_pair(count_ops(tape, OpKind::cell_program_sequence), r);
  };
  const auto [n_fused, fused] = run(true, DType::f32, {});
  const auto [n_graph, graph] = run(false, DType::f32, {});
  CHECK(n_fused == 4);  // 2 layers x 2 directions
  CHECK(n_graph == 0);
  for (size_t i = 0; i < fused.size(); ++i) {
    CAPTURE(i);
    CHECK(max_scaled_diff(fused[i], graph[i]) <= 1e-5);
  }
  CHECK(run(true, DType::f32, {4, 2, 3}).first == 0);  // masked: the graph path
  CHECK(run(true, DType::f64, {}).first == 0);         // float64: the graph path, the reference
}

TEST_CASE("cell program: Recurrent runs cells from equations on the program engine, equal to their graph path") {
  for (const std::string name : {"cifg", "lstm_peephole", "gru_lbr", "rnn_tanh"}) {
    CAPTURE(name);
    std::ifstream in(std::string(UNROLL_SOURCE_DIR) + "/cells/" + name + ".cell");
    REQUIRE(in.good());
    std::ostringstream text;
    text << in.rdbuf();
    const auto run = [&](bool fused) {
      RecurrentConfig config{.cell = name, .input_size = 3, .hidden_size = 5, .layers = 2, .bidirectional = true};
      config.cell_equations = text.str();
      config.fused = fused;
      Rng init_rng(42);
      Recurrent model(config, init_rng);
      Rng prng(8);  // nonzero peepholes (they start at zero)
      for (const auto& [path, p] : model.named_parameters())
        if (path.find("w_c") != std::string::npos) p->value = random_tensor(p->value.shape(), prng).to(p->value.dtype());
      model.zero_grad();
      Tape tape;
      Rng rng(4);
      const Var x = tape.leaf(random_tensor({4, 3, 3}, rng).to(DType::f32), true);
      const RecurrentOutput out = model.forward(tape, x);
      Rng wrng(3);
      backward(sum(mul(out.output, tape.constant(random_tensor(out.output.shape(), wrng).to(DType::f32)))));
      std::vector<Tensor> r{out.output.value().to(DType::f64), x.grad().to(DType::f64)};
      for (const auto& [path, p] : model.named_parameters()) r.push_back(p->grad.to(DType::f64));
      return std::make_pair(count_ops(tape, OpKind::cell_program_sequence), r);
    };
    const auto [n_fused, fused] = run(true);
    const auto [n_graph, graph] = run(false);
    CHECK(n_fused == 4);  // 2 layers x 2 directions
    CHECK(n_graph == 0);
    REQUIRE(fused.size() == graph.size());
    for (size_t i = 0; i < fused.size(); ++i) {
      CAPTURE(i);
      CHECK(max_scaled_diff(fused[i], graph[i]) <= 1e-5);
    }
  }
}

TEST_CASE("cell program: bad input is refused naming the op") {
  Tape tape;
  Rng rng(1);
  const CellProgram program = builtin_program("lstm");
  const auto leaf = [&](const Shape& s) { return tape.leaf(random_tensor(s, rng), true); };
  const Var x = leaf({2, 3, 4}), h = leaf({3, 5}), c = leaf({3, 5});
  const Var w_ih = leaf({20, 4}), w_hh = leaf({20, 5}), b = leaf({20});
  CHECK_THROWS_WITH_AS(cell_program_sequence(program, x, {h}, w_ih, w_hh, b, b, {}, false),
                       "cell_program_sequence: 1 initial states for a program of 2 states (hint: h first)", UsageError);
  CHECK_THROWS_AS(cell_program_sequence(program, x, {h, c}, leaf({20, 3}), w_hh, b, b, {}, false), ShapeError);
  CHECK_THROWS_AS(cell_program_sequence(program, x, {h, leaf({3, 4})}, w_ih, w_hh, b, b, {}, false), ShapeError);
  CHECK_THROWS_AS(cell_program_sequence(builtin_program("gru_lbr"), x, {h}, w_ih, w_hh, b, b, {}, false), ShapeError);
  CellProgram broken = program;
  broken.code.back().a = 1000;
  CHECK_THROWS_AS(cell_program_sequence(broken, x, {h, c}, w_ih, w_hh, b, b, {}, false), UsageError);
}
