// SPDX-License-Identifier: Apache-2.0
// What lives here: the README's custom-cell example, compiled and run as a test so the README stays true.
#include <unroll.h>

using namespace unroll;

class CifgCell : public Cell {  // gates [f, g, o]: c' = f*c + (1-f)*g, h' = o*tanh(c')
 public:
  CifgCell(int input, int hidden, Rng& rng, const nlohmann::json& options)
      : Cell(input, hidden, /*gates=*/3, rng, options) {}
  std::string kind() const override { return "cifg"; }
  int state_count() const override { return 2; }  // h, c
  bool rows_independent() const override { return true; }  // no op mixes batch rows
  std::vector<Var> step(Var px, const std::vector<Var>& state, SequenceContext& seq) override {
    const std::vector<Var> g = chunk(px + project_hidden(state[0], seq), 1, 3);
    const Var f = sigmoid(g[0]);
    const Var c = f * state[1] + (1.0 - f) * tanh(g[1]);
    return {sigmoid(g[2]) * tanh(c), c};
  }
};

int main() {
  CellRegistry cells = builtin_cells();
  cells.register_cell("cifg", [](int in, int hid, Rng& rng, const nlohmann::json& o) {
    return std::make_unique<CifgCell>(in, hid, rng, o);
  });
  Rng rng(42);
  Recurrent rnn({.cell = "cifg", .input_size = 2, .hidden_size = 3, .layers = 2}, rng, cells);
  rnn.to(DType::f64);  // check gradients in float64
  const Tensor x = Tensor::full({4, 2, 2}, DType::f64, 0.5);  // [T, B, I]
  const GradcheckReport report = gradcheck(
      [&](Tape& tape, const std::vector<Var>& in) { return rnn.forward(tape, in[0]).output; }, {x}, rnn.parameters());
  fmt::print("{}\n", report.summary());
  return report.ok ? 0 : 1;
}
