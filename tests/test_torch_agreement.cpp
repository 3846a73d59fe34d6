// SPDX-License-Identifier: Apache-2.0
// What lives here: agreement with PyTorch (a reference nobody here wrote). Each committed fixture in
// tests/fixtures (see its README) holds nn.RNN/LSTM/GRU weights, inputs, outputs and every gradient; we
// rebuild the same Recurrent from /unroll/<path>, run forward and backward of the fixture's loss in
// float32 and float64, and require |got - ref| <= tol * (1 + |ref|) for the outputs, final states and ALL
// gradients (parameters, input, h0, c0): tol 1e-5 in float32, 1e-10 in float64 (the README's values).
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "autodiff/backward.h"
#include "hdf5_fixture.h"
#include "models/recurrent.h"
#include "ops/ops.h"
#include "test_helpers.h"

using namespace unroll;
using unroll::testing::H5Fixture;
using unroll::testing::max_scaled_diff;

namespace {

struct Agreement {
  double worst = 0;
  std::string where;
  void check(const std::string& what, const Tensor& got, const Tensor& ref, double tol) {
    INFO(what);
    REQUIRE(got.defined());
    REQUIRE(got.shape() == ref.shape());
    const double e = max_scaled_diff(got, ref);
    CHECK_MESSAGE(e <= tol, what << ": max |got-ref|/(1+|ref|) = " << e << " > " << tol);
    if (e > worst) {
      worst = e;
      where = what;
    }
  }
};

double check_fixture(const std::string& model, const std::string& case_name, DType dtype) {
  const H5Fixture f(fmt::format("{}/tests/fixtures/torch_{}_{}.h5", UNROLL_SOURCE_DIR, model, case_name));
  REQUIRE(f.attr_string("model") == model);
  const bool lstm = model == "lstm";
  RecurrentConfig config;
  config.cell = model == "rnn" ? "rnn_tanh" : model == "lstm" ? "lstm" : "gru_lbr";  // PyTorch's GRU form
  config.input_size = static_cast<int>(f.attr_int("input_size"));
  config.hidden_size = static_cast<int>(f.attr_int("hidden_size"));
  config.layers = static_cast<int>(f.attr_int("num_layers"));
  config.bidirectional = f.attr_int("bidirectional") != 0;
  Rng rng(1);
  Recurrent rnn(config, rng);
  rnn.to(dtype);

  // The fixture's parameter set is exactly ours, by path.
  std::vector<std::string> fixture_paths = f.datasets_under("/unroll"), ours;
  for (const auto& [path, p] : rnn.named_parameters()) ours.push_back(path);
  std::sort(fixture_paths.begin(), fixture_paths.end());
  std::sort(ours.begin(), ours.end());
  REQUIRE(fixture_paths == ours);
  for (const auto& [path, p] : rnn.named_parameters()) {
    const Tensor v = f.tensor("/unroll/" + path, dtype);
    REQUIRE(v.shape() == p->value.shape());
    p->value.copy_from(v);
  }
  rnn.zero_grad();

  Tape tape;
  const Var x = tape.leaf(f.tensor("/input", dtype), true);
  std::vector<Var> init{tape.leaf(f.tensor("/h0", dtype), true)};
  if (lstm) init.push_back(tape.leaf(f.tensor("/c0", dtype), true));
  const std::vector<int64_t> lengths = f.has("/lengths") ? f.int64s("/lengths") : std::vector<int64_t>{};
  const RecurrentOutput out = rnn.forward(tape, x, init, lengths);

  Var loss = sum(out.output * tape.constant(f.tensor("/w_out", dtype))) +
             sum(out.final_states[0] * tape.constant(f.tensor("/w_hn", dtype)));
  if (lstm) loss = loss + sum(out.final_states[1] * tape.constant(f.tensor("/w_cn", dtype)));
  backward(loss);

  const double tol = dtype == DType::f32 ? 1e-5 : 1e-10;
  Agreement a;
  a.check("output", out.output.value(), f.tensor("/output"), tol);
  a.check("h_n", out.final_states[0].value(), f.tensor("/h_n"), tol);
  if (lstm) a.check("c_n", out.final_states[1].value(), f.tensor("/c_n"), tol);
  a.check("grad/input", x.grad(), f.tensor("/grad/input"), tol);
  a.check("grad/h0", init[0].grad(), f.tensor("/grad/h0"), tol);
  if (lstm) a.check("grad/c0", init[1].grad(), f.tensor("/grad/c0"), tol);
  for (const auto& [path, p] : rnn.named_parameters()) a.check("grad/" + path, p->grad, f.tensor("/grad/unroll/" + path), tol);
  MESSAGE(fmt::format("torch agreement {} {} {}: max |got-ref|/(1+|ref|) = {:.3g} (at {}), tolerance {:g}", model,
                      case_name, dtype_name(dtype), a.worst, a.where, tol));
  return a.worst;
}

void check_both(const std::string& model, const std::string& case_name) {
  check_fixture(model, case_name, DType::f32);
  check_fixture(model, case_name, DType::f64);
}

}  // namespace

TEST_CASE("torch agreement rnn uni1") { check_both("rnn", "uni1"); }
TEST_CASE("torch agreement rnn bi2") { check_both("rnn", "bi2"); }
TEST_CASE("torch agreement rnn varlen") { check_both("rnn", "varlen"); }
TEST_CASE("torch agreement lstm uni1") { check_both("lstm", "uni1"); }
TEST_CASE("torch agreement lstm bi2") { check_both("lstm", "bi2"); }
TEST_CASE("torch agreement lstm varlen") { check_both("lstm", "varlen"); }
TEST_CASE("torch agreement gru uni1") { check_both("gru", "uni1"); }
TEST_CASE("torch agreement gru bi2") { check_both("gru", "bi2"); }
TEST_CASE("torch agreement gru varlen") { check_both("gru", "varlen"); }

// The fixtures' GRU is the linear-before-reset form: the Cho form must NOT match it (so the two forms are
// really different code paths, and the test above would notice a mix-up).
TEST_CASE("torch agreement gru cho form differs from PyTorch") {
  const H5Fixture f(fmt::format("{}/tests/fixtures/torch_gru_uni1.h5", UNROLL_SOURCE_DIR));
  RecurrentConfig config{.cell = "gru", .input_size = 5, .hidden_size = 6};
  Rng rng(1);
  Recurrent rnn(config, rng);
  rnn.to(DType::f64);
  for (const auto& [path, p] : rnn.named_parameters()) p->value.copy_from(f.tensor("/unroll/" + path));
  Tape tape;
  const RecurrentOutput out =
      rnn.forward(tape, tape.constant(f.tensor("/input")), {tape.constant(f.tensor("/h0"))});
  CHECK(max_scaled_diff(out.output.value(), f.tensor("/output")) > 1e-2);
}
