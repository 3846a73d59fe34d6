// SPDX-License-Identifier: Apache-2.0
// What lives here: the graph path's batch split (Note [Graph batch split] in
// models/strategies/batch_split.cpp): every cell that says rows_independent(), float64 and float32, 1-8
// threads over B = 5 rows, 2 layers both directions, masked lengths: the outputs, final states and EVERY
// gradient against the unsplit graph path; recurrent_split's gradients, parameters included, against
// float64 central differences on 2 and 3 threads; retain_graph, grad(), two forwards on one tape, a
// no-grad forward; a cell that mixes rows is never split; errors and anomalies inside a block tape reach
// the caller.
#include "examples/cifg_cell.h"
#include "models/cells.h"
#include "ops/batch_split.h"
#include "test_helpers.h"
#include "unroll.h"

using namespace unroll;
using unroll::testing::max_scaled_diff;
using unroll::testing::random_tensor;
using unroll::testing::count_ops;
using unroll::testing::OmpThreads;

namespace {

constexpr double kF32Tolerance = 1e-5;

// A cell that mixes rows: each row's update sees the batch mean of h. Split, it would see its block's mean.
class BatchMeanCell : public Cell {
 public:
  BatchMeanCell(int input, int hidden, Rng& rng) : Cell(input, hidden, 1, rng, nlohmann::json::object()) {}
  std::string kind() const override { return "batch_mean"; }
  std::vector<Var> step(Var px, const std::vector<Var>& state, SequenceContext& seq) override {
    return {tanh(px + project_hidden(state[0], seq) + mean(state[0], 0, true))};
  }
};

// A subclass of a built-in cell, which may have changed step(): not split unless it says so itself.
class ScaledLstmCell : public LstmCell {
 public:
  using LstmCell::LstmCell;
  std::vector<Var> step(Var px, const std::vector<Var>& state, SequenceContext& seq) override {
    return LstmCell::step(px * 0.5, state, seq);
  }
};

const CellRegistry& registry() {
  static const CellRegistry cells = [] {
    CellRegistry r = builtin_cells();
    examples::register_cifg(r);
    r.register_cell("batch_mean", [](int input, int hidden, Rng& rng, const nlohmann::json&) {
      return std::make_unique<BatchMeanCell>(input, hidden, rng);
    });
    r.register_cell("scaled_lstm", [](int input, int hidden, Rng& rng, const nlohmann::json& options) {
      return std::make_unique<ScaledLstmCell>(input, hidden, rng, options);
    });
    return r;
  }();
  return cells;
}

struct Case {
  std::string cell = "cifg";
  DType dtype = DType::f64;
  int threads = 2;
  bool split = true;
  bool masked = false;
  bool use_grad_fn = false;  // grad() (into the tape's buffers) instead of backward() (into parameters)
  bool release_grads = false;  // Note [Released gradients]: the block tapes drop theirs too
};

struct Result {
  std::vector<Tensor> values;   // output, final states
  std::vector<Tensor> inputs;   // gradients of x and the initial states
  std::vector<Tensor> params;   // gradients of every parameter
  size_t split_nodes = 0;
};

// A 2-layer bidirectional model over x [T=6, B=5, 3] with random initial states, a random weighting of
// the output and the final states (so no gradient is all ones), one backward.
Result run(const Case& c) {
  const int64_t T = 6, B = 5, I = 3, H = 4;
  Rng init(11);
  Recurrent model(RecurrentConfig{.cell = c.cell, .input_size = I, .hidden_size = H, .layers = 2,
                                  .bidirectional = true, .fused = false},
                  init, registry());
  model.to(c.dtype);
  model.zero_grad();
  model.set_batch_split(c.split);
  Rng data(5);
  Tape tape;
  tape.set_release_grads(c.release_grads);
  const Var x = tape.leaf(random_tensor({T, B, I}, data).to(c.dtype), true);
  std::vector<Var> states;
  for (int s = 0; s < model.state_count(); ++s) states.push_back(tape.leaf(random_tensor({4, B, H}, data).to(c.dtype), true));
  const std::vector<int64_t> lengths = c.masked ? std::vector<int64_t>{6, 2, 5, 1, 6} : std::vector<int64_t>{};
  const OmpThreads threads(c.threads);
  const RecurrentOutput out = model.forward(tape, x, states, lengths);
  Rng wrng(3);
  const auto weighted = [&](const Var& v) { return sum(mul(v, tape.constant(random_tensor(v.shape(), wrng).to(c.dtype)))); };
  Var loss = weighted(out.output);
  for (const Var& f : out.final_states) loss = add(loss, weighted(f));
  Result r;
  r.values.push_back(out.output.value().clone());
  for (const Var& f : out.final_states) r.values.push_back(f.value().clone());
  std::vector<Var> wrt{x};
  wrt.insert(wrt.end(), states.begin(), states.end());
  const size_t n_inputs = wrt.size();
  if (c.use_grad_fn) {
    for (Parameter* p : model.parameters()) wrt.push_back(tape.param(*p));
    const std::vector<Tensor> g = grad(loss, wrt);
    r.inputs.assign(g.begin(), g.begin() + static_cast<std::ptrdiff_t>(n_inputs));
    r.params.assign(g.begin() + static_cast<std::ptrdiff_t>(n_inputs), g.end());
  } else {
    backward(loss);
    for (const Var& v : wrt) r.inputs.push_back(v.grad().clone());
    for (Parameter* p : model.parameters()) r.params.push_back(p->grad.clone());
  }
  r.split_nodes = count_ops(tape, OpKind::recurrent_split);
  return r;
}

void check_close(const std::vector<Tensor>& a, const std::vector<Tensor>& b, double tolerance, bool bits) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);
    if (bits) {
      CHECK(a[i].bit_equal(b[i]));
    } else {
      CHECK(max_scaled_diff(a[i].to(DType::f64), b[i].to(DType::f64)) < tolerance);
    }
  }
}

}  // namespace

// float64: a row's ops are the same ops on fewer rows (the reference GEMM works row by row), so values and
// the x / initial-state gradients are the same bits as unsplit for every thread count, blocks of unequal
// height (5 rows on 2 or 3 threads) and more threads than rows included; parameter gradients are summed
// per block, so they agree to rounding. float32 agrees to rounding and repeats its bits.
TEST_CASE("graph batch split: every splittable cell equals the unsplit graph path, 1 to 8 threads") {
  for (const std::string cell : {"rnn_tanh", "rnn_relu", "lstm", "lstm_peephole", "gru", "gru_lbr", "cifg"})
    for (const bool masked : {false, true}) {
      CAPTURE(cell);
      CAPTURE(masked);
      const Result f64_ref = run({.cell = cell, .dtype = DType::f64, .split = false, .masked = masked});
      const Result f32_ref = run({.cell = cell, .dtype = DType::f32, .split = false, .masked = masked});
      CHECK(f64_ref.split_nodes == 0);
      for (const int threads : {1, 2, 3, 8}) {
        CAPTURE(threads);
        const Result f64 = run({.cell = cell, .dtype = DType::f64, .threads = threads, .masked = masked});
        CHECK(f64.split_nodes == (threads > 1 ? 4u : 0u));  // 2 layers x 2 directions
        check_close(f64.values, f64_ref.values, 0, true);
        check_close(f64.inputs, f64_ref.inputs, 0, true);
        check_close(f64.params, f64_ref.params, 1e-12, false);
        const Result f32 = run({.cell = cell, .dtype = DType::f32, .threads = threads, .masked = masked});
        const Result f32_again = run({.cell = cell, .dtype = DType::f32, .threads = threads, .masked = masked});
        for (const auto& [got, want] : {std::pair{&f32.values, &f32_ref.values}, std::pair{&f32.inputs, &f32_ref.inputs},
                                        std::pair{&f32.params, &f32_ref.params}})
          check_close(*got, *want, kF32Tolerance, false);
        for (const auto& [got, want] : {std::pair{&f32_again.values, &f32.values},
                                        std::pair{&f32_again.inputs, &f32.inputs},
                                        std::pair{&f32_again.params, &f32.params}})
          check_close(*got, *want, 0, true);
      }
    }
}

// The cases above compare the split with the unsplit graph path; this one checks it against the
// definition: every gradient of x, the initial states and EVERY parameter (summed over the blocks) against
// float64 central differences (autodiff/gradcheck.h), for the CIFG cell and the peephole LSTM (parameters
// beyond the four of Note [Cell layout]), 2 layers, both directions, masked lengths, B = 6 rows over 2
// threads (CIFG: blocks of 3 + 3 rows) and 3 threads (peephole: 2 + 2 + 2).
TEST_CASE("graph batch split: float64 finite differences of x, the initial states and every parameter") {
  const int64_t T = 3, B = 6, I = 2, H = 3;
  const std::pair<std::string, int> cases[] = {{"cifg", 2}, {"lstm_peephole", 3}};
  for (const auto& [cell, threads] : cases) {
    CAPTURE(cell);
    CAPTURE(threads);
    const OmpThreads omp(threads);
    const std::vector<RowBlock> blocks = split_batch(B);
    REQUIRE(blocks.size() == static_cast<size_t>(threads));
    for (const RowBlock& b : blocks) CHECK(b.rows >= 2);
    Rng init(6);
    Recurrent model(RecurrentConfig{.cell = cell, .input_size = I, .hidden_size = H, .layers = 2,
                                    .bidirectional = true, .fused = false},
                    init, registry());
    model.to(DType::f64);
    size_t split_nodes = 0;
    const GradcheckFn f = [&](Tape& tape, const std::vector<Var>& in) {
      const RecurrentOutput out = model.forward(tape, in[0], {in[1], in[2]}, {3, 1, 2, 3, 2, 3});
      split_nodes = count_ops(tape, OpKind::recurrent_split);
      return concat({reshape(out.output, Shape{T * B, 2 * H}), reshape(out.final_states[0], Shape{2 * B, 2 * H}),
                     reshape(out.final_states[1], Shape{2 * B, 2 * H})},
                    0);
    };
    Rng data(9);
    const GradcheckReport report =
        gradcheck(f, {random_tensor({T, B, I}, data), random_tensor({4, B, H}, data), random_tensor({4, B, H}, data)},
                  model.parameters());
    INFO(report.summary());
    CHECK(report.ok);
    CHECK(!report.directional);
    CHECK(split_nodes == 4);  // 2 layers x 2 directions
    CHECK(report.worst_per_input.size() == 3 + model.parameters().size());
    for (const GradcheckEntry& e : report.worst_per_input) {
      CAPTURE(e.input);
      CHECK(e.index >= 0);  // every input and parameter was compared
    }
  }
}

TEST_CASE("graph batch split: grad() returns what backward() accumulates into the parameters") {
  for (const DType dtype : {DType::f64, DType::f32}) {
    CAPTURE(dtype_name(dtype));
    const Result via_backward = run({.dtype = dtype, .threads = 3});
    const Result via_grad = run({.dtype = dtype, .threads = 3, .use_grad_fn = true});
    CHECK(via_grad.split_nodes == 4);
    check_close(via_grad.values, via_backward.values, 0, true);
    check_close(via_grad.inputs, via_backward.inputs, 0, true);
    check_close(via_grad.params, via_backward.params, 0, true);
  }
}

TEST_CASE("graph batch split: with released gradients (the block tapes release theirs too) the same bits") {
  for (const DType dtype : {DType::f64, DType::f32})
    for (const bool masked : {false, true}) {
      CAPTURE(dtype_name(dtype));
      CAPTURE(masked);
      const Result kept = run({.dtype = dtype, .threads = 3, .masked = masked});
      const Result released = run({.dtype = dtype, .threads = 3, .masked = masked, .release_grads = true});
      check_close(released.values, kept.values, 0, true);
      check_close(released.inputs, kept.inputs, 0, true);
      check_close(released.params, kept.params, 0, true);
    }
}

TEST_CASE("graph batch split: a cell that mixes rows, or a subclass that did not say so, is never split") {
  for (const std::string cell : {"batch_mean", "scaled_lstm"}) {
    CAPTURE(cell);
    const Result unsplit = run({.cell = cell, .split = false});
    const Result asked = run({.cell = cell, .threads = 3});
    CHECK(asked.split_nodes == 0);
    check_close(asked.values, unsplit.values, 0, true);
    check_close(asked.params, unsplit.params, 0, true);
  }
  Rng rng(1);
  CHECK(!BatchMeanCell(2, 3, rng).rows_independent());
  CHECK(!ScaledLstmCell(2, 3, rng).rows_independent());
  CHECK(LstmCell(2, 3, rng).rows_independent());
  CHECK(examples::CifgCell(2, 3, rng).rows_independent());
}

// The block tapes are reused once no tape holds them: two forwards on one tape (two workspaces at once),
// a backward with retain_graph followed by a second one (gradients accumulate: twice the first), and a
// no-grad forward that records no backward.
TEST_CASE("graph batch split: two forwards on one tape, retain_graph, a reused model, a no-grad forward") {
  const OmpThreads threads(2);
  Rng init(2);
  Recurrent model(RecurrentConfig{.cell = "cifg", .input_size = 2, .hidden_size = 3}, init, registry());
  model.to(DType::f64);
  Rng data(4);
  const Tensor x1 = random_tensor({5, 4, 2}, data), x2 = random_tensor({3, 4, 2}, data);
  const auto two_forwards = [&](bool split, int backwards) {
    model.set_batch_split(split);
    model.zero_grad();
    Tape tape;
    const Var a = model.forward(tape, tape.constant(x1)).output;
    const Var b = model.forward(tape, tape.constant(x2)).output;
    CHECK(count_ops(tape, OpKind::recurrent_split) == (split ? 2u : 0u));
    // The split layer's output is a view of its node; only the per-step path stacks its steps.
    CHECK(count_ops(tape, OpKind::concat) == (split ? 0u : 2u));
    const Var loss = add(sum(square(a)), sum(mul(b, a.tape().constant(random_tensor(b.shape(), data)))));
    for (int i = 0; i < backwards; ++i) backward(loss, BackwardOptions{.retain_graph = i + 1 < backwards});
    std::vector<Tensor> grads;
    for (Parameter* p : model.parameters()) grads.push_back(p->grad.clone());
    return grads;
  };
  const Rng data_start = data;
  const std::vector<Tensor> unsplit = two_forwards(false, 1);
  for (int round = 0; round < 3; ++round) {  // the same model, its block tapes reused
    data = data_start;
    check_close(two_forwards(true, 1), unsplit, 1e-12, false);
  }
  data = data_start;
  const std::vector<Tensor> twice = two_forwards(true, 2);
  for (size_t i = 0; i < twice.size(); ++i) {
    Tensor doubled = unsplit[i].clone();
    for (int64_t e = 0; e < doubled.numel(); ++e) doubled.set(e, 2 * doubled.at(e));
    CHECK(max_scaled_diff(twice[i], doubled) < 1e-12);
  }

  model.set_batch_split(true);
  Tape tape;
  const NoGradGuard no_grad(tape);
  const RecurrentOutput out = model.forward(tape, tape.constant(x1));
  CHECK(count_ops(tape, OpKind::recurrent_split) == 1);
  CHECK(!out.output.requires_grad());
  for (NodeId id = 0; id < tape.size(); ++id) CHECK(!tape.node(id).backward);
}

namespace {
// A cell that produces a NaN in its step when asked to, and throws for a bad state when asked to.
class FaultyCell : public Cell {
 public:
  FaultyCell(int input, int hidden, Rng& rng, std::string fault)
      : Cell(input, hidden, 1, rng, nlohmann::json::object()), fault_(std::move(fault)) {}
  std::string kind() const override { return "faulty"; }
  bool rows_independent() const override { return true; }
  std::vector<Var> step(Var px, const std::vector<Var>& state, SequenceContext& seq) override {
    if (fault_ == "nan") return {log(px + project_hidden(state[0], seq) - 10.0)};  // log of a negative number
    return {tanh(px + project_hidden(reshape(state[0], Shape{1, state[0].shape().numel()}), seq))};
  }

 private:
  std::string fault_;
};
}  // namespace

TEST_CASE("graph batch split: anomaly mode and errors inside a block tape reach the caller") {
  const OmpThreads threads(2);
  for (const std::string fault : {"nan", "shape"}) {
    CAPTURE(fault);
    CellRegistry cells = builtin_cells();
    cells.register_cell("faulty", [fault](int input, int hidden, Rng& rng, const nlohmann::json&) {
      return std::make_unique<FaultyCell>(input, hidden, rng, fault);
    });
    Rng rng(3);
    Recurrent model(RecurrentConfig{.cell = "faulty", .input_size = 2, .hidden_size = 3}, rng, cells);
    Tape tape;
    tape.set_anomaly_detection(true);
    const ScopeGuard scope(tape, "encoder");
    const Var x = tape.constant(random_tensor({3, 4, 2}, rng).to(DType::f32));
    if (fault == "nan") {
      CHECK_THROWS_WITH_AS(model.forward(tape, x),
                           doctest::Contains("op 'log' (tape node 11, recorded in encoder/l0, batch rows 0-1 of 4) produced "
                                             "a non-finite value"),
                           NumericError);
    } else {
      CHECK_THROWS_AS(model.forward(tape, x), ShapeError);
    }
  }
}
