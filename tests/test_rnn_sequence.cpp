// SPDX-License-Identifier: Apache-2.0
// What lives here: the fused fast path (ops/rnn_sequence.cpp, Note [Fused fast path] in models/cell.h)
// against the graph path it replaces: for every stock kind, uni- and bidirectional, 1 and 2 layers, with and
// without initial states, Recurrent with fused = true (float32, both engines: the step loop and oneDNN's
// primitive) and fused = false (per-step graph) on the same weights agree in outputs, steps, final states
// and EVERY gradient; the float64 step loop equals the float64 graph path; the step loop gives the same
// bits whether its backward consumes its saved gates or copies them; the fast path is really taken (tape
// inspection); bad shapes are refused naming the op and the shapes; the step loop's batch split (Note
// [Batch split]) over 1, 2, 3 and 5 threads. Masked batches: tests/test_rnn_sequence_masked.cpp.
#include "rnn_sequence_helpers.h"

using namespace unroll;
using namespace unroll::testing;

TEST_CASE("rnn_sequence: the fused float32 path equals the graph path, outputs and every gradient, both engines") {
  const int64_t T = 5, B = 3, I = 4, H = 6;
  for (const RnnEngine engine : {RnnEngine::step_loop, RnnEngine::primitive}) {
    const char* engine_name = engine == RnnEngine::step_loop ? "step loop" : "oneDNN primitive";
    CAPTURE(engine_name);
    double worst = 0;
    for (const RnnKind kind : {RnnKind::lstm, RnnKind::gru_lbr, RnnKind::rnn_tanh, RnnKind::rnn_relu})
      for (const bool bidirectional : {false, true})
        for (const int layers : {1, 2})
          for (const bool with_init : {false, true}) {
            const std::string name = cell_name(kind);
            CAPTURE(name);
            CAPTURE(bidirectional);
            CAPTURE(layers);
            CAPTURE(with_init);
            RecurrentConfig config{.cell = cell_name(kind), .input_size = I, .hidden_size = H, .layers = layers,
                                   .bidirectional = bidirectional};
            Rng rng(11);
            const Tensor x = random_tensor({T, B, I}, rng);
            std::vector<Tensor> init;
            if (with_init)
              for (int s = 0; s < (kind == RnnKind::lstm ? 2 : 1); ++s)
                init.push_back(random_tensor({int64_t{layers} * config.directions(), B, H}, rng));
            const Run fused = run_model(config, DType::f32, x, init, {}, false, engine);
            config.fused = false;
            const Run graph = run_model(config, DType::f32, x, init);
            CHECK(fused.fused_ops == size_t(layers * config.directions()));
            CHECK(graph.fused_ops == 0);
            worst = std::max(worst, check_close(fused, graph, kF32Tolerance));
          }
    MESSAGE(engine_name, " vs graph, float32: worst scaled difference over 32 configurations ", worst);
  }
}

// Note [Consumed activations] (graph/grad_memory.h): backward() without retain_graph lets the step loop write the
// gate gradients over its saved gates; grad() retains the graph, so the loop works on a copy. Same bits.
TEST_CASE("rnn_sequence: the step loop's gradients are the same bits whether it consumes its saved gates or not") {
  const int64_t T = 6, B = 3, I = 4, H = 5;
  for (const DType dtype : {DType::f32, DType::f64})
    for (const RnnKind kind : {RnnKind::lstm, RnnKind::gru_lbr, RnnKind::rnn_tanh, RnnKind::rnn_relu}) {
      const std::string name = cell_name(kind);
      CAPTURE(name);
      CAPTURE(dtype_name(dtype));
      const bool lstm = kind == RnnKind::lstm;
      Rng rng(13);
      const std::vector<Tensor> inputs = random_sequence_inputs(kind, T, B, I, H, rng);
      const Tensor weight = random_tensor({T + (lstm ? 1 : 0), B, H}, rng).to(dtype);
      std::vector<std::vector<Tensor>> runs;
      for (const bool retain : {false, true}) {
        Tape tape;
        std::vector<Var> in;
        for (const Tensor& t : inputs) in.push_back(tape.leaf(t.to(dtype), true));
        std::vector<NodeId> ops;
        std::vector<Tensor> saved;  // the ops' aux before backward
        for (const bool reverse : {false, true}) {  // two ops on one tape: both directions
          const Var y = rnn_sequence(kind, in[0], in[1], lstm ? in[2] : Var(), in[3], in[4], in[5], in[6], reverse,
                                     RnnEngine::step_loop);
          ops.push_back(y.id());
          saved.push_back(tape.node(y.id()).aux.clone());
          in.push_back(sum(mul(y, tape.constant(weight))));
        }
        const Var loss = add(in[7], in[8]);
        in.resize(7);
        if (!lstm) in.erase(in.begin() + 2);
        std::vector<Tensor> grads;
        if (retain) {
          grads = grad(loss, in);
        } else {
          backward(loss);
          for (const Var& v : in) grads.push_back(v.grad().clone());
          CHECK_THROWS_AS(backward(loss), UsageError);  // consumed: a second backward is refused
        }
        for (size_t k = 0; k < ops.size(); ++k)  // consumed (overwritten) exactly when not retained
          CHECK(tape.node(ops[k]).aux.bit_equal(saved[k]) == retain);
        runs.push_back(grads);
      }
      REQUIRE(runs[0].size() == runs[1].size());
      for (size_t i = 0; i < runs[0].size(); ++i) {
        CAPTURE(i);
        CHECK(runs[0][i].bit_equal(runs[1][i]));
      }
    }
}

namespace {
// rnn_sequence of one kind, forward and backward with the OpenMP thread count set to `threads`: the output,
// then the gradients of x, h0, (c0,) w_ih, w_hh, b_ih, b_hh.
std::vector<Tensor> step_loop_with_threads(RnnKind kind, bool reverse, DType dtype, int threads, int64_t batch) {
  const int64_t T = 7, I = 3, H = 5;
  const bool lstm = kind == RnnKind::lstm;
  Rng rng(17);
  const std::vector<Tensor> inputs = random_sequence_inputs(kind, T, batch, I, H, rng);
  const Tensor weight = random_tensor({T + (lstm ? 1 : 0), batch, H}, rng).to(dtype);
  const OmpThreads scoped(threads);
  Tape tape;
  std::vector<Var> in;
  for (const Tensor& t : inputs) in.push_back(tape.leaf(t.to(dtype), true));
  const Var y = rnn_sequence(kind, in[0], in[1], lstm ? in[2] : Var(), in[3], in[4], in[5], in[6], reverse,
                             RnnEngine::step_loop);
  backward(sum(mul(y, tape.constant(weight))));
  std::vector<Tensor> result{y.value().clone()};
  for (size_t i = 0; i < in.size(); ++i)
    if (lstm || i != 2) result.push_back(in[i].grad().clone());
  return result;
}
}  // namespace

// Note [Batch split]: with n threads the step loop runs n blocks of rows side by side. A row's arithmetic is
// the same in every split except the float32 products' blocking, so float64 (the reference GEMM, row by
// row) gives the same bits for every thread count, including blocks of unequal height (B = 5 on 2 or 3
// threads) and more threads than rows; float32 agrees to rounding, and to the bit for a repeated run.
TEST_CASE("rnn_sequence: the step loop's batch split gives the same result for 1, 2, 3, 5 and 8 threads") {
  const int64_t B = 5;
  for (const RnnKind kind : {RnnKind::lstm, RnnKind::gru_lbr, RnnKind::rnn_tanh, RnnKind::rnn_relu})
    for (const bool reverse : {false, true}) {
      const std::string name = cell_name(kind);
      CAPTURE(name);
      CAPTURE(reverse);
      const std::vector<Tensor> f64_one = step_loop_with_threads(kind, reverse, DType::f64, 1, B);
      const std::vector<Tensor> f32_one = step_loop_with_threads(kind, reverse, DType::f32, 1, B);
      for (const int threads : {2, 3, 5, 8}) {
        CAPTURE(threads);
        const std::vector<Tensor> f64 = step_loop_with_threads(kind, reverse, DType::f64, threads, B);
        const std::vector<Tensor> f32 = step_loop_with_threads(kind, reverse, DType::f32, threads, B);
        const std::vector<Tensor> f32_again = step_loop_with_threads(kind, reverse, DType::f32, threads, B);
        REQUIRE(f64.size() == f64_one.size());
        for (size_t i = 0; i < f64.size(); ++i) {
          CAPTURE(i);
          CHECK(f64[i].bit_equal(f64_one[i]));
          CHECK(max_scaled_diff(f32[i].to(DType::f64), f32_one[i].to(DType::f64)) < kF32Tolerance);
          CHECK(f32_again[i].bit_equal(f32[i]));
        }
      }
    }
}

TEST_CASE("rnn_sequence: dropout between layers keeps working on the fast path") {
  const int64_t T = 4, B = 2, I = 3, H = 5;
  RecurrentConfig config{.cell = "lstm", .input_size = I, .hidden_size = H, .layers = 2, .bidirectional = true,
                         .dropout = 0.4};
  Rng rng(2);
  const Tensor x = random_tensor({T, B, I}, rng);
  const Run fused = run_model(config, DType::f32, x, {}, {}, true);
  config.fused = false;
  const Run graph = run_model(config, DType::f32, x, {}, {}, true);
  CHECK(fused.fused_ops == 4);
  check_close(fused, graph, kF32Tolerance);
}

TEST_CASE("rnn_sequence: the float64 reference equals the float64 graph path of the stock cells") {
  // The driver takes the fast path only in float32, so the op is called directly on the cell's parameters.
  const int64_t T = 4, B = 2, I = 3, H = 4;
  for (const RnnKind kind : {RnnKind::lstm, RnnKind::gru_lbr, RnnKind::rnn_tanh, RnnKind::rnn_relu})
    for (const bool reverse : {false, true}) {
      const std::string name = cell_name(kind);
      CAPTURE(name);
      CAPTURE(reverse);
      const bool lstm = kind == RnnKind::lstm;
      Rng rng(5);
      Recurrent model(RecurrentConfig{.cell = cell_name(kind), .input_size = I, .hidden_size = H,
                                      .bidirectional = reverse, .fused = false},
                      rng);
      model.to(DType::f64);
      Cell& cell = model.cell(0, reverse ? 1 : 0);
      const Tensor x = random_tensor({T, B, I}, rng), h0 = random_tensor({B, H}, rng), c0 = random_tensor({B, H}, rng);
      const Tensor w_out = random_tensor({T, B, H}, rng), w_c = random_tensor({B, H}, rng);
      // direct op
      Tape t1;
      std::vector<Var> in1{t1.leaf(x, true), t1.leaf(h0, true), t1.leaf(c0, true)};
      const Var packed = rnn_sequence(kind, in1[0], in1[1], lstm ? in1[2] : Var(), t1.param(cell.w_ih()),
                                      t1.param(cell.w_hh()), t1.param(cell.b_ih()), t1.param(cell.b_hh()), reverse);
      CHECK(packed.shape() == Shape{T + (lstm ? 1 : 0), B, H});
      Var l1 = sum(mul(slice(packed, 0, 0, T), t1.constant(w_out)));
      if (lstm) l1 = add(l1, sum(mul(reshape(slice(packed, 0, T, 1), {B, H}), t1.constant(w_c))));
      std::vector<Var> wrt1 = in1;
      for (Parameter* p : cell.parameters()) wrt1.push_back(t1.param(*p));
      const std::vector<Tensor> g1 = grad(l1, wrt1);
      // graph path: the cell's own steps
      Tape t2;
      std::vector<Var> in2{t2.leaf(x, true), t2.leaf(h0, true), t2.leaf(c0, true)};
      const Var px = cell.project_inputs(reshape(in2[0], {T * B, I}));
      std::vector<Var> state{in2[1]};
      if (lstm) state.push_back(in2[2]);
      std::vector<Var> hs(static_cast<size_t>(T));
      for (int64_t k = 0; k < T; ++k) {
        const int64_t t = reverse ? T - 1 - k : k;
        state = cell.step(slice(px, 0, t * B, B), state);
        hs[static_cast<size_t>(t)] = reshape(state[0], {1, B, H});
      }
      Var l2 = sum(mul(concat(hs, 0), t2.constant(w_out)));
      if (lstm) l2 = add(l2, sum(mul(state[1], t2.constant(w_c))));
      std::vector<Var> wrt2 = in2;
      for (Parameter* p : cell.parameters()) wrt2.push_back(t2.param(*p));
      const std::vector<Tensor> g2 = grad(l2, wrt2);
      CHECK(std::abs(l1.item() - l2.item()) < 1e-12 * (1 + std::abs(l2.item())));
      REQUIRE(g1.size() == g2.size());
      for (size_t i = 0; i < g1.size(); ++i) {
        CAPTURE(i);
        CHECK(max_scaled_diff(g1[i], g2[i]) < 1e-12);
      }
    }
}

TEST_CASE("rnn_sequence: without gradients (no-grad guard) the fast path gives the same values, both engines") {
  const int64_t T = 6, B = 2, I = 3, H = 4;
  for (const RnnEngine engine : {RnnEngine::step_loop, RnnEngine::primitive})  // primitive: forward_inference
  for (const RnnKind kind : {RnnKind::lstm, RnnKind::gru_lbr, RnnKind::rnn_tanh, RnnKind::rnn_relu}) {
    const std::string name = cell_name(kind);
    CAPTURE(name);
    RecurrentConfig config{.cell = name, .input_size = I, .hidden_size = H, .layers = 2, .bidirectional = true};
    Rng rng(9);
    const Tensor x = random_tensor({T, B, I}, rng).to(DType::f32);
    std::vector<Tensor> results;
    for (const bool fused : {true, false}) {
      config.fused = fused;
      Rng init(42);
      Recurrent model(config, init);
      model.set_engine(engine);
      Tape tape;
      const NoGradGuard no_grad(tape);
      const RecurrentOutput out = model.forward(tape, tape.leaf(x, true));
      CHECK(count_ops(tape, OpKind::rnn_sequence) == (fused ? 4u : 0u));
      CHECK_FALSE(out.output.requires_grad());
      results.push_back(out.output.value().to(DType::f64));
      results.push_back(out.final_states.back().value().to(DType::f64));
    }
    CHECK(max_scaled_diff(results[0], results[2]) < kF32Tolerance);
    CHECK(max_scaled_diff(results[1], results[3]) < kF32Tolerance);
  }
}

TEST_CASE("rnn_sequence: only stock cells without extras, in float32 and with fused on, take the fast path") {
  const int64_t T = 3, B = 2;
  Rng rng(8);
  const Tensor x = random_tensor({T, B, 2}, rng);
  for (const char* cell : {"lstm_peephole", "gru"}) {
    CAPTURE(cell);
    CHECK(run_model(RecurrentConfig{.cell = cell, .input_size = 2, .hidden_size = 3}, DType::f32, x, {}).fused_ops == 0);
  }
  CHECK(run_model(RecurrentConfig{.cell = "lstm", .input_size = 2, .hidden_size = 3}, DType::f64, x, {}).fused_ops == 0);
  CHECK(run_model(RecurrentConfig{.cell = "rnn_relu", .input_size = 2, .hidden_size = 3}, DType::f32, x, {}).fused_ops == 1);
}

TEST_CASE("rnn_sequence: the fused key in RecurrentConfig JSON") {
  RecurrentConfig c{.cell = "lstm", .input_size = 2, .hidden_size = 3};
  CHECK(nlohmann::json(c).dump() ==
        R"({"bidirectional":false,"cell":"lstm","cell_options":{},"dropout":0.0,"hidden_size":3,"input_size":2,"layers":1})");
  c.fused = false;
  const nlohmann::json j = c;
  CHECK(j.dump() ==
        R"({"bidirectional":false,"cell":"lstm","cell_options":{},"dropout":0.0,"fused":false,"hidden_size":3,"input_size":2,"layers":1})");
  CHECK_FALSE(j.get<RecurrentConfig>().fused);
  CHECK(nlohmann::json::parse(R"({"cell":"lstm","input_size":2,"hidden_size":3})").get<RecurrentConfig>().fused);
  CHECK_THROWS_AS(nlohmann::json::parse(R"({"cell":"lstm","fused":"yes"})").get<RecurrentConfig>(), DataError);
}

TEST_CASE("rnn_sequence: bad shapes are refused naming the op and both shapes") {
  Tape tape;
  Rng rng(1);
  const auto leaf = [&](const Shape& s) { return tape.leaf(random_tensor(s, rng).to(DType::f32), true); };
  const Var x = leaf({5, 2, 4}), h0 = leaf({2, 3}), c0 = leaf({2, 3});
  const Var w_ih = leaf({12, 4}), w_hh = leaf({12, 3}), b = leaf({12});
  CHECK_THROWS_WITH_AS(rnn_sequence(RnnKind::lstm, x, h0, c0, leaf({12, 3}), w_hh, b, b, false),
                       "rnn_sequence (lstm): w_ih has shape [12, 3] but the input has shape [5, 2, 4] and expects "
                       "[12, 4] (hint: w_ih is [G*H, I]: its columns must equal the input's last dimension)",
                       ShapeError);
  CHECK_THROWS_WITH_AS(rnn_sequence(RnnKind::lstm, x, leaf({3, 3}), c0, leaf({12, 4}), w_hh, b, b, false),
                       "rnn_sequence (lstm): h0 has shape [3, 3] but the input has shape [5, 2, 4] and expects [2, 3] "
                       "(hint: h0 is [B, H]: the input's batch and the hidden size)",
                       ShapeError);
  CHECK_THROWS_WITH_AS(rnn_sequence(RnnKind::gru_lbr, x, h0, Var(), w_ih, w_hh, b, b, false),
                       "rnn_sequence (gru_lbr): w_hh has shape [12, 3], expected [G*H, H] with G = 3 (hint: Note [Cell "
                       "layout])",
                       ShapeError);
  CHECK_THROWS_WITH_AS(rnn_sequence(RnnKind::rnn_tanh, leaf({5, 8}), h0, Var(), w_ih, w_hh, b, b, false),
                       "rnn_sequence (rnn_tanh): the input must be [T, B, I] with T, I >= 1, got [5, 8] (hint: time-major)",
                       ShapeError);
  CHECK_THROWS_WITH_AS(rnn_sequence(RnnKind::rnn_tanh, x, h0, c0, leaf({3, 4}), leaf({3, 3}), leaf({3}), leaf({3}), false),
                       "rnn_sequence (rnn_tanh): got a c0 but only lstm has a cell state (hint: pass Var())", UsageError);
  // The driver's own check names the shapes before any op runs.
  Rng init(1);
  Recurrent model(RecurrentConfig{.cell = "lstm", .input_size = 4, .hidden_size = 3}, init);
  CHECK_THROWS_AS(model.forward(tape, leaf({5, 2, 3})), ShapeError);
}

TEST_CASE("rnn_sequence: a 100,000-step sequence is one op on the fast path, with finite gradients") {
  const int64_t T = 100000;
  Rng rng(1);
  Recurrent rnn(RecurrentConfig{.cell = "rnn_tanh", .input_size = 1, .hidden_size = 8}, rng);
  Tensor x = Tensor::empty({T, 1, 1}, DType::f32);
  for (int64_t i = 0; i < T; ++i) x.set(i, std::sin(0.05 * static_cast<double>(i)));
  Tape tape;
  const RecurrentOutput out = rnn.forward(tape, tape.leaf(x));
  backward(mean(square(out.final_states[0])));
  CHECK(count_ops(tape, OpKind::rnn_sequence) == 1);
  for (Parameter* p : rnn.parameters()) {
    CAPTURE(p->name);
    CHECK(p->grad.all_finite());
    CHECK(p->grad.to_vector() != std::vector<double>(static_cast<size_t>(p->grad.numel()), 0.0));
  }
}
