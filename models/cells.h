// SPDX-License-Identifier: Apache-2.0
// What lives here: the built-in cells, each a step() written with recorded ops (see cell.h):
//   ElmanCell  h' = act(W_ih x + b_ih + W_hh h + b_hh), act tanh or relu            (options: nonlinearity)
//   LstmCell   [i f g o] = W_ih x + b_ih + W_hh h + b_hh;  c' = s(f) c + s(i) tanh(g);  h' = s(o) tanh(c')
//              with peepholes (Gers & Schmidhuber): i, f see w_ci*c, w_cf*c and o sees w_co*c'
//                                                               (options: peephole, forget_bias)
//   GruCell    r = s(W_ir x + b_ir + W_hr h + b_hr),  z = s(W_iz x + b_iz + W_hz h + b_hz), and (option form)
//     "linear_before_reset" (PyTorch, cuDNN, oneDNN): n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
//                                                     h' = (1 - z) n + z h
//     "cho" (Cho et al. 2014, the seed lecture):      n = tanh(W_in x + b_in + W_hn (r * h) + b_hn),
//                                                     h' = (1 - z) h + z n
//     In the "cho" form b_hn belongs to the product with the reset-scaled state: it is the bias of the
//     linear W_hn (r * h) + b_hn, added after the product and NOT scaled by r (so b_in + b_hn act as one
//     bias, as in the paper's single b_h). Note also that the two forms use z the other way round, each
//     as its source writes it.
//   fused_kind() (Note [Fused fast path] in cell.h) names the oneDNN kind only for exactly these classes
//   (not subclasses, which may override step) and only without peepholes / in the lbr form; likewise
//   rows_independent() (Note [Graph batch split] in models/strategies/batch_split.cpp) is true for exactly these classes.
#pragma once
#include <string>
#include <typeinfo>

#include "models/cell.h"

namespace unroll {

class ElmanCell : public Cell {
 public:
  ElmanCell(int input_size, int hidden_size, Rng& rng, const nlohmann::json& options = nlohmann::json::object());
  std::string kind() const override { return relu_ ? "rnn_relu" : "rnn_tanh"; }
  using Cell::step;
  std::vector<Var> step(Var projected_x_t, const std::vector<Var>& state, SequenceContext& seq) override;
  std::optional<RnnKind> fused_kind() const override {
    if (typeid(*this) != typeid(ElmanCell)) return std::nullopt;
    return relu_ ? RnnKind::rnn_relu : RnnKind::rnn_tanh;
  }
  bool rows_independent() const override { return typeid(*this) == typeid(ElmanCell); }

 private:
  bool relu_ = false;
};

class LstmCell : public Cell {
 public:
  LstmCell(int input_size, int hidden_size, Rng& rng, const nlohmann::json& options = nlohmann::json::object());
  std::string kind() const override { return peephole_ ? "lstm_peephole" : "lstm"; }
  int state_count() const override { return 2; }
  using Cell::step;
  std::vector<Var> step(Var projected_x_t, const std::vector<Var>& state, SequenceContext& seq) override;
  bool peephole() const { return peephole_; }
  std::optional<RnnKind> fused_kind() const override {
    if (peephole_ || typeid(*this) != typeid(LstmCell)) return std::nullopt;
    return RnnKind::lstm;
  }
  bool rows_independent() const override { return typeid(*this) == typeid(LstmCell); }

 private:
  bool peephole_ = false;
  Parameter* w_ci_ = nullptr;
  Parameter* w_cf_ = nullptr;
  Parameter* w_co_ = nullptr;
};

class GruCell : public Cell {
 public:
  enum class Form { cho, linear_before_reset };
  GruCell(int input_size, int hidden_size, Rng& rng, const nlohmann::json& options = nlohmann::json::object());
  std::string kind() const override { return form_ == Form::cho ? "gru" : "gru_lbr"; }
  using Cell::step;
  std::vector<Var> step(Var projected_x_t, const std::vector<Var>& state, SequenceContext& seq) override;
  // Cho form: cuts w_hh and b_hh into seq.nodes (Note [Cho weights cut once per sequence]).
  void begin_sequence(SequenceContext& seq) override;
  Form form() const { return form_; }
  std::optional<RnnKind> fused_kind() const override {
    if (form_ != Form::linear_before_reset || typeid(*this) != typeid(GruCell)) return std::nullopt;
    return RnnKind::gru_lbr;
  }
  bool rows_independent() const override { return typeid(*this) == typeid(GruCell); }

 private:
  Form form_ = Form::cho;
};

}  // namespace unroll
