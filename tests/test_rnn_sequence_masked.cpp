// SPDX-License-Identifier: Apache-2.0
// What lives here: the fused fast path on variable-length batches (Note [Masked step loop] in
// ops/rnn_step_loop.cpp) against the graph path's masks (Note [Variable lengths] in models/recurrent.h):
// for every stock kind, uni- and bidirectional, 1 and 2 layers, with and without initial states, lengths
// from 1 to T over several row blocks (Note [Batch split]), Recurrent with fused = true (float32; with
// either engine selected, as oneDNN's primitive cannot mask and the step loop runs) and fused = false
// agree in outputs, steps, final states and EVERY gradient; the float64 op equals the float64 graph path
// to 1e-12 and gives the same bits for every row split; the lengths are checked. The op's finite-difference
// test is in tests/test_ops_grad.cpp.
#include "rnn_sequence_helpers.h"

using namespace unroll;
using namespace unroll::testing;

namespace {

constexpr std::initializer_list<RnnKind> kKinds{RnnKind::lstm, RnnKind::gru_lbr, RnnKind::rnn_tanh, RnnKind::rnn_relu};

// T = 6 over B = 7 rows: 1 and T, rows inside and past their end next to each other, so on 3 threads (blocks
// of 3, 2, 2 rows) every block has held and running rows at some step, and one block (rows 5, 6) only
// partly runs from t = 1 on.
constexpr int64_t kT = 6, kB = 7;
const std::vector<int64_t> kLengths{6, 1, 3, 6, 2, 5, 1};

// One layer and direction in float64, as the fused op or the graph path: the output rows [T, B, H] (zero
// past each length), the final h (and c), then the gradients of x, the initial states and the layer's cell's
// parameters, of a random weighting of them all. The model has one layer, bidirectional when `reverse`
// (then only the reverse direction enters the loss).
std::vector<Tensor> f64_direction(RnnKind kind, bool reverse, bool fused, int threads) {
  const int64_t I = 3, H = 4, D = reverse ? 2 : 1;
  const bool lstm = kind == RnnKind::lstm;
  const int dir = reverse ? 1 : 0;
  Rng rng(5);
  Recurrent model(RecurrentConfig{.cell = cell_name(kind), .input_size = I, .hidden_size = H, .bidirectional = reverse,
                                  .fused = false},
                  rng);
  model.to(DType::f64);
  Cell& cell = model.cell(0, dir);
  const Tensor x = random_tensor({kT, kB, I}, rng), h_init = random_tensor({D, kB, H}, rng),
               c_init = random_tensor({D, kB, H}, rng);
  const Tensor w_out = random_tensor({kT, kB, H}, rng), w_h = random_tensor({kB, H}, rng),
               w_c = random_tensor({kB, H}, rng);
  const OmpThreads scoped(threads);
  Tape tape;
  std::vector<Var> wrt{tape.leaf(x, true), tape.leaf(h_init, true)};
  if (lstm) wrt.push_back(tape.leaf(c_init, true));
  Var y, h_n, c_n;
  if (fused) {
    const Var packed = rnn_sequence(kind, wrt[0], select(wrt[1], dir), lstm ? select(wrt[2], dir) : Var(),
                                    tape.param(cell.w_ih()), tape.param(cell.w_hh()), tape.param(cell.b_ih()),
                                    tape.param(cell.b_hh()), reverse, RnnEngine::step_loop, kLengths);
    const Var states = lstm ? slice(packed, 0, 0, kT) : packed;
    Tensor keep = Tensor::empty({kT, kB, 1}, DType::f64);
    for (int64_t t = 0; t < kT; ++t)
      for (int64_t b = 0; b < kB; ++b) keep.set(t * kB + b, t < kLengths[static_cast<size_t>(b)] ? 1.0 : 0.0);
    y = mul(states, tape.constant(keep));
    h_n = select(states, reverse ? 0 : kT - 1);
    if (lstm) c_n = select(packed, kT);
  } else {
    const RecurrentOutput out =
        model.forward(tape, wrt[0], lstm ? std::vector<Var>{wrt[1], wrt[2]} : std::vector<Var>{wrt[1]}, kLengths);
    CHECK(count_ops(tape, OpKind::rnn_sequence) == 0);
    y = slice(out.output, 2, dir * H, H);
    h_n = select(out.final_states[0], dir);
    if (lstm) c_n = select(out.final_states[1], dir);
  }
  Var loss = add(sum(mul(y, tape.constant(w_out))), sum(mul(h_n, tape.constant(w_h))));
  if (lstm) loss = add(loss, sum(mul(c_n, tape.constant(w_c))));
  for (Parameter* p : cell.parameters()) wrt.push_back(tape.param(*p));
  std::vector<Tensor> result{y.value().clone(), h_n.value().clone()};
  if (lstm) result.push_back(c_n.value().clone());
  for (const Tensor& g : grad(loss, wrt)) result.push_back(g);
  return result;
}

}  // namespace

TEST_CASE("rnn_sequence masked: the fused float32 path equals the graph path, outputs and every gradient") {
  const int64_t I = 3, H = 5;
  const OmpThreads threads(3);  // Note [Batch split]: blocks of 3, 2 and 2 rows
  for (const RnnEngine engine : {RnnEngine::step_loop, RnnEngine::primitive}) {
    const std::string engine_name = engine == RnnEngine::step_loop ? "step loop" : "oneDNN primitive (runs the step loop)";
    CAPTURE(engine_name);
    double worst = 0;
    for (const RnnKind kind : kKinds)
      for (const bool bidirectional : {false, true})
        for (const int layers : {1, 2})
          for (const bool with_init : {false, true}) {
            const std::string name = cell_name(kind);
            CAPTURE(name);
            CAPTURE(bidirectional);
            CAPTURE(layers);
            CAPTURE(with_init);
            RecurrentConfig config{.cell = name, .input_size = I, .hidden_size = H, .layers = layers,
                                   .bidirectional = bidirectional};
            Rng rng(11);
            const Tensor x = random_tensor({kT, kB, I}, rng);
            std::vector<Tensor> init;
            if (with_init)
              for (int s = 0; s < (kind == RnnKind::lstm ? 2 : 1); ++s)
                init.push_back(random_tensor({int64_t{layers} * config.directions(), kB, H}, rng));
            const Run fused = run_model(config, DType::f32, x, init, kLengths, false, engine);
            config.fused = false;
            const Run graph = run_model(config, DType::f32, x, init, kLengths);
            CHECK(fused.fused_ops == size_t(layers * config.directions()));
            CHECK(graph.fused_ops == 0);
            worst = std::max(worst, check_close(fused, graph, kF32Tolerance));
          }
    MESSAGE(engine_name, " vs graph, float32, masked: worst scaled difference over 32 configurations ", worst);
  }
}

TEST_CASE("rnn_sequence masked: either engine selected runs the same step loop, the same bits") {
  RecurrentConfig config{.cell = "lstm", .input_size = 2, .hidden_size = 3, .layers = 2, .bidirectional = true};
  Rng rng(4);
  const Tensor x = random_tensor({kT, kB, 2}, rng);
  const Run loop = run_model(config, DType::f32, x, {}, kLengths, false, RnnEngine::step_loop);
  const Run primitive = run_model(config, DType::f32, x, {}, kLengths, false, RnnEngine::primitive);
  CHECK(loop.fused_ops == 4);
  REQUIRE(loop.values.size() == primitive.values.size());
  for (size_t i = 0; i < loop.values.size(); ++i) {
    CAPTURE(loop.values[i].first);
    CHECK(loop.values[i].second.bit_equal(primitive.values[i].second));
  }
  // Every length T is no mask at all: the unmasked op, on the primitive when selected.
  const Run full = run_model(config, DType::f32, x, {}, std::vector<int64_t>(kB, kT), false, RnnEngine::primitive);
  const Run none = run_model(config, DType::f32, x, {}, {}, false, RnnEngine::primitive);
  for (size_t i = 0; i < full.values.size(); ++i) CHECK(full.values[i].second.bit_equal(none.values[i].second));
}

// float64: the op's steps are the graph path's arithmetic (Note [Masked step loop]: a held row is a copy,
// the graph's next * 0 + h * 1); the graph's products sum in another order, so 1e-12 rather than bits.
// Row splits change nothing in float64 (the reference GEMM works row by row): the same bits on 1, 3 and 8
// threads, 8 being more threads than rows.
TEST_CASE("rnn_sequence masked: the float64 op equals the float64 graph path, every row split the same bits") {
  for (const RnnKind kind : kKinds)
    for (const bool reverse : {false, true}) {
      const std::string name = cell_name(kind);
      CAPTURE(name);
      CAPTURE(reverse);
      const std::vector<Tensor> graph = f64_direction(kind, reverse, false, 1);
      const std::vector<Tensor> fused = f64_direction(kind, reverse, true, 1);
      REQUIRE(fused.size() == graph.size());
      for (size_t i = 0; i < fused.size(); ++i) {
        CAPTURE(i);
        CHECK(max_scaled_diff(fused[i], graph[i]) < 1e-12);
      }
      for (const int threads : {3, 8}) {
        CAPTURE(threads);
        const std::vector<Tensor> split = f64_direction(kind, reverse, true, threads);
        for (size_t i = 0; i < fused.size(); ++i) {
          CAPTURE(i);
          CHECK(split[i].bit_equal(fused[i]));
        }
      }
    }
}

// The op's own contract, which the strategy relies on: past its end a row's output is its held state, so
// forward's last row is each sequence's final state and reverse's rows t >= length are h0; no gradient
// reaches x past a row's end.
TEST_CASE("rnn_sequence masked: held rows repeat the state, and x past the end gets no gradient") {
  const int64_t I = 2, H = 3;
  for (const RnnKind kind : kKinds)
    for (const bool reverse : {false, true}) {
      const std::string name = cell_name(kind);
      CAPTURE(name);
      CAPTURE(reverse);
      const bool lstm = kind == RnnKind::lstm;
      Rng rng(6);
      const std::vector<Tensor> inputs = random_sequence_inputs(kind, kT, kB, I, H, rng);
      Tape tape;
      std::vector<Var> in;
      for (const Tensor& t : inputs) in.push_back(tape.leaf(t, true));
      const Var y = rnn_sequence(kind, in[0], in[1], lstm ? in[2] : Var(), in[3], in[4], in[5], in[6], reverse,
                                 RnnEngine::step_loop, kLengths);
      backward(sum(mul(y, y)));
      const Tensor& h = y.value();
      const Tensor& dx = in[0].grad();
      for (int64_t b = 0; b < kB; ++b) {
        const int64_t n = kLengths[static_cast<size_t>(b)];
        CAPTURE(b);
        for (int64_t t = n; t < kT; ++t)
          for (int64_t j = 0; j < H; ++j) {
            const double held = reverse ? inputs[1].at(b * H + j) : h.at(((n - 1) * kB + b) * H + j);
            CHECK(h.at((t * kB + b) * H + j) == held);
            for (int64_t k = 0; k < I; ++k) CHECK(dx.at((t * kB + b) * I + k) == 0.0);
          }
      }
    }
}

TEST_CASE("rnn_sequence masked: bad lengths are refused naming the op") {
  Tape tape;
  Rng rng(1);
  const auto leaf = [&](const Shape& s) { return tape.leaf(random_tensor(s, rng), true); };
  const Var x = leaf({5, 2, 4}), h0 = leaf({2, 3}), w_ih = leaf({3, 4}), w_hh = leaf({3, 3}), b = leaf({3});
  const std::vector<int64_t> three{5, 5, 5}, zero{5, 0}, long_one{6, 2};
  CHECK_THROWS_WITH_AS(rnn_sequence(RnnKind::rnn_tanh, x, h0, Var(), w_ih, w_hh, b, b, false, RnnEngine::step_loop, three),
                       "rnn_sequence (rnn_tanh): got 3 lengths for a batch of 2 (hint: one length per sequence, or none)",
                       ShapeError);
  CHECK_THROWS_WITH_AS(rnn_sequence(RnnKind::rnn_tanh, x, h0, Var(), w_ih, w_hh, b, b, false, RnnEngine::step_loop, zero),
                       "rnn_sequence (rnn_tanh): length 0 of sequence 1 is outside [1, 5] (T = input.shape[0])",
                       ShapeError);
  CHECK_THROWS_AS(rnn_sequence(RnnKind::rnn_tanh, x, h0, Var(), w_ih, w_hh, b, b, true, RnnEngine::step_loop, long_one),
                  ShapeError);
}
