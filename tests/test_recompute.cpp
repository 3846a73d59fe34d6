// SPDX-License-Identifier: Apache-2.0
// What lives here: recomputation mode (Note [Recompute segments] in models/strategies/recompute.cpp) and
// the tape's replay region under it (Note [Replay region] in graph/replay.h): for every built-in cell and the
// example custom cell, float32 and float64, uni- and bidirectional, 1 and 2 layers, masked lengths, dropout
// between layers and several segment lengths, the outputs and EVERY gradient (parameters, x, initial
// states) equal the plain mode's bit for bit, through backward() and grad(); recompute_segment's gradients,
// parameters included, against float64 central differences; the memory the tape keeps shrinks; a cell
// whose step is not a pure function is refused in backward instead of giving wrong gradients. Several
// cases run with and without the graph batch split (Note [Graph batch split] in
// models/strategies/batch_split.cpp), whose block tapes then hold the segments.
#include <fmt/format.h>
#include <omp.h>

#include "examples/cifg_cell.h"
#include "ops/batch_split.h"
#include "test_helpers.h"
#include "unroll.h"

using namespace unroll;
using unroll::testing::random_tensor;
using unroll::testing::count_ops;
using unroll::testing::OmpThreads;

namespace {

const CellRegistry& cells_with_cifg() {
  static const CellRegistry registry = [] {
    CellRegistry r = builtin_cells();
    examples::register_cifg(r);
    return r;
  }();
  return registry;
}

struct Pass {
  std::vector<std::pair<std::string, Tensor>> values;  // name -> copy, same names in every pass
  size_t segment_nodes = 0;                            // recompute_segment nodes on the tape
  size_t split_nodes = 0;                              // recurrent_split nodes (their block tapes hold the steps)
  size_t fused_nodes = 0;
  size_t arena_bytes = 0;                              // main arena used after backward
  size_t replay_reserved = 0;                          // replay arena's reserved bytes after backward
};

struct Setup {
  RecurrentConfig config;
  DType dtype = DType::f64;
  int64_t T = 7, B = 3;
  std::vector<int64_t> lengths;
  bool with_init = true;
  bool use_grad_fn = false;  // grad(loss, {x, states}) instead of backward()
  bool batch_split = false;  // Recurrent::set_batch_split (off: the steps are on the tape these tests inspect)
};

// One pass with a fixed random weighting of the output, two steps and the final states (so the seeds of
// the kept nodes are neither ones nor zeros); returns every value and gradient.
Pass run(const Setup& s, int64_t recompute) {
  Rng init_rng(42);
  Recurrent model(s.config, init_rng, cells_with_cifg());
  model.to(s.dtype);
  model.zero_grad();
  model.set_recompute(recompute);
  model.set_batch_split(s.batch_split);
  Rng data(5);
  Tape tape;
  const Var x = tape.leaf(random_tensor({s.T, s.B, s.config.input_size}, data).to(s.dtype), true);
  std::vector<Var> init;
  if (s.with_init)
    for (int k = 0; k < model.state_count(); ++k)
      init.push_back(tape.leaf(
          random_tensor({int64_t{s.config.layers} * s.config.directions(), s.B, s.config.hidden_size}, data).to(s.dtype),
          true));
  Rng drop_rng(7);
  const RecurrentOutput out = model.forward(tape, x, init, s.lengths, &drop_rng);
  Rng wrng(3);
  const auto weighted = [&](const Var& v) { return sum(mul(v, tape.constant(random_tensor(v.shape(), wrng).to(s.dtype)))); };
  Var loss = weighted(out.output);
  loss = add(loss, weighted(out.steps.front()));
  loss = add(loss, weighted(out.steps.back()));
  for (const Var& f : out.final_states) loss = add(loss, weighted(f));

  Pass p;
  const auto keep = [&](std::string name, const Tensor& t) { p.values.emplace_back(std::move(name), t.clone()); };
  keep("output", out.output.value());
  for (size_t f = 0; f < out.final_states.size(); ++f) keep(fmt::format("final_states[{}]", f), out.final_states[f].value());
  std::vector<Var> wrt{x};
  wrt.insert(wrt.end(), init.begin(), init.end());
  if (s.use_grad_fn) {
    std::vector<Var> with_params = wrt;
    for (Parameter* prm : model.parameters()) with_params.push_back(tape.param(*prm));
    const std::vector<Tensor> g = grad(loss, with_params);
    for (size_t i = 0; i < g.size(); ++i) keep(fmt::format("grad[{}]", i), g[i]);
  } else {
    backward(loss);
    for (size_t i = 0; i < wrt.size(); ++i)
      keep(fmt::format("d wrt[{}]", i), wrt[i].grad().defined() ? wrt[i].grad() : Tensor::zeros(wrt[i].shape(), s.dtype));
    for (const auto& [path, prm] : model.named_parameters()) keep("d " + path, prm->grad);
  }
  p.segment_nodes = count_ops(tape, OpKind::recompute_segment);
  p.split_nodes = count_ops(tape, OpKind::recurrent_split);
  p.fused_nodes = count_ops(tape, OpKind::rnn_sequence);
  p.arena_bytes = tape.arena().used_bytes();
  p.replay_reserved = tape.replay_arena().reserved_bytes();
  return p;
}

void check_bit_equal(const Pass& a, const Pass& b) {
  REQUIRE(a.values.size() == b.values.size());
  for (size_t i = 0; i < a.values.size(); ++i) {
    CAPTURE(a.values[i].first);
    REQUIRE(a.values[i].first == b.values[i].first);
    CHECK(a.values[i].second.bit_equal(b.values[i].second));
  }
}

}  // namespace

TEST_CASE("recompute: every cell's gradients equal the plain mode's bit for bit") {
  for (const std::string cell : {"rnn_tanh", "rnn_relu", "lstm", "lstm_peephole", "gru", "gru_lbr", "cifg"})
    for (const DType dtype : {DType::f64, DType::f32})
      for (const int64_t k : {int64_t{1}, int64_t{3}, Recurrent::kRecomputeSqrt})
        for (const bool split : {false, true}) {
          CAPTURE(cell);
          CAPTURE(dtype_name(dtype));
          CAPTURE(k);
          CAPTURE(split);
          Setup s;
          s.config = RecurrentConfig{.cell = cell, .input_size = 4, .hidden_size = 5, .layers = 2,
                                     .bidirectional = true, .dropout = 0.25};
          s.config.fused = false;  // the plain reference is the graph path (recompute always uses it)
          s.dtype = dtype;
          s.batch_split = split;
          const Pass plain = run(s, 0);
          const Pass recomputed = run(s, k);
          CHECK(plain.segment_nodes == 0);
          if (split && omp_get_max_threads() > 1) {  // B = 3: 2 or 3 blocks, each with its segments
            CHECK(recomputed.split_nodes == 4);
          } else {
            CHECK(recomputed.segment_nodes > 0);
          }
          check_bit_equal(plain, recomputed);
        }
}

// The bit-identity cases above compare recompute with the plain mode; this one checks both against the
// definition: every gradient of x, the initial states and EVERY parameter against float64 central
// differences (autodiff/gradcheck.h), for a Cho GRU (its begin_sequence nodes are shared by all segments)
// and the CIFG cell, 2 layers, both directions, masked lengths, segments of 2 steps. Split, the segments
// are on the block tapes of 2 threads with 2 rows each.
TEST_CASE("recompute: float64 finite differences of x, the initial states and every parameter") {
  const int64_t T = 5, B = 4, I = 2, H = 3;
  for (const std::string cell : {"gru", "cifg"})
    for (const bool split : {false, true}) {
      CAPTURE(cell);
      CAPTURE(split);
      const OmpThreads threads(2);
      if (split) {
        const std::vector<RowBlock> blocks = split_batch(B);
        REQUIRE(blocks.size() == 2);
        for (const RowBlock& b : blocks) CHECK(b.rows == 2);
      }
      Rng init(3);
      Recurrent model(
          RecurrentConfig{.cell = cell, .input_size = I, .hidden_size = H, .layers = 2, .bidirectional = true}, init,
          cells_with_cifg());
      model.to(DType::f64);
      model.set_recompute(2);
      model.set_batch_split(split);
      size_t segment_nodes = 0, split_nodes = 0;
      const int S = model.state_count();
      const GradcheckFn f = [&](Tape& tape, const std::vector<Var>& in) {
        const RecurrentOutput out = model.forward(tape, in[0], std::vector<Var>(in.begin() + 1, in.end()), {5, 3, 4, 5});
        segment_nodes = count_ops(tape, OpKind::recompute_segment);
        split_nodes = count_ops(tape, OpKind::recurrent_split);
        std::vector<Var> rows{reshape(out.output, Shape{T * B, 2 * H})};
        for (const Var& state : out.final_states) rows.push_back(reshape(state, Shape{2 * B, 2 * H}));
        return concat(rows, 0);
      };
      Rng data(8);
      std::vector<Tensor> inputs{random_tensor({T, B, I}, data)};
      for (int k = 0; k < S; ++k) inputs.push_back(random_tensor({4, B, H}, data));
      const GradcheckReport report = gradcheck(f, inputs, model.parameters());
      INFO(report.summary());
      CHECK(report.ok);
      CHECK(!report.directional);
      CHECK(report.worst_per_input.size() == 1 + S + model.parameters().size());
      for (const GradcheckEntry& e : report.worst_per_input) {
        CAPTURE(e.input);
        CHECK(e.index >= 0);  // every input and parameter was compared
      }
      if (split) {
        CHECK(split_nodes == 4);  // 2 layers x 2 directions, each holding its blocks' segments
      } else {
        CHECK(split_nodes == 0);
        CHECK(segment_nodes >= 4);
      }
    }
}

TEST_CASE("recompute: masked lengths, one layer, segment lengths that do and do not divide T, grad()") {
  for (const std::string cell : {"lstm", "gru", "cifg"})
    for (const int64_t k : {int64_t{2}, int64_t{4}, int64_t{7}, int64_t{50}})
      for (const bool masked : {false, true})
        for (const bool use_grad_fn : {false, true})
          for (const bool split : {false, true}) {
            CAPTURE(cell);
            CAPTURE(k);
            CAPTURE(masked);
            CAPTURE(use_grad_fn);
            CAPTURE(split);
            Setup s;
            s.batch_split = split;
            s.config = RecurrentConfig{.cell = cell, .input_size = 3, .hidden_size = 4};
            s.config.fused = false;
            s.T = 8;
            s.use_grad_fn = use_grad_fn;
            if (masked) s.lengths = {8, 3, 6};
            s.with_init = !masked;
            check_bit_equal(run(s, 0), run(s, k));
          }
}

TEST_CASE("recompute: a stock cell leaves the fused path, and a no-grad forward records no segments") {
  Setup s;
  s.config = RecurrentConfig{.cell = "lstm", .input_size = 3, .hidden_size = 4};
  s.dtype = DType::f32;
  const Pass fused = run(s, 0);
  CHECK(fused.fused_nodes == 1);
  const Pass recomputed = run(s, 3);
  CHECK(recomputed.fused_nodes == 0);
  CHECK(recomputed.segment_nodes > 0);
  s.config.fused = false;
  check_bit_equal(run(s, 0), recomputed);  // the graph path, bit for bit

  Rng rng(1);
  Recurrent model(s.config, rng);
  model.set_recompute(2);
  model.set_batch_split(false);  // the steps on this tape
  Tape tape;
  const NoGradGuard no_grad(tape);
  model.forward(tape, tape.constant(random_tensor({6, 2, 3}, rng).to(DType::f32)));
  CHECK(count_ops(tape, OpKind::recompute_segment) == 0);
}

TEST_CASE("recompute: the tape keeps far less memory over a long sequence") {
  Setup s;
  s.config = RecurrentConfig{.cell = "cifg", .input_size = 2, .hidden_size = 16};
  s.config.fused = false;
  s.dtype = DType::f32;
  s.T = 1024;
  s.B = 8;
  s.with_init = false;
  const Pass plain = run(s, 0);
  const Pass recomputed = run(s, 32);
  check_bit_equal(plain, recomputed);
  MESSAGE("main arena after backward: plain ", plain.arena_bytes, " B, recompute ", recomputed.arena_bytes,
          " B (+ replay arena ", recomputed.replay_reserved, " B reserved)");
  // Plain keeps every step's ~15 intermediate values and their gradients; recompute keeps px, the outputs
  // and their gradients, plus one segment's worth in the replay arena (at least its 1 MiB first chunk).
  CHECK(recomputed.arena_bytes + recomputed.replay_reserved < plain.arena_bytes / 2);
  CHECK(recomputed.replay_reserved < plain.arena_bytes / 8);
}

namespace {

// A cell whose step() depends on how often it was called: recomputing it would silently change values.
class CountingCell : public Cell {
 public:
  CountingCell(int input, int hidden, Rng& rng) : Cell(input, hidden, 1, rng, nlohmann::json::object()) {}
  std::string kind() const override { return "counting"; }
  std::vector<Var> step(Var px, const std::vector<Var>& state, SequenceContext& seq) override {
    ++calls_;
    return {tanh(px + project_hidden(state[0], seq) * static_cast<double>(calls_))};
  }

 private:
  int calls_ = 0;
};

}  // namespace

TEST_CASE("recompute: a step() that is not a pure function is refused in backward") {
  CellRegistry registry = builtin_cells();
  registry.register_cell("counting", [](int input, int hidden, Rng& rng, const nlohmann::json&) {
    return std::make_unique<CountingCell>(input, hidden, rng);
  });
  Rng rng(3);
  Recurrent model(RecurrentConfig{.cell = "counting", .input_size = 2, .hidden_size = 3}, rng, registry);
  model.set_recompute(2);
  Tape tape;
  const RecurrentOutput out = model.forward(tape, tape.constant(random_tensor({5, 2, 2}, rng).to(DType::f32)));
  CHECK_THROWS_WITH_AS(backward(sum(out.output)),
                       "recompute: cell 'counting' gave different values when steps 2..3 were recorded again in "
                       "backward (hint: recomputation needs a step() that is a pure function of its inputs and "
                       "parameters -- no random draws, no state kept between calls; switch it off with "
                       "set_recompute(0))",
                       UsageError);
  CHECK(!tape.replaying());  // the region was closed on the way out
  CHECK_THROWS_WITH_AS(model.set_recompute(-2),
                       "Recurrent: recompute segment length must be >= 0 (0 = off) or kRecomputeSqrt, got -2",
                       UsageError);
}

TEST_CASE("replay region: nodes, values and gradients recorded inside are dropped, older ones kept") {
  Tape tape;
  Parameter w("w", Tensor::from_values({2.0, 3.0}, Shape{2}, DType::f64));
  Parameter late("late", Tensor::from_values({1.0}, Shape{1}, DType::f64));
  const Var wv = tape.param(w);
  const Var a = tape.leaf(Tensor::from_values({1.0, -1.0}, Shape{2}, DType::f64), true);
  const Var before = mul(a, wv);
  const size_t nodes = tape.size(), used = tape.arena().used_bytes();
  const NodeId first = tape.begin_replay();
  CHECK(first == nodes);
  const Var inside = mul(before, wv);  // recorded in the region
  tape.grad_buffer(inside.id(), true).fill(1.0);
  backward_range(tape, first, static_cast<NodeId>(tape.size()), true);
  CHECK(before.grad().to_vector() == std::vector<double>{2.0, 3.0});  // an older node's gradient: kept
  CHECK(w.grad.to_vector() == std::vector<double>{2.0, -3.0});
  CHECK_THROWS_WITH_AS(tape.param(late),
                       "param: parameter 'late' is first used inside a replay region, where its node would be dropped "
                       "at the region's end (hint: record it with tape.param() before the region; Note [Replay "
                       "region])",
                       UsageError);
  CHECK_THROWS_WITH_AS(tape.begin_replay(), "begin_replay: a replay region is already open (regions do not nest)",
                       UsageError);
  tape.end_replay();
  CHECK(tape.size() == nodes);
  CHECK(tape.arena().used_bytes() > used);  // before's gradient buffer came from the main arena
  CHECK(before.grad().to_vector() == std::vector<double>{2.0, 3.0});
  CHECK_THROWS_WITH_AS(tape.end_replay(), "end_replay: no replay region is open", UsageError);
}

TEST_CASE("recompute: ops recorded inside a segment keep their layer's scope in messages") {
  Rng rng(4);
  Recurrent model(RecurrentConfig{.cell = "cifg", .input_size = 2, .hidden_size = 3}, rng, cells_with_cifg());
  model.set_recompute(2);
  Tape tape;
  tape.set_anomaly_detection(true);
  model.cell(0).w_hh().value.set(0, std::nan(""));  // the first non-finite value: step 0's W_hh h, in a segment
  const Var x = tape.constant(random_tensor({5, 2, 2}, rng).to(DType::f32));
  std::string message;
  try {
    model.forward(tape, x);
  } catch (const NumericError& e) {
    message = e.what();
  }
  CAPTURE(message);
  CHECK(message.find("recorded in l0") != std::string::npos);
  CHECK(!tape.replaying());
}
