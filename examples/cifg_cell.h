// SPDX-License-Identifier: Apache-2.0
// What lives here: CifgCell, a custom cell written from scratch on the public API, the example users
// copy: an LSTM with coupled input and forget gates (Greff et al. 2017, "CIFG"). Three gate blocks of H
// rows in w_ih/w_hh/b_ih/b_hh, order [f, g, o]:
//   f = s(.), g = tanh(.), o = s(.);  c' = f*c + (1 - f)*g;  h' = o*tanh(c')
// It needs no gradient code: step() is ordinary recorded ops. register_cifg() adds it to a registry.
// It also declares the same step as a cell program (cell_program(), Note [Cell program]), so Recurrent runs
// it as one fused op per layer and direction (Note [Program step loop]); step() stays the definition.
#pragma once
#include <memory>

#include "models/cell.h"
#include "ops/cell_program_builder.h"
#include "ops/ops.h"

namespace unroll::examples {

class CifgCell : public Cell {
 public:
  CifgCell(int input_size, int hidden_size, Rng& rng, const nlohmann::json& options = nlohmann::json::object())
      : Cell(input_size, hidden_size, /*gates=*/3, rng, options) {
    check_options(options, {});  // only the common "init"
  }
  std::string kind() const override { return "cifg"; }
  int state_count() const override { return 2; }  // h, c
  // Every op of step() works row by row: Recurrent may run blocks of the batch on separate threads.
  bool rows_independent() const override { return true; }

  // seq: the sequence's context (Note [Sequence context] in models/cell.h); project_hidden(h, seq) runs
  // the recurrent product on its packed weights.
  std::vector<Var> step(Var px, const std::vector<Var>& state, SequenceContext& seq) override {
    check_step(px, state);
    const std::vector<Var> g = chunk(px + project_hidden(state[0], seq), 1, 3);  // [B, H] each: f, g, o
    const Var f = sigmoid(g[0]);
    const Var c = f * state[1] + (1.0 - f) * tanh(g[1]);
    return {sigmoid(g[2]) * tanh(c), c};
  }

  // step()'s element-wise part, register by register: gate(k) is gx_k + gh_k.
  const CellProgram* cell_program() const override { return &program_; }

 private:
  static CellProgram make_program() {
    CellProgramBuilder p(/*gates=*/3, /*states=*/2);
    const CellReg f = sigmoid(p.gate(0));
    const CellReg c = f * p.state(1) + (1.0 - f) * tanh(p.gate(1));
    return p.finish({sigmoid(p.gate(2)) * tanh(c), c});
  }
  CellProgram program_ = make_program();
};

inline void register_cifg(CellRegistry& registry) {
  registry.register_cell("cifg", [](int input, int hidden, Rng& rng, const nlohmann::json& options) {
    return std::make_unique<CifgCell>(input, hidden, rng, options);
  });
}

}  // namespace unroll::examples
