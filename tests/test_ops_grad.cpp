// SPDX-License-Identifier: Apache-2.0
// What lives here: the float64 finite-difference gradient test of every op, table-driven, and the
// registry walk that fails when an op in graph/op_kind.h has no case here.
#include <set>

#include "cell_programs.h"
#include "test_helpers.h"
#include "unroll.h"

using namespace unroll;
using unroll::testing::random_away_from_zero;
using unroll::testing::random_tensor;

namespace {

struct OpCase {
  std::string name;
  std::vector<Tensor> inputs;
  GradcheckFn f;
  GradcheckOptions options = {};
};

// Scalarising with sum() would make every upstream gradient 1 and hide bugs; gradcheck compares the full
// Jacobian of the op's (non-scalar) output instead.
std::vector<OpCase> op_cases() {
  Rng rng(7);
  const auto r = [&](const Shape& s, double lo = -1, double hi = 1) { return random_tensor(s, rng, lo, hi); };
  std::vector<OpCase> cases;
  const auto add_case = [&](std::string name, std::vector<Tensor> in, GradcheckFn f, GradcheckOptions options = {}) {
    cases.push_back({std::move(name), std::move(in), std::move(f), std::move(options)});
  };
  using V = const std::vector<Var>&;
  GradcheckOptions relative_only;
  relative_only.atol = 1e-15;
  add_case("add", {r({2, 3}), r({3})}, [](Tape&, V x) { return add(x[0], x[1]); });
  add_case("add broadcast both", {r({2, 1, 3}), r({4, 1})}, [](Tape&, V x) { return add(x[0], x[1]); });
  add_case("sub", {r({2, 3}), r({2, 1})}, [](Tape&, V x) { return sub(x[0], x[1]); });
  add_case("mul", {r({3, 2}), r({3, 2})}, [](Tape&, V x) { return mul(x[0], x[1]); });
  add_case("mul same input", {r({4})}, [](Tape&, V x) { return mul(x[0], x[0]); });
  add_case("div", {r({2, 3}), random_away_from_zero({3}, rng, 0.5, 2.0)}, [](Tape&, V x) { return div(x[0], x[1]); });
  add_case("affine", {r({5})}, [](Tape&, V x) { return affine(x[0], -1.5, 0.25); });
  add_case("neg", {r({2, 2})}, [](Tape&, V x) { return neg(x[0]); });
  add_case("exp", {r({2, 3})}, [](Tape&, V x) { return exp(x[0]); });
  add_case("log", {r({2, 3}, 0.3, 2.0)}, [](Tape&, V x) { return log(x[0]); });
  add_case("square", {r({3})}, [](Tape&, V x) { return square(x[0]); });
  add_case("sqrt", {r({3}, 0.3, 2.0)}, [](Tape&, V x) { return sqrt(x[0]); });
  add_case("tanh", {r({2, 3}, -2, 2)}, [](Tape&, V x) { return tanh(x[0]); });
  // Saturating inputs: tanh' is 1.3e-3 at |x| = 4 but 4.5e-7 at 8, under the default atol (1e-6), so this
  // case's tolerance is relative only: a backward that is wrong only where tanh saturates fails here.
  add_case("tanh extreme", {Tensor::from_values({-30, -8, -4, 0.5, 4, 8, 30}, {7}, DType::f64)},
           [](Tape&, V x) { return tanh(x[0]); }, relative_only);
  add_case("sigmoid", {r({2, 3}, -3, 3)}, [](Tape&, V x) { return sigmoid(x[0]); });
  add_case("sigmoid extreme", {Tensor::from_values({-40, -10, 0.1, 10, 40}, {5}, DType::f64)},
           [](Tape&, V x) { return sigmoid(x[0]); });
  add_case("relu", {random_away_from_zero({2, 4}, rng)}, [](Tape&, V x) { return relu(x[0]); });
  add_case("softmax", {r({3, 4}, -2, 2)}, [](Tape&, V x) { return softmax(x[0], -1); });
  add_case("softmax axis 0", {r({3, 2}, -2, 2)}, [](Tape&, V x) { return softmax(x[0], 0); });
  add_case("log_softmax", {r({2, 5}, -2, 2)}, [](Tape&, V x) { return log_softmax(x[0], 1); });
  add_case("matmul", {r({3, 4}), r({4, 2})}, [](Tape&, V x) { return matmul(x[0], x[1]); });
  add_case("batched_matmul", {r({2, 3, 2}), r({2, 2, 4})}, [](Tape&, V x) { return batched_matmul(x[0], x[1]); });
  add_case("linear", {r({3, 4}), r({2, 4}), r({2})}, [](Tape&, V x) { return linear(x[0], x[1], x[2]); });
  add_case("linear rank 3 no bias", {r({2, 3, 4}), r({5, 4})}, [](Tape&, V x) { return linear(x[0], x[1]); });
  add_case("sum", {r({2, 3})}, [](Tape&, V x) { return sum(x[0]); });
  add_case("sum axis keepdim", {r({2, 3, 2})}, [](Tape&, V x) { return sum(x[0], 1, true); });
  add_case("mean", {r({2, 3})}, [](Tape&, V x) { return mean(x[0]); });
  add_case("mean axis", {r({2, 3})}, [](Tape&, V x) { return mean(x[0], -1); });
  add_case("reshape", {r({2, 3})}, [](Tape&, V x) { return mul(reshape(x[0], {3, 2}), reshape(x[0], {3, 2})); });
  add_case("transpose", {r({2, 3})}, [](Tape&, V x) { return transpose(x[0]); });
  add_case("concat", {r({2, 3}), r({2, 1}), r({2, 2})}, [](Tape&, V x) { return concat({x[0], x[1], x[2]}, 1); });
  add_case("concat axis 0", {r({1, 3}), r({2, 3})}, [](Tape&, V x) { return concat({x[0], x[1]}, 0); });
  add_case("slice", {r({3, 4})}, [](Tape&, V x) { return slice(x[0], 1, 1, 2); });
  add_case("slice along axis 0 at an aligned offset (a view)", {r({4, 2, 8})},
           [](Tape&, V x) { return slice(x[0], 0, 1, 2); });
  add_case("select (a view)", {r({4, 2, 8})}, [](Tape&, V x) { return mul(select(x[0], 2), select(x[0], 1)); });
  add_case("select (a copy: 24-byte rows)", {r({3, 3})}, [](Tape&, V x) { return select(x[0], 1); });
  add_case("split gates", {r({2, 8})}, [](Tape&, V x) {
    const auto parts = chunk(x[0], 1, 4);
    return add(mul(parts[0], parts[1]), mul(parts[2], parts[3]));
  });
  add_case("gather_rows", {r({4, 3})}, [](Tape&, V x) { return gather_rows(x[0], {2, 0, 2, 3}); });
  add_case("cross_entropy", {r({3, 4}, -2, 2)}, [](Tape&, V x) { return cross_entropy(x[0], {1, 3, 0}); });
  add_case("mse", {r({2, 3}), r({2, 3})}, [](Tape&, V x) { return mse(x[0], x[1]); });
  add_case("dropout", {r({3, 4})}, [](Tape&, V x) {
    Rng mask_rng(99);  // re-seeded per evaluation: the same mask every time, as finite differences need
    return dropout(x[0], 0.4, mask_rng, true);
  });
  add_case("lstm_cell_state", {r({2, 12}, -2, 2), r({2, 3})}, [](Tape&, V x) { return lstm_cell_state(x[0], x[1]); });
  add_case("lstm_hidden", {r({2, 12}, -2, 2), r({2, 3}, -2, 2)}, [](Tape&, V x) { return lstm_hidden(x[0], x[1]); });
  add_case("gru_lbr_update", {r({2, 9}, -2, 2), r({2, 9}, -2, 2), r({2, 3})},
           [](Tape&, V x) { return gru_lbr_update(x[0], x[1], x[2]); });
  // rnn_sequence: inputs x [T, B, I], h0, w_ih, w_hh, b_ih, b_hh (+ c0 for lstm), both directions.
  for (const RnnKind kind : {RnnKind::lstm, RnnKind::gru_lbr, RnnKind::rnn_tanh, RnnKind::rnn_relu})
    for (const bool reverse : {false, true}) {
      const int64_t T = 3, B = 2, I = 3, H = 2;
      const int64_t GH = H * rnn_gate_count(kind);
      std::vector<Tensor> in{r({T, B, I}), r({B, H}), r({GH, I}), r({GH, H}), r({GH}), r({GH})};
      if (kind == RnnKind::lstm) in.push_back(r({B, H}));
      add_case(fmt::format("rnn_sequence {}{}", rnn_kind_name(kind), reverse ? " reverse" : ""), in,
               [kind, reverse](Tape&, V x) {
                 return rnn_sequence(kind, x[0], x[1], x.size() == 7 ? x[6] : Var(), x[2], x[3], x[4], x[5], reverse);
               });
    }
  // rnn_sequence with lengths (Note [Masked step loop]): rows held from t = 1 and t = 2 on, one full; the
  // output includes the held rows, so the held state's gradient is checked too.
  for (const RnnKind kind : {RnnKind::lstm, RnnKind::gru_lbr, RnnKind::rnn_tanh, RnnKind::rnn_relu})
    for (const bool reverse : {false, true}) {
      const int64_t T = 4, B = 3, I = 2, H = 2;
      const int64_t GH = H * rnn_gate_count(kind);
      std::vector<Tensor> in{r({T, B, I}), r({B, H}), r({GH, I}), r({GH, H}), r({GH}), r({GH})};
      if (kind == RnnKind::lstm) in.push_back(r({B, H}));
      add_case(fmt::format("rnn_sequence {}{} masked", rnn_kind_name(kind), reverse ? " reverse" : ""), in,
               [kind, reverse](Tape&, V x) {
                 const std::vector<int64_t> lengths{2, 4, 1};
                 return rnn_sequence(kind, x[0], x[1], x.size() == 7 ? x[6] : Var(), x[2], x[3], x[4], x[5], reverse,
                                     RnnEngine::step_loop, lengths);
               });
    }
  // cell_program_sequence: the peephole LSTM program (gate sums folded, vector parameters) and the GRU-lbr
  // program (gx and gh apart), both directions, 3 row blocks; inputs x [T, B, I], w_ih, w_hh, b_ih, b_hh,
  // the initial states, the vector parameters.
  for (const std::string name : {"lstm_peephole", "gru_lbr"})
    for (const bool reverse : {false, true}) {
      const auto program = std::make_shared<const CellProgram>(unroll::testing::builtin_program(name));
      const int64_t T = 3, B = 3, I = 2, H = 2, GH = program->gates * H;
      std::vector<Tensor> in{r({T, B, I}), r({GH, I}), r({GH, H}), r({GH}), r({GH})};
      for (int s = 0; s < program->states; ++s) in.push_back(r({B, H}));
      for (size_t p = 0; p < program->param_names.size(); ++p) in.push_back(r({H}));
      add_case(fmt::format("cell_program_sequence {}{}", name, reverse ? " reverse" : ""), in,
               [program, reverse](Tape&, V x) {
                 const unroll::testing::OmpThreads threads(3);
                 const auto states = x.begin() + 5, params = states + program->states;
                 return cell_program_sequence(*program, x[0], {states, params}, x[1], x[2], x[3], x[4],
                                              {params, x.end()}, reverse);
               });
    }
  // recompute_segment: a Cho GRU (2 layers, both directions) kept every 2 steps; inputs x [T, B, I] and h0.
  {
    Rng init(3);
    auto model = std::make_shared<Recurrent>(
        RecurrentConfig{.cell = "gru", .input_size = 2, .hidden_size = 3, .layers = 2, .bidirectional = true}, init);
    model->to(DType::f64);
    model->set_recompute(2);
    model->set_batch_split(false);  // the segments on the caller's tape
    add_case("recompute_segment (gru, recompute 2)", {r({5, 2, 2}), r({4, 2, 3})},
             [model](Tape&, V x) { return model->forward(x[0].tape(), x[0], {x[1]}).output; });
  }
  // recurrent_split (Note [Graph batch split]): a peephole LSTM (2 layers, both directions) over 3 row
  // blocks, however many threads this machine has; inputs x [T, B, I], h0 and c0.
  {
    Rng init(4);
    auto model = std::make_shared<Recurrent>(
        RecurrentConfig{.cell = "lstm_peephole", .input_size = 2, .hidden_size = 3, .layers = 2, .bidirectional = true},
        init);
    model->to(DType::f64);
    add_case("recurrent_split (lstm peephole, 3 blocks)", {r({4, 5, 2}), r({4, 5, 3}), r({4, 5, 3})},
             [model](Tape&, V x) {
               const unroll::testing::OmpThreads threads(3);
               const RecurrentOutput out = model->forward(x[0].tape(), x[0], {x[1], x[2]});
               return concat({reshape(out.output, Shape{20, 6}), reshape(out.final_states[1], Shape{20, 3})}, 1);
             });
  }
  return cases;
}

}  // namespace

TEST_CASE("every op passes a float64 finite-difference gradient check") {
  for (const OpCase& c : op_cases()) {
    CAPTURE(c.name);
    const GradcheckReport report = gradcheck(c.f, c.inputs, {}, c.options);
    INFO(report.summary());
    CHECK(report.ok);
    CHECK(report.entries_checked > 0);
    CHECK(!report.directional);
  }
}

TEST_CASE("every op in the registry has a gradient case") {
  std::set<OpKind> covered;
  for (const OpCase& c : op_cases()) {
    Tape tape;
    std::vector<Var> leaves;
    for (const Tensor& t : c.inputs) leaves.push_back(tape.leaf(t, true));
    c.f(tape, leaves);
    for (NodeId id = 0; id < tape.size(); ++id) covered.insert(tape.node(id).op);
  }
  for (const OpInfo& info : kOpTable) {
    if (info.kind == OpKind::leaf || info.kind == OpKind::parameter) continue;
    CAPTURE(info.name);
    CHECK_MESSAGE(covered.count(info.kind) == 1, "op '", info.name, "' has no float64 gradient case in test_ops_grad.cpp");
  }
}

TEST_CASE("select: x[index] along axis 0 with the axis dropped, a view when aligned, bad indexes refused") {
  Rng rng(3);
  Tape tape;
  const Var x = tape.leaf(random_tensor({4, 2, 8}, rng), true);
  const Var row = select(x, 2);
  CHECK(row.shape() == Shape{2, 8});
  CHECK(row.value().raw() == static_cast<const std::byte*>(x.value().raw()) + 2 * 128);
  const Var copied = select(tape.leaf(random_tensor({3, 3}, rng), true), 1);  // 24-byte rows: a copy
  CHECK(copied.shape() == Shape{3});
  CHECK_THROWS_WITH_AS(select(x, 4), "select: index 4 is outside axis 0 of shape [4, 2, 8] (hint: x must have rank >= 2)",
                       ShapeError);
  CHECK_THROWS_AS(select(x, -1), ShapeError);
  CHECK_THROWS_AS(select(tape.leaf(random_tensor({3}, rng), true), 0), ShapeError);
  backward(sum(row) * 3.0);
  for (int64_t i = 0; i < 64; ++i) CHECK(x.grad().at(i) == (i >= 32 && i < 48 ? 3.0 : 0.0));
}

TEST_CASE("slice: an aligned block along axis 0 is a view of its input, other slices are copies") {
  Rng rng(2);
  Tape tape;
  const Var x = tape.leaf(random_tensor({4, 2, 8}, rng), true);  // float64: 128 bytes per axis-0 entry
  const auto* base = static_cast<const std::byte*>(x.value().raw());
  const Var view = slice(x, 0, 1, 2);
  CHECK(view.value().raw() == base + 128);
  CHECK(view.shape() == Shape{2, 2, 8});
  const Var odd = slice(reshape(x, Shape{8, 8}), 0, 1, 3);  // 64 bytes: still aligned
  CHECK(odd.value().raw() == base + 64);
  const Var misaligned = slice(reshape(x, Shape{16, 4}), 0, 1, 2);  // 32 bytes: a copy
  CHECK(misaligned.value().raw() != base + 32);
  CHECK(reinterpret_cast<uintptr_t>(misaligned.value().raw()) % Tensor::kAlignment == 0);
  const Var inner = slice(x, 2, 0, 4);  // not a contiguous block: a copy
  CHECK(inner.value().raw() != base);
  for (const Var& s : {view, odd, misaligned, inner}) {
    CAPTURE(s.shape().str());
    CHECK(reinterpret_cast<uintptr_t>(s.value().raw()) % Tensor::kAlignment == 0);
  }
  CHECK(view.value().at(0) == x.value().at(16));
  CHECK(misaligned.value().at(0) == x.value().at(4));
  backward(sum(view) + sum(misaligned) * 2.0);
  CHECK(x.grad().at(15) == 0.0);
  CHECK(x.grad().at(16) == 1.0);  // view covers flat 16..47
  CHECK(x.grad().at(4) == 2.0);   // misaligned covers flat 4..11
  CHECK(x.grad().at(47) == 1.0);
  CHECK(x.grad().at(48) == 0.0);
}
