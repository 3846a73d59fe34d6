// SPDX-License-Identifier: Apache-2.0
// What lives here: Forecaster = Recurrent ("rnn") + Linear head ("head": D*H -> output_size), the model
// `unroll train` fits; ForecasterConfig (stored in checkpoints as JSON) and make_forecaster.
// Parameter paths: "rnn/l0/w_ih", ..., "head/weight", "head/bias".
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "models/linear.h"
#include "models/recurrent.h"

namespace unroll {

struct ForecasterConfig {
  RecurrentConfig recurrent;
  int output_size = 1;
  std::string head = "last";  // "last": head on the last step -> [B, out]; "every": every step -> [T, B, out]
  void validate() const;
};
void to_json(nlohmann::json& j, const ForecasterConfig& c);
void from_json(const nlohmann::json& j, ForecasterConfig& c);

class Forecaster : public Module {
 public:
  Forecaster(const ForecasterConfig& config, Rng& rng, const CellRegistry& registry = builtin_cells());

  // x [T, B, I] -> [B, out] (head "last": the output at t = T-1) or [T, B, out] (head "every").
  // rng: for dropout between recurrent layers in training mode (may be null otherwise).
  Var forward(Tape& tape, Var x, Rng* rng = nullptr);

  const ForecasterConfig& config() const { return config_; }
  Recurrent& rnn() { return *rnn_; }
  Linear& head() { return *head_; }

 private:
  ForecasterConfig config_;
  Recurrent* rnn_;
  Linear* head_;
};

std::unique_ptr<Forecaster> make_forecaster(const ForecasterConfig& config, Rng& rng);

}  // namespace unroll
