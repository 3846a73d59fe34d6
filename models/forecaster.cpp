// SPDX-License-Identifier: Apache-2.0
// What lives here: Forecaster (see forecaster.h).
#include "models/forecaster.h"

#include <algorithm>

#include "graph/json_fields.h"
#include "ops/ops.h"

namespace unroll {

void ForecasterConfig::validate() const {
  recurrent.validate();
  UNROLL_CHECK(output_size > 0, UsageError, "ForecasterConfig: output_size must be positive, got {}", output_size);
  UNROLL_CHECK(head == "last" || head == "every", UsageError,
               "ForecasterConfig: unknown head mode '{}' (hint: last or every)", head);
}

void to_json(nlohmann::json& j, const ForecasterConfig& c) {
  j = nlohmann::json{{"recurrent", c.recurrent}, {"output_size", c.output_size}, {"head", c.head}};
}

void from_json(const nlohmann::json& j, ForecasterConfig& c) {
  const JsonFields f(j, "ForecasterConfig", {"recurrent", "output_size", "head"});
  c = ForecasterConfig{};
  if (f.has("recurrent")) c.recurrent = j.at("recurrent").get<RecurrentConfig>();
  f.read("output_size", c.output_size);
  f.read("head", c.head);
}

Forecaster::Forecaster(const ForecasterConfig& config, Rng& rng, const CellRegistry& registry) : config_(config) {
  config_.validate();
  rnn_ = &register_module("rnn", std::make_unique<Recurrent>(config_.recurrent, rng, registry));
  head_ = &register_module("head", std::make_unique<Linear>(config_.recurrent.output_size(), config_.output_size, rng));
}

Var Forecaster::forward(Tape& tape, Var x, Rng* rng) {
  const RecurrentOutput r = [&] {
    const ScopeGuard scope(tape, "rnn");  // module paths in anomaly messages, as in the checkpoint
    return rnn_->forward(tape, x, {}, {}, rng);
  }();
  const ScopeGuard scope(tape, "head");
  if (config_.head == "every") {
    const int64_t T = r.output.shape()[0], B = r.output.shape()[1];
    const Var flat = reshape(r.output, Shape{T * B, config_.recurrent.output_size()});
    return reshape(head_->forward(flat), Shape{T, B, config_.output_size});
  }
  return head_->forward(r.steps.back());  // [B, D*H] -> [B, out]
}

std::unique_ptr<Forecaster> make_forecaster(const ForecasterConfig& config, Rng& rng) {
  return std::make_unique<Forecaster>(config, rng);
}

}  // namespace unroll
