// SPDX-License-Identifier: Apache-2.0
// What lives here: tests of the sequence driver (float64 gradient checks with 2 layers, both directions,
// variable lengths, initial states and dropout; variable lengths against per-sequence runs), its config,
// the cell registry, initialisers, the small modules (Linear, Embedding, Dropout, Sequential), truncated
// BPTT, the four sequence modes and the Forecaster.
#include <fmt/format.h>

#include <cmath>

#include "autodiff/backward.h"
#include "autodiff/gradcheck.h"
#include "examples/cifg_cell.h"
#include "models/cells.h"
#include "models/dropout.h"
#include "models/embedding.h"
#include "models/forecaster.h"
#include "models/init.h"
#include "models/linear.h"
#include "models/recurrent.h"
#include "models/sequence_modes.h"
#include "models/sequential.h"
#include "ops/ops.h"
#include "test_helpers.h"

using namespace unroll;
using unroll::testing::max_abs_diff;
using unroll::testing::random_tensor;

namespace {

// Flattens and joins tensors of any shape into one [N] var (a gradcheck output covering all of them).
Var flat_join(const std::vector<Var>& parts) {
  std::vector<Var> flat;
  for (const Var& p : parts) flat.push_back(reshape(p, Shape{p.value().numel()}));
  return concat(flat, 0);
}

std::unique_ptr<Recurrent> make_rnn(RecurrentConfig config, uint64_t seed, DType dtype = DType::f64,
                                    const CellRegistry& registry = builtin_cells()) {
  Rng rng(seed);
  auto rnn = std::make_unique<Recurrent>(config, rng, registry);
  rnn->to(dtype);
  return rnn;
}

// Gradcheck of the whole driver: inputs x [3, 2, 3] and initial states [L*D, 2, 4], all parameters;
// the output joins the per-step outputs and every final state.
GradcheckReport check_driver(const std::string& cell, int layers, bool bidirectional, std::vector<int64_t> lengths,
                             double dropout_p = 0, const CellRegistry& registry = builtin_cells()) {
  RecurrentConfig config{.cell = cell, .input_size = 3, .hidden_size = 4, .layers = layers,
                         .bidirectional = bidirectional, .dropout = dropout_p};
  auto rnn = make_rnn(config, 31, DType::f64, registry);
  Rng rng(8);
  const int64_t T = 3, B = 2, LD = int64_t{layers} * config.directions();
  std::vector<Tensor> inputs{random_tensor({T, B, 3}, rng)};
  std::vector<std::string> names{"x"};
  for (int s = 0; s < rnn->state_count(); ++s) {
    inputs.push_back(random_tensor({LD, B, 4}, rng, -0.8, 0.8));
    names.push_back(s == 0 ? "h0" : "c0");
  }
  const GradcheckReport report = gradcheck(
      [&](Tape& tape, const std::vector<Var>& in) {
        Rng dropout_rng(77);  // the same masks at every evaluation
        const RecurrentOutput out =
            rnn->forward(tape, in[0], std::vector<Var>(in.begin() + 1, in.end()), lengths, &dropout_rng);
        std::vector<Var> parts{out.output};
        parts.insert(parts.end(), out.final_states.begin(), out.final_states.end());
        return flat_join(parts);
      },
      inputs, rnn->parameters(), GradcheckOptions{.input_names = names});
  MESSAGE(fmt::format("driver {} layers={} bidirectional={} lengths=[{}] dropout={}: {}", cell, layers, bidirectional,
                      fmt::join(lengths, ","), dropout_p, report.summary()));
  return report;
}

}  // namespace

// ---- the driver: gradient checks ----

TEST_CASE("gradcheck driver lstm: 2 layers, bidirectional, variable lengths, initial states") {
  const GradcheckReport r = check_driver("lstm", 2, true, {3, 2});
  CHECK(r.ok);
  CHECK_FALSE(r.directional);
}
TEST_CASE("gradcheck driver gru and gru_lbr: 2 layers, bidirectional, variable lengths") {
  CHECK(check_driver("gru", 2, true, {2, 3}).ok);
  CHECK(check_driver("gru_lbr", 2, true, {1, 3}).ok);
}
TEST_CASE("gradcheck driver rnn_tanh and lstm_peephole: 2 layers, bidirectional, variable lengths") {
  CHECK(check_driver("rnn_tanh", 2, true, {3, 1}).ok);
  CHECK(check_driver("lstm_peephole", 2, true, {2, 3}).ok);
}
TEST_CASE("gradcheck driver: custom cell through the registry, full lengths, dropout between layers") {
  CellRegistry registry = builtin_cells();
  examples::register_cifg(registry);
  CHECK(check_driver("cifg", 2, true, {}, 0.0, registry).ok);
  CHECK(check_driver("lstm", 2, false, {}, 0.3).ok);
}

// ---- the driver: semantics ----

// Note [Variable lengths] against the definition: running a sequence alone, cut to its length, gives the
// same output rows and final states as running it inside a padded batch; outputs are zero past the length.
TEST_CASE("variable lengths equal per-sequence runs, both directions") {
  for (const std::string cell : {"lstm", "gru", "rnn_tanh"}) {
    INFO(cell);
    auto rnn = make_rnn({.cell = cell, .input_size = 3, .hidden_size = 4, .layers = 2, .bidirectional = true}, 3);
    Rng rng(4);
    const std::vector<int64_t> lengths{2, 4, 1};
    const Tensor x = random_tensor({4, 3, 3}, rng);
    std::vector<Tensor> h0;
    for (int s = 0; s < rnn->state_count(); ++s) h0.push_back(random_tensor({4, 3, 4}, rng));
    Tape tape;
    std::vector<Var> init;
    for (const Tensor& t : h0) init.push_back(tape.constant(t));
    const RecurrentOutput all = rnn->forward(tape, tape.constant(x), init, lengths);
    for (int64_t b = 0; b < 3; ++b) {
      const int64_t n = lengths[static_cast<size_t>(b)];
      Tape one;
      const Var xb = slice(slice(one.constant(x), 1, b, 1), 0, 0, n);  // [n, 1, 3]
      std::vector<Var> init_b;
      for (const Tensor& t : h0) init_b.push_back(slice(one.constant(t), 1, b, 1));
      const RecurrentOutput alone = rnn->forward(one, xb, init_b);
      for (int64_t t = 0; t < 4; ++t)
        for (int64_t k = 0; k < 8; ++k) {
          const double got = all.output.value().at((t * 3 + b) * 8 + k);
          CHECK(got == (t < n ? alone.output.value().at(t * 8 + k) : 0.0));
        }
      for (size_t s = 0; s < h0.size(); ++s)
        for (int64_t ld = 0; ld < 4; ++ld)
          for (int64_t k = 0; k < 4; ++k)
            CHECK(all.final_states[s].value().at((ld * 3 + b) * 4 + k) == alone.final_states[s].value().at(ld * 4 + k));
    }
  }
}

TEST_CASE("driver output layout: steps, final states, zero initial state by default") {
  auto rnn = make_rnn({.cell = "gru_lbr", .input_size = 2, .hidden_size = 3, .layers = 2, .bidirectional = true}, 9);
  Rng rng(1);
  Tape tape;
  const Var x = tape.constant(random_tensor({5, 2, 2}, rng));
  const RecurrentOutput a = rnn->forward(tape, x);
  CHECK(a.output.shape() == Shape{5, 2, 6});
  REQUIRE(a.steps.size() == 5);
  CHECK(a.steps[0].shape() == Shape{2, 6});
  REQUIRE(a.final_states.size() == 1);
  CHECK(a.final_states[0].shape() == Shape{4, 2, 3});
  for (int64_t i = 0; i < 12; ++i) CHECK(a.steps[3].value().at(i) == a.output.value().at(3 * 12 + i));
  // forward direction's h_n is the last layer's output at t = T-1; the reverse one's is its output at t = 0
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t k = 0; k < 3; ++k) {
      CHECK(a.final_states[0].value().at((2 * 2 + b) * 3 + k) == a.output.value().at((4 * 2 + b) * 6 + k));
      CHECK(a.final_states[0].value().at((3 * 2 + b) * 3 + k) == a.output.value().at((0 * 2 + b) * 6 + 3 + k));
    }
  const Var zeros = tape.constant(Tensor::zeros({4, 2, 3}, DType::f64));
  const RecurrentOutput b = rnn->forward(tape, x, {zeros});
  CHECK(max_abs_diff(a.output.value(), b.output.value()) == 0.0);
  const std::vector<std::string> expected{"l0/w_ih", "l0/w_hh", "l0/b_ih", "l0/b_hh", "l0_reverse/w_ih",
                                          "l0_reverse/w_hh", "l0_reverse/b_ih", "l0_reverse/b_hh", "l1/w_ih", "l1/w_hh",
                                          "l1/b_ih", "l1/b_hh", "l1_reverse/w_ih", "l1_reverse/w_hh", "l1_reverse/b_ih",
                                          "l1_reverse/b_hh"};
  std::vector<std::string> paths;
  for (const auto& [path, p] : rnn->named_parameters()) paths.push_back(path);
  CHECK(paths == expected);
  CHECK(rnn->find_parameter("l1/w_ih")->value.shape() == Shape{9, 6});  // G*H x D*H
}

TEST_CASE("driver errors name the problem") {
  auto rnn = make_rnn({.cell = "lstm", .input_size = 3, .hidden_size = 4, .layers = 2}, 1);
  Tape tape;
  const Var x = tape.constant(Tensor::zeros({5, 2, 3}, DType::f64));
  CHECK_THROWS_WITH_AS(rnn->forward(tape, tape.constant(Tensor::zeros({5, 2, 4}, DType::f64))),
                       "Recurrent: input must be [T, B, 3] (time-major, T >= 1), got [5, 2, 4] (hint: batch-first data "
                       "needs a transpose to [T, B, I])",
                       ShapeError);
  CHECK_THROWS_WITH_AS(rnn->forward(tape, tape.constant(Tensor::zeros({5, 2, 3}, DType::f32))),
                       "Recurrent: input is float32 but the parameters are float64 (hint: convert the model with "
                       "to(DType) or the input with Tensor::to)",
                       DTypeError);
  const Var h = tape.constant(Tensor::zeros({2, 2, 4}, DType::f64));
  CHECK_THROWS_WITH_AS(rnn->forward(tape, x, {h}),
                       "Recurrent: got 1 initial state tensors, cell 'lstm' has 2 state kinds (hint: pass none for "
                       "zeros)",
                       UsageError);
  CHECK_THROWS_WITH_AS(rnn->forward(tape, x, {h, tape.constant(Tensor::zeros({1, 2, 4}, DType::f64))}),
                       "Recurrent: initial state 1 has shape [1, 2, 4], expected [2, 2, 4] ([layers*directions, batch, "
                       "hidden])",
                       ShapeError);
  CHECK_THROWS_WITH_AS(rnn->forward(tape, x, {}, {5, 0}),
                       "Recurrent: length 0 of sequence 1 is outside [1, 5] (T = input.shape[0])", ShapeError);
  CHECK_THROWS_WITH_AS(rnn->forward(tape, x, {}, {5}),
                       "Recurrent: got 1 lengths for a batch of 2 (hint: one length per sequence, or none)", ShapeError);
  auto dropped = make_rnn({.cell = "lstm", .input_size = 3, .hidden_size = 4, .layers = 2, .dropout = 0.5}, 1);
  CHECK_THROWS_WITH_AS(dropped->forward(tape, x),
                       "Recurrent: dropout 0.5 between layers needs an Rng in training mode (hint: pass &rng, or eval())",
                       UsageError);
  dropped->eval();
  CHECK(dropped->forward(tape, x).output.shape() == Shape{5, 2, 4});
}

TEST_CASE("dropout between layers: training only, reproducible from the seed") {
  auto rnn = make_rnn({.cell = "rnn_tanh", .input_size = 2, .hidden_size = 5, .layers = 2, .dropout = 0.5}, 2);
  Rng data(3);
  Tape tape;
  const Var x = tape.constant(random_tensor({4, 3, 2}, data));
  Rng r1(10), r2(10), r3(11);
  const Tensor a = rnn->forward(tape, x, {}, {}, &r1).output.value();
  const Tensor b = rnn->forward(tape, x, {}, {}, &r2).output.value();
  const Tensor c = rnn->forward(tape, x, {}, {}, &r3).output.value();
  CHECK(a.bit_equal(b));
  CHECK_FALSE(a.bit_equal(c));
  rnn->eval();
  const Tensor e1 = rnn->forward(tape, x, {}, {}, &r1).output.value();
  const Tensor e2 = rnn->forward(tape, x).output.value();
  CHECK(e1.bit_equal(e2));
  CHECK_FALSE(a.bit_equal(e1));
}

// ---- config ----

TEST_CASE("RecurrentConfig JSON round trip and errors") {
  RecurrentConfig c{.cell = "gru", .input_size = 7, .hidden_size = 16, .layers = 3, .bidirectional = true,
                    .dropout = 0.25, .cell_options = {{"form", "cho"}, {"init", "orthogonal"}}};
  const nlohmann::json j = c;
  CHECK(j.dump() ==
        R"({"bidirectional":true,"cell":"gru","cell_options":{"form":"cho","init":"orthogonal"},"dropout":0.25,"hidden_size":16,"input_size":7,"layers":3})");
  const RecurrentConfig back = j.get<RecurrentConfig>();
  CHECK(nlohmann::json(back) == j);
  CHECK(nlohmann::json::parse(R"({"cell":"lstm","input_size":2,"hidden_size":3})").get<RecurrentConfig>().layers == 1);
  CHECK_THROWS_WITH_AS(nlohmann::json::parse(R"({"cell":"lstm","hiden_size":3})").get<RecurrentConfig>(),
                       "RecurrentConfig: unknown key 'hiden_size' (hint: known keys are cell, input_size, hidden_size, "
                       "layers, bidirectional, dropout, cell_options, fused, cell_equations)",
                       DataError);
  Rng rng(1);
  CHECK_THROWS_WITH_AS(Recurrent(RecurrentConfig{.cell = "lstm", .input_size = 2, .hidden_size = 0}, rng),
                       "RecurrentConfig: hidden_size must be positive, got 0", UsageError);
}

// ---- registry ----

TEST_CASE("cell registry: built-ins, custom cells, errors") {
  const CellRegistry& builtins = builtin_cells();
  CHECK(builtins.names() == std::vector<std::string>{"gru", "gru_lbr", "lstm", "lstm_peephole", "rnn_relu", "rnn_tanh"});
  Rng rng(1);
  CHECK_THROWS_WITH_AS(builtins.create("lstn", 2, 3, rng),
                       "CellRegistry: unknown cell 'lstn' (hint: known cells are gru, gru_lbr, lstm, lstm_peephole, "
                       "rnn_relu, rnn_tanh)",
                       UsageError);
  CHECK_THROWS_WITH_AS(builtins.create("lstm", 2, 3, rng, {{"peephole", true}}),
                       "cell lstm: option peephole = true contradicts the cell name (it implies false)", UsageError);
  CHECK_THROWS_WITH_AS(builtins.create("gru", 2, 3, rng, {{"from", "cho"}}),
                       "cell gru: unknown option 'from' (hint: known options are init, form)", UsageError);
  CHECK_THROWS_WITH_AS(builtins.create("rnn_tanh", 2, 3, rng, {{"init", "he"}}),
                       "cell: unknown init scheme 'he' (hint: uniform, xavier or orthogonal)", UsageError);
  CHECK(builtins.create("gru", 2, 3, rng)->kind() == "gru");
  CHECK(dynamic_cast<GruCell&>(*builtins.create("gru_lbr", 2, 3, rng)).form() == GruCell::Form::linear_before_reset);
  CHECK(builtins.create("lstm_peephole", 2, 3, rng)->parameters().size() == 7);

  CellRegistry mine = builtins;  // a copy; the built-in one stays read-only
  examples::register_cifg(mine);
  CHECK(mine.contains("cifg"));
  CHECK_FALSE(builtin_cells().contains("cifg"));
  CHECK_THROWS_WITH_AS(examples::register_cifg(mine),
                       "CellRegistry: cell 'cifg' is already registered (hint: choose another name)", UsageError);
  Recurrent rnn(RecurrentConfig{.cell = "cifg", .input_size = 2, .hidden_size = 3}, rng, mine);
  CHECK(rnn.find_parameter("l0/w_hh")->value.shape() == Shape{9, 3});
  CHECK(rnn.state_count() == 2);
}

// ---- initialisers ----

TEST_CASE("initialisers: ranges, orthogonality, forget bias, determinism") {
  Rng rng(5);
  Tensor w = Tensor::empty({64, 16}, DType::f64);
  init::uniform_recurrent(w, 16, rng);
  double lo = 1, hi = -1;
  for (int64_t i = 0; i < w.numel(); ++i) lo = std::min(lo, w.at(i)), hi = std::max(hi, w.at(i));
  CHECK(lo >= -0.25);
  CHECK(hi < 0.25);
  CHECK(lo < -0.2);  // the range is really used
  CHECK(hi > 0.2);
  init::xavier_uniform(w, rng);
  const double bound = std::sqrt(6.0 / 80.0);
  for (int64_t i = 0; i < w.numel(); ++i) CHECK(std::abs(w.at(i)) <= bound);

  // orthogonal per gate block: each 16 x 16 block Q has Q Q^T = I; a tall matrix has orthonormal columns
  init::orthogonal(w, rng, 1.0, 4);
  for (int blk = 0; blk < 4; ++blk)
    for (int64_t r = 0; r < 16; ++r)
      for (int64_t q = 0; q < 16; ++q) {
        double dot = 0;
        for (int64_t k = 0; k < 16; ++k) dot += w.at((blk * 16 + r) * 16 + k) * w.at((blk * 16 + q) * 16 + k);
        CHECK(dot == doctest::Approx(r == q ? 1.0 : 0.0).epsilon(1e-12).scale(1.0));
      }
  Tensor tall = Tensor::empty({6, 3}, DType::f64);
  init::orthogonal(tall, rng, 2.0);
  for (int64_t a = 0; a < 3; ++a)
    for (int64_t b = 0; b < 3; ++b) {
      double dot = 0;
      for (int64_t k = 0; k < 6; ++k) dot += tall.at(k * 3 + a) * tall.at(k * 3 + b);
      CHECK(dot == doctest::Approx(a == b ? 4.0 : 0.0).scale(1.0));
    }

  Rng r1(9), r2(9);
  auto c1 = builtin_cells().create("lstm", 3, 4, r1, {{"forget_bias", 1.0}, {"init", "orthogonal"}});
  auto c2 = builtin_cells().create("lstm", 3, 4, r2, {{"forget_bias", 1.0}, {"init", "orthogonal"}});
  for (int64_t k = 0; k < 16; ++k) {
    CHECK(c1->b_ih().value.at(k) == (k >= 4 && k < 8 ? 1.0 : 0.0));
    CHECK(c1->b_hh().value.at(k) == 0.0);
  }
  CHECK(c1->w_hh().value.bit_equal(c2->w_hh().value));
  CHECK_THROWS_WITH_AS(init::lstm_forget_bias(w, 16, 1.0),
                       "init::lstm_forget_bias: bias has shape [64, 16], expected [64] (4 gates i,f,g,o of hidden size "
                       "16)",
                       ShapeError);
}

// ---- small modules ----

TEST_CASE("Linear, Embedding, Dropout, Sequential, Activation") {
  Rng rng(3);
  Sequential head;
  Linear& lin = head.add(std::make_unique<Linear>(3, 2, rng));
  head.add(std::make_unique<Activation>("sigmoid"));  // the Elman output y = sigmoid(W_yh h + b_y)
  head.to(DType::f64);
  std::vector<std::string> paths;
  for (const auto& [path, p] : head.named_parameters()) paths.push_back(path);
  CHECK(paths == std::vector<std::string>{"0/weight", "0/bias"});
  CHECK(head.parameter_count() == 8);
  const Tensor x = random_tensor({4, 3}, rng);
  Tape tape;
  const Var y = head.forward(tape.constant(x));
  REQUIRE(y.shape() == Shape{4, 2});
  for (int64_t n = 0; n < 4; ++n)
    for (int64_t o = 0; o < 2; ++o) {
      double s = lin.bias()->value.at(o);
      for (int64_t i = 0; i < 3; ++i) s += lin.weight().value.at(o * 3 + i) * x.at(n * 3 + i);
      CHECK(y.value().at(n * 2 + o) == doctest::Approx(1 / (1 + std::exp(-s))).epsilon(1e-14));
    }
  CHECK_THROWS_WITH_AS(lin.forward(tape.constant(Tensor::zeros({4, 5}, DType::f64))),
                       "Linear: input shape [4, 5] does not end in in_features 3 (weight shape [2, 3]; hint: the last "
                       "axis is the feature axis)",
                       ShapeError);

  Embedding emb(5, 2, rng, DType::f64);
  const Var e = emb.forward(tape, {4, 1, 4});
  CHECK(e.shape() == Shape{3, 2});
  backward(sum(e * tape.constant(Tensor::from_values({1, 2, 3, 4, 5, 6}, {3, 2}, DType::f64))));
  CHECK(emb.weight().grad.to_vector() == std::vector<double>{0, 0, 3, 4, 0, 0, 0, 0, 6, 8});

  Rng drop_rng(1);
  Dropout drop(0.5, drop_rng);
  Tape t2;
  const Var ones = t2.constant(Tensor::full({100}, DType::f64, 1.0));
  const Tensor d = drop.forward(ones).value();
  int zeros = 0;
  for (int64_t i = 0; i < 100; ++i) {
    CHECK((d.at(i) == 0.0 || d.at(i) == 2.0));
    zeros += d.at(i) == 0.0;
  }
  CHECK(zeros > 20);
  CHECK(zeros < 80);
  drop.eval();
  CHECK(drop.forward(ones).value().bit_equal(ones.value()));
  auto elman_head = elman_output_head(3, 2, rng, DType::f64);
  const Tensor yh = elman_head->forward(tape.constant(x)).value();
  for (int64_t i = 0; i < yh.numel(); ++i) CHECK((yh.at(i) > 0 && yh.at(i) < 1));
  CHECK(elman_head->find_parameter("0/weight")->value.shape() == Shape{2, 3});
  CHECK_THROWS_WITH_AS(Activation("gelu"), "Activation: unknown kind 'gelu' (hint: tanh, sigmoid, relu or identity)",
                       UsageError);
}

// ---- truncated BPTT ----

TEST_CASE("truncated BPTT: same values as one long run, graph cut every k steps, state carried across tapes") {
  auto rnn = make_rnn({.cell = "lstm", .input_size = 2, .hidden_size = 3}, 12);
  Rng rng(2);
  const Tensor x = random_tensor({6, 2, 2}, rng);  // two consecutive batches of 3 steps
  Tape full_tape;
  const RecurrentOutput full = rnn->forward(full_tape, full_tape.constant(x));

  TruncatedBptt tbptt(*rnn, 2);
  Tape tape;
  const Var x1 = tape.leaf(slice(tape.constant(x), 0, 0, 3).value().clone(), true);
  const RecurrentOutput first = tbptt.forward(tape, x1);
  REQUIRE(tbptt.state().size() == 2);
  CHECK(tbptt.state()[0].shape() == Shape{1, 2, 3});
  // the value is the one long run's (the cut changes gradients, not values)
  for (int64_t i = 0; i < 18; ++i) CHECK(first.output.value().at(i) == doctest::Approx(full.output.value().at(i)).epsilon(1e-14));
  // dLoss/dx over the last step reaches back only to the start of its chunk (steps 2..2), not to x[0..1]
  const std::vector<Tensor> g = grad(sum(first.steps[2]), {x1});
  for (int64_t i = 0; i < 8; ++i) CHECK(g[0].at(i) == 0.0);
  double later = 0;
  for (int64_t i = 8; i < 12; ++i) later += std::abs(g[0].at(i));
  CHECK(later > 0);
  // without truncation the same gradient reaches x[0]
  Tape plain;
  const Var xp = plain.leaf(x1.value().clone(), true);
  const std::vector<Tensor> gp = grad(sum(rnn->forward(plain, xp).steps[2]), {xp});
  CHECK(std::abs(gp[0].at(0)) > 0);

  tape.reset();  // the carried state is a copy, not a view into the old tape
  const Var x2 = tape.constant(slice(full_tape.constant(x), 0, 3, 3).value().clone());
  const RecurrentOutput second = tbptt.forward(tape, x2);
  for (int64_t i = 0; i < 18; ++i)
    CHECK(second.output.value().at(i) == doctest::Approx(full.output.value().at(18 + i)).epsilon(1e-14));
  CHECK_THROWS_WITH_AS(tbptt.forward(tape, tape.constant(Tensor::zeros({2, 3, 2}, DType::f64))),
                       "TruncatedBptt: batch 3 differs from the carried state's batch 2 (state shape [1, 2, 3]; hint: "
                       "call reset() when the batch changes)",
                       ShapeError);
  tbptt.reset();
  CHECK(tbptt.forward(tape, tape.constant(Tensor::zeros({2, 3, 2}, DType::f64))).output.shape() == Shape{2, 3, 3});
  auto bi = make_rnn({.cell = "gru", .input_size = 2, .hidden_size = 3, .bidirectional = true}, 1);
  CHECK_THROWS_AS(TruncatedBptt(*bi, 2), UsageError);
}

// ---- sequence modes ----

TEST_CASE("sequence mode many-to-many synced: a head at every step") {
  auto rnn = make_rnn({.cell = "gru", .input_size = 2, .hidden_size = 3}, 4);
  Rng rng(1);
  Linear head(3, 2, rng, true, DType::f64);
  Tape tape;
  const Var x = tape.constant(random_tensor({4, 2, 2}, rng));
  const Var y = many_to_many_synced(tape, *rnn, head, x);
  REQUIRE(y.shape() == Shape{4, 2, 2});
  const RecurrentOutput r = rnn->forward(tape, x);
  for (int64_t t = 0; t < 4; ++t) {
    const Tensor yt = head.forward(r.steps[static_cast<size_t>(t)]).value();
    for (int64_t i = 0; i < 4; ++i) CHECK(y.value().at(t * 4 + i) == yt.at(i));
  }
}

TEST_CASE("sequence mode many-to-one: each sequence's own last step, both directions") {
  auto rnn = make_rnn({.cell = "lstm", .input_size = 2, .hidden_size = 3, .layers = 2, .bidirectional = true}, 4);
  Rng rng(1);
  Linear head(6, 1, rng, true, DType::f64);
  Tape tape;
  const Tensor x = random_tensor({4, 2, 2}, rng);
  const Var y = many_to_one(tape, *rnn, head, tape.constant(x), {2, 4});
  REQUIRE(y.shape() == Shape{2, 1});
  // sequence 0 alone, cut to length 2: head([forward h at t=1 | reverse h at t=0])
  Tape one;
  const RecurrentOutput r = rnn->forward(one, slice(slice(one.constant(x), 1, 0, 1), 0, 0, 2));
  const Var feat = concat({slice(r.steps[1], 1, 0, 3), slice(r.steps[0], 1, 3, 3)}, 1);
  CHECK(y.value().at(0) == doctest::Approx(head.forward(feat).item()).epsilon(1e-14));
}

TEST_CASE("sequence mode many-to-many delayed: encoder-decoder") {
  auto encoder = make_rnn({.cell = "lstm", .input_size = 2, .hidden_size = 3, .layers = 2}, 4);
  auto decoder = make_rnn({.cell = "lstm", .input_size = 1, .hidden_size = 3, .layers = 2}, 5);
  Rng rng(1);
  Linear head(3, 1, rng, true, DType::f64);
  Tape tape;
  const Var x = tape.leaf(random_tensor({5, 2, 2}, rng), true);
  const Var dec_in = tape.constant(random_tensor({3, 2, 1}, rng));
  const Var y = many_to_many_delayed(tape, *encoder, *decoder, head, x, dec_in);
  REQUIRE(y.shape() == Shape{3, 2, 1});
  // the decoder really starts from the encoder's final states: gradients reach the encoder's input
  const std::vector<Tensor> g = grad(sum(y), {x});
  CHECK(std::abs(g[0].at(0)) > 0);
  const RecurrentOutput enc = encoder->forward(tape, x);
  const RecurrentOutput dec = decoder->forward(tape, dec_in, enc.final_states);
  CHECK(y.value().at(5) == head.forward(dec.steps[2]).value().at(1));
  auto gru = make_rnn({.cell = "gru", .input_size = 1, .hidden_size = 3, .layers = 2}, 5);
  CHECK_THROWS_AS(many_to_many_delayed(tape, *encoder, *gru, head, x, dec_in), UsageError);
}

TEST_CASE("sequence mode one-to-many: generation feeds each output back") {
  auto rnn = make_rnn({.cell = "rnn_tanh", .input_size = 2, .hidden_size = 4}, 4);
  Rng rng(1);
  Linear head(4, 2, rng, true, DType::f64);
  Tape tape;
  const Tensor x0 = random_tensor({3, 2}, rng);
  const Var y = one_to_many(tape, *rnn, head, tape.constant(x0), 4);
  REQUIRE(y.shape() == Shape{4, 3, 2});
  // by hand: h_t = tanh(W_ih in + b_ih + W_hh h + b_hh), in_{t+1} = head(h_t)
  Cell& cell = rnn->cell(0);
  Tape hand;
  Var in = hand.constant(x0);
  std::vector<Var> state = cell.initial_state(hand, 3, DType::f64);
  for (int64_t t = 0; t < 4; ++t) {
    state = cell.step(cell.project_inputs(in), state);
    in = head.forward(state[0]);
    for (int64_t i = 0; i < 6; ++i) CHECK(y.value().at(t * 6 + i) == doctest::Approx(in.value().at(i)).epsilon(1e-14));
  }
  Linear wrong(4, 3, rng, true, DType::f64);
  CHECK_THROWS_WITH_AS(one_to_many(tape, *rnn, wrong, tape.constant(x0), 2),
                       "one_to_many: the head's output [3, 3] must have the input's shape [3, 2] to be fed back (hint: "
                       "head output size = input size)",
                       ShapeError);
}

// ---- forecaster ----

TEST_CASE("Forecaster: config JSON, paths, head modes, learns a sine one step ahead") {
  ForecasterConfig config{.recurrent = {.cell = "lstm", .input_size = 1, .hidden_size = 8}, .output_size = 1};
  const nlohmann::json j = config;
  CHECK(j.get<ForecasterConfig>().recurrent.hidden_size == 8);
  CHECK(nlohmann::json(j.get<ForecasterConfig>()) == j);
  CHECK_THROWS_WITH_AS(nlohmann::json::parse(R"({"head":"last","outputs":2})").get<ForecasterConfig>(),
                       "ForecasterConfig: unknown key 'outputs' (hint: known keys are recurrent, output_size, head)",
                       DataError);
  Rng rng(42);
  std::unique_ptr<Forecaster> model = make_forecaster(config, rng);
  std::vector<std::string> paths;
  for (const auto& [path, p] : model->named_parameters()) paths.push_back(path);
  CHECK(paths == std::vector<std::string>{"rnn/l0/w_ih", "rnn/l0/w_hh", "rnn/l0/b_ih", "rnn/l0/b_hh", "head/weight",
                                          "head/bias"});

  // Windows of 8 steps of sin(0.3 t + phase) -> the next value; plain SGD; the loss must drop 10x.
  const int64_t T = 8, B = 16;
  Tensor x = Tensor::empty({T, B, 1}, DType::f32), target = Tensor::empty({B, 1}, DType::f32);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T; ++t) x.set(t * B + b, std::sin(0.3 * t + 0.4 * b));
    target.set(b, std::sin(0.3 * T + 0.4 * b));
  }
  Tape tape;
  double first = 0, last = 0;
  for (int it = 0; it < 300; ++it) {
    tape.reset();
    model->zero_grad();
    const Var loss = mse(model->forward(tape, tape.constant(x)), tape.constant(target));
    backward(loss);
    if (it == 0) first = loss.item();
    last = loss.item();
    for (Parameter* p : model->parameters())
      for (int64_t i = 0; i < p->value.numel(); ++i) p->value.set(i, p->value.at(i) - 0.5 * p->grad.at(i));
  }
  MESSAGE(fmt::format("forecaster sine: mse {:.4g} -> {:.4g} after 300 SGD steps", first, last));
  CHECK(last < first / 10);

  config.head = "every";
  Rng rng2(1);
  Forecaster every(config, rng2);
  tape.reset();
  CHECK(every.forward(tape, tape.constant(x)).shape() == Shape{T, B, 1});
  config.head = "first";
  CHECK_THROWS_WITH_AS(Forecaster(config, rng2), "ForecasterConfig: unknown head mode 'first' (hint: last or every)",
                       UsageError);
}
