// SPDX-License-Identifier: Apache-2.0
// What lives here: two probes of a recurrent network on one batch of sequences, for the lecture's claim
// that gradients vanish or explode over long spans and for the gates that cause it:
//   gradient_flow    ||dL/ds_t|| for every step t and state kind s (h; c for the LSTM), where L is the
//                    loss of the head on the last step only (L = mse(head(h_{T-1}), target)): how much of
//                    the loss reaches the state t steps back through the recurrence
//   gate_saturation  per gate and step, the fraction of sigmoid gate values below 0.05 / above 0.95 and
//                    of tanh values below -0.95 / above 0.95 over the batch (saturated units pass almost
//                    no gradient: sigma' and tanh' are near 0 there)
// Both run the sequence one step at a time (Recurrent::forward on [1, B, I] from the previous final states),
// so s_t is a node of its own whatever strategy runs the layer, and any cell works. Unidirectional only.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/layer.h"
#include "models/recurrent.h"

namespace unroll {

struct GradientFlow {
  std::vector<std::string> states;         // "h", then "c" (LSTM) or "state1", ...
  std::vector<std::vector<double>> norms;  // [state kind][t]: Frobenius norm of dL/ds_t over [L, B, H]
  double loss = 0;
};

// x [T, B, I] and target [B, O] in the parameters' dtype (float64 keeps tiny norms exact).
GradientFlow gradient_flow(Recurrent& rnn, Layer& head, const Tensor& x, const Tensor& target);

struct GateSaturation {
  std::string layer_gate;              // "l0/forget", "l1/tanh(c)"
  std::string activation;              // "sigmoid" or "tanh"
  std::vector<double> low, high;       // per step: fraction < 0.05 / > 0.95 (sigmoid), < -0.95 / > 0.95 (tanh)
  double mean_low() const;
  double mean_high() const;
};

struct SaturationReport {
  std::string cell;
  std::vector<GateSaturation> gates;  // empty for a cell whose gates are not known (see gate_saturation)
  std::string note;                   // why there are no gates, when there are none
  // {"cell", "note"?, "gates": [{"gate", "activation", "mean_low", "mean_high", "low": [...], "high": [...]}]}
  nlohmann::json to_json(bool per_step = true) const;
};

// The gates of the stock cells (rnn_tanh; lstm: input, forget, cell (g, tanh), output, tanh(c); gru and
// gru_lbr: reset, update, candidate (tanh)), recomputed from the weights and the states of each step. A
// cell of another kind (relu Elman, peephole LSTM, your own) gets an empty list and a note; to probe your
// own cell, add its gate formulas to the table in gradient_flow.cpp (gate_values).
SaturationReport gate_saturation(Recurrent& rnn, const Tensor& x);

}  // namespace unroll
