// SPDX-License-Identifier: Apache-2.0
// What lives here: tests of the generated sequence tasks and their training loop (train/sequence_tasks.h,
// train/sequence_training.h), and of the recurrent probes (train/gradient_flow.h): the per-step gradient
// norms against float64 central differences, and the gate saturation fractions against hand-set weights.
#include <doctest/doctest.h>

#include <cmath>

#include "graph/check.h"
#include "ops/ops.h"
#include "test_helpers.h"
#include "train/gradient_flow.h"
#include "train/sequence_training.h"

using namespace unroll;

TEST_CASE("adding task: two markers, one per half, target their sum, chance MSE 1/6") {
  const auto task = make_sequence_task({"adding", 20});
  Rng rng(3);
  const SequenceBatch b = task->batch(2000, rng);
  REQUIRE(b.x.shape() == Shape{20, 2000, 2});
  double mse_of_one = 0;
  for (int64_t r = 0; r < 2000; ++r) {
    double sum = 0;
    int first_half = 0, second_half = 0;
    for (int64_t t = 0; t < 20; ++t)
      if (b.x.at((t * 2000 + r) * 2 + 1) == 1) {
        sum += b.x.at((t * 2000 + r) * 2);
        (t < 10 ? first_half : second_half)++;
      }
    CHECK(first_half == 1);
    CHECK(second_half == 1);
    CHECK(b.values.at(r) == doctest::Approx(sum).epsilon(1e-6));
    mse_of_one += (b.values.at(r) - 1) * (b.values.at(r) - 1) / 2000;
  }
  CHECK(mse_of_one == doctest::Approx(task->chance_loss()).epsilon(0.1));
  Rng again(3);
  CHECK(testing::max_abs_diff(task->batch(2000, again).x.to(DType::f64), b.x.to(DType::f64)) == 0);
}

TEST_CASE("copy task: symbols, gap, delimiter, loss and accuracy on the recall steps only") {
  const auto task = make_sequence_task({"copy", 4, 5, 3});
  CHECK(task->steps() == 2 * 3 + 4 + 1);
  CHECK(task->input_size() == 7);
  CHECK(task->chance_loss() == doctest::Approx(std::log(5.0)));
  Rng rng(1);
  const SequenceBatch b = task->batch(6, rng);
  REQUIRE(b.classes.size() == 18);
  for (int64_t r = 0; r < 6; ++r) {
    for (int64_t t = 0; t < 3; ++t) CHECK(b.x.at((t * 6 + r) * 7 + 1 + b.classes[static_cast<size_t>(t * 6 + r)]) == 1);
    CHECK(b.x.at((7 * 6 + r) * 7 + 6) == 1);  // delimiter at k + gap
    CHECK(b.x.at((10 * 6 + r) * 7 + 0) == 1);  // blank while recalling
  }
  // A perfect output (a large logit on each recalled symbol) scores accuracy 1 and a small loss; uniform
  // logits score chance.
  Tape tape;
  Tensor perfect = Tensor::zeros(Shape{11, 6, 5}, DType::f32);
  for (int64_t s = 0; s < 3; ++s)
    for (int64_t r = 0; r < 6; ++r) perfect.set(((8 + s) * 6 + r) * 5 + b.classes[static_cast<size_t>(s * 6 + r)], 20);
  CHECK(task->metric(perfect, b) == 1.0);
  CHECK(task->loss(tape.constant(perfect), b).value().at(0) < 1e-6);
  CHECK(task->loss(tape.constant(Tensor::zeros(Shape{11, 6, 5}, DType::f32)), b).value().at(0) ==
        doctest::Approx(std::log(5.0)).epsilon(1e-5));
}

TEST_CASE("make_sequence_task refuses unknown tasks and sizes") {
  CHECK_THROWS_AS(make_sequence_task({"sorting", 10}), UsageError);
  CHECK_THROWS_AS(make_sequence_task({"adding", 1}), UsageError);
  CHECK_THROWS_AS(make_sequence_task({"copy", 10, 1, 3}), UsageError);
}

TEST_CASE("train_on_task: an LSTM beats chance on a short adding problem, same seed same bits") {
  const auto task = make_sequence_task({"adding", 6});
  const auto run = [&] {
    RecurrentConfig rc;
    rc.cell = "lstm";
    rc.input_size = 2;
    rc.hidden_size = 8;
    Rng init(5);
    SequenceModel model(rc, 1, init);
    SequenceTrainConfig tc;
    tc.steps = 300;
    tc.optimizer.lr = 0.01;
    tc.optimizer.clip_norm = 1;
    tc.test_rows = 300;
    tc.check_every = 0;
    return train_on_task(model, *task, tc);
  };
  const SequenceTrainResult a = run(), b = run();
  CHECK(a.steps == 300);
  CHECK(a.test.loss < 0.5 * task->chance_loss());
  CHECK(a.test.loss == b.test.loss);
}

namespace {

// The loss mse(head(h_{T-1} of the last layer), y), run from `states` (after step t0 - 1; empty: zeros at
// t0 = 0) over steps t0 .. T-1.
double loss_from(Recurrent& rnn, Linear& head, const Tensor& x, const Tensor& y, int64_t t0,
                 const std::vector<Tensor>& states) {
  Tape tape;
  const NoGradGuard no_grad(tape);
  std::vector<Var> s;
  for (const Tensor& st : states) s.push_back(tape.constant(st));
  const Var xs = tape.constant(x);
  for (int64_t t = t0; t < x.shape()[0]; ++t) s = rnn.forward(tape, slice(xs, 0, t, 1), s).final_states;
  return mse(head.forward(select(s[0], rnn.config().layers - 1)), tape.constant(y)).value().at(0);
}

std::vector<Tensor> states_after(Recurrent& rnn, const Tensor& x, int64_t t_last) {
  Tape tape;
  const NoGradGuard no_grad(tape);
  std::vector<Var> s;
  const Var xs = tape.constant(x);
  for (int64_t t = 0; t <= t_last; ++t) s = rnn.forward(tape, slice(xs, 0, t, 1), s).final_states;
  std::vector<Tensor> out;
  for (const Var& v : s) out.push_back(v.value().clone());
  return out;
}

}  // namespace

TEST_CASE("gradient_flow: ||dL/ds_t|| equals float64 central differences at every step") {
  for (const char* cell : {"rnn_tanh", "lstm", "gru", "gru_lbr"})
    for (int layers : {1, 2}) {
      CAPTURE(cell);
      CAPTURE(layers);
      RecurrentConfig rc;
      rc.cell = cell;
      rc.input_size = 2;
      rc.hidden_size = 3;
      rc.layers = layers;
      Rng rng(11);
      SequenceModel model(rc, 1, rng);
      model.to(DType::f64);
      const int64_t T = 5, B = 2;
      const Tensor x = testing::random_tensor(Shape{T, B, 2}, rng);
      const Tensor y = testing::random_tensor(Shape{B, 1}, rng);
      const GradientFlow flow = gradient_flow(model.rnn(), model.head(), x, y);
      REQUIRE(flow.norms.size() == (std::string(cell) == "lstm" ? 2u : 1u));
      CHECK(flow.loss == doctest::Approx(loss_from(model.rnn(), model.head(), x, y, 0, {})).epsilon(1e-12));
      for (int64_t t = 0; t < T; ++t) {
        const std::vector<Tensor> at_t = states_after(model.rnn(), x, t);
        for (size_t k = 0; k < at_t.size(); ++k) {
          double squares = 0;
          for (int64_t i = 0; i < at_t[k].numel(); ++i) {
            const double h = 1e-6;
            std::vector<Tensor> plus = at_t, minus = at_t;
            for (auto* v : {&plus, &minus}) (*v)[k] = (*v)[k].clone();
            plus[k].set(i, at_t[k].at(i) + h);
            minus[k].set(i, at_t[k].at(i) - h);
            const double d = (loss_from(model.rnn(), model.head(), x, y, t + 1, plus) -
                              loss_from(model.rnn(), model.head(), x, y, t + 1, minus)) / (2 * h);
            squares += d * d;
          }
          CAPTURE(t);
          CAPTURE(k);
          CHECK(flow.norms[k][static_cast<size_t>(t)] == doctest::Approx(std::sqrt(squares)).epsilon(1e-6));
        }
      }
    }
}

TEST_CASE("gate_saturation: hand-set biases saturate exactly the gates they drive") {
  RecurrentConfig rc;
  rc.cell = "lstm";
  rc.input_size = 1;
  rc.hidden_size = 2;
  Rng rng(2);
  Recurrent rnn(rc, rng);
  Cell& cell = rnn.cell(0);
  cell.w_ih().value.fill(0);
  cell.w_hh().value.fill(0);
  cell.b_hh().value.fill(0);
  // gates i, f, g, o: input open (+10), forget shut (-10), cell 0 (tanh 0), output 0.5
  for (int64_t j = 0; j < 2; ++j) {
    cell.b_ih().value.set(0 * 2 + j, 10);
    cell.b_ih().value.set(1 * 2 + j, -10);
  }
  const SaturationReport r = gate_saturation(rnn, Tensor::zeros(Shape{3, 4, 1}, DType::f32));
  REQUIRE(r.gates.size() == 5);
  CHECK(r.gates[0].layer_gate == "l0/input");
  CHECK(r.gates[0].mean_high() == 1.0);
  CHECK(r.gates[0].mean_low() == 0.0);
  CHECK(r.gates[1].mean_low() == 1.0);
  CHECK(r.gates[2].mean_high() == 0.0);
  CHECK(r.gates[3].mean_high() == 0.0);
  CHECK(r.gates[3].high.size() == 3);
  RecurrentConfig relu = rc;
  relu.cell = "rnn_relu";
  Recurrent other(relu, rng);
  const SaturationReport none = gate_saturation(other, Tensor::zeros(Shape{2, 1, 1}, DType::f32));
  CHECK(none.gates.empty());
  CHECK(none.note.find("rnn_relu") != std::string::npos);
}
