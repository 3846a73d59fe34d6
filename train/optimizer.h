// SPDX-License-Identifier: Apache-2.0
// What lives here: optimizers (SGD with momentum/Nesterov, Adam, RMSprop) whose state is keyed by
// parameter PATH, not position, with L2 weight decay and clipping by global gradient norm; and the
// export/import of that state so a resumed run continues bit for bit.
//
// Note [Optimizer state by path]: slots live in a map path -> slot name -> Tensor (torch's names:
// "exp_avg"/"exp_avg_sq" for Adam, "momentum_buffer" for SGD, "square_avg"/"momentum_buffer" for RMSprop), in the parameter's dtype. A checkpoint stores
// exactly this map, so a model whose parameters are registered in another order still resumes correctly,
// and a missing or mis-shaped slot is an error naming the path. The update formulas follow torch.optim
// (weight decay is L2, added to the gradient before the update), checked against it in tests/test_optim.cpp.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "graph/tape.h"
#include "io/checkpoint.h"  // OptimizerState: what export_state/import_state exchange

namespace unroll {

struct OptimizerConfig {
  std::string kind = "adam";  // adam | sgd | rmsprop
  double lr = 1e-3;
  double weight_decay = 0;    // L2: g += weight_decay * p
  double clip_norm = 0;       // > 0: scale all gradients so their global L2 norm is at most this
  // sgd (and rmsprop's momentum)
  double momentum = 0;
  bool nesterov = false;
  // adam
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;          // adam and rmsprop
  // rmsprop
  double alpha = 0.99;

  nlohmann::json to_json() const;
  static OptimizerConfig from_json(const nlohmann::json& j);  // DataError naming a bad field
};

class Optimizer {
 public:
  // params: (path, parameter) pairs, e.g. Module::named_parameters(). Paths must be unique.
  Optimizer(std::vector<std::pair<std::string, Parameter*>> params, OptimizerConfig config);

  // One update with learning rate `lr` (from a schedule), using each parameter's .grad.
  // Clipping (if configured, clip_norm > 0) happens first; returns the global gradient norm before
  // clipping, or NaN when clipping is off (the norm is then not computed: it costs a pass over every
  // gradient). UsageError naming the path when a parameter has no gradient of its shape and dtype.
  double step(double lr);
  double step() { return step(config_.lr); }
  // From this many elements (all parameters together) on, step() splits the update between the OpenMP
  // threads; the bits are the same either way.
  static constexpr int64_t kThreadedUpdateElements = int64_t{1} << 18;
  void zero_grad();

  int64_t steps_taken() const { return step_; }
  const OptimizerConfig& config() const { return config_; }
  const std::vector<std::pair<std::string, Parameter*>>& params() const { return params_; }

  OptimizerState export_state() const;  // deep copies of every slot
  // Restores step and slots. The kind must match; every parameter path must have its slots with the
  // parameter's shape and dtype (IoError naming the path and both shapes otherwise).
  void import_state(const OptimizerState& state);

 private:
  std::vector<std::pair<std::string, Parameter*>> params_;
  OptimizerConfig config_;
  int64_t step_ = 0;
  std::map<std::string, std::map<std::string, Tensor>> slots_;
};

// The global L2 norm of all gradients: each element widened to double, squared and summed in path order.
double global_grad_norm(const std::vector<std::pair<std::string, Parameter*>>& params);
// global_grad_norm; when max_norm > 0, scales every gradient by max_norm / (norm + 1e-6) if that is
// below 1 (torch.nn.utils.clip_grad_norm_). Returns the norm before scaling.
double clip_grad_norm(const std::vector<std::pair<std::string, Parameter*>>& params, double max_norm);

}  // namespace unroll
