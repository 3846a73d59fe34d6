// SPDX-License-Identifier: Apache-2.0
// What lives here: the optimizer updates (one templated loop per kind, float32 and float64), global-norm
// clipping, config JSON and state export/import.
#include "train/optimizer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "graph/check.h"
#include "graph/json_fields.h"
#include "ops/batch_split.h"

namespace unroll {

namespace {

std::vector<std::string> slot_names(const std::string& kind, const OptimizerConfig& c) {
  if (kind == "adam") return {"exp_avg", "exp_avg_sq"};
  if (kind == "sgd") return c.momentum > 0 ? std::vector<std::string>{"momentum_buffer"} : std::vector<std::string>{};
  if (kind == "rmsprop")
    return c.momentum > 0 ? std::vector<std::string>{"square_avg", "momentum_buffer"} : std::vector<std::string>{"square_avg"};
  return {};
}

void check_config(const OptimizerConfig& c) {
  UNROLL_CHECK(c.kind == "adam" || c.kind == "sgd" || c.kind == "rmsprop", DataError,
               "optimizer: unknown kind '{}' (hint: use adam, sgd or rmsprop)", c.kind);
  UNROLL_CHECK(std::isfinite(c.lr) && c.lr >= 0, DataError, "optimizer: learning rate must be finite and >= 0, got {}", c.lr);
  UNROLL_CHECK(std::isfinite(c.weight_decay) && c.weight_decay >= 0, DataError,
               "optimizer: weight_decay must be >= 0, got {}", c.weight_decay);
  UNROLL_CHECK(std::isfinite(c.clip_norm) && c.clip_norm >= 0, DataError,
               "optimizer: clip_norm must be >= 0 (0 = off), got {}", c.clip_norm);
  UNROLL_CHECK(c.momentum >= 0 && c.momentum < 1, DataError, "optimizer: momentum must be in [0, 1), got {}", c.momentum);
  UNROLL_CHECK(!c.nesterov || c.momentum > 0, DataError,
               "optimizer: Nesterov momentum needs momentum > 0 (hint: pass a momentum such as 0.9)");
  UNROLL_CHECK(c.beta1 >= 0 && c.beta1 < 1 && c.beta2 >= 0 && c.beta2 < 1, DataError,
               "optimizer: adam betas must be in [0, 1), got {} and {}", c.beta1, c.beta2);
  UNROLL_CHECK(c.alpha >= 0 && c.alpha < 1, DataError, "optimizer: rmsprop alpha must be in [0, 1), got {}", c.alpha);
  UNROLL_CHECK(c.eps > 0, DataError, "optimizer: eps must be > 0, got {}", c.eps);
}

// g' = g + wd * p (into a scratch value; the parameter's .grad is left as backward wrote it, except
// for clipping, which scales .grad in place as torch does). Elements [begin, end) of p: each element's
// update reads only that element, so any split of a parameter between threads gives the same bits.
template <class T>
void update(const std::string& kind, const OptimizerConfig& c, int64_t step, double lr, Parameter& p,
            std::map<std::string, Tensor>& slots, int64_t begin, int64_t end) {
  T* w = p.value.data<T>() + begin;
  const T* g = p.grad.data<T>() + begin;
  const int64_t n = end - begin;
  const T wd = static_cast<T>(c.weight_decay);
  if (kind == "adam") {
    T* m = slots.at("exp_avg").data<T>() + begin;
    T* v = slots.at("exp_avg_sq").data<T>() + begin;
    const T b1 = static_cast<T>(c.beta1), b2 = static_cast<T>(c.beta2);
    const double bc1 = 1.0 - std::pow(c.beta1, static_cast<double>(step));
    const double bc2 = 1.0 - std::pow(c.beta2, static_cast<double>(step));
    const T step_size = static_cast<T>(lr / bc1);
    const T bc2_sqrt = static_cast<T>(std::sqrt(bc2));
    const T eps = static_cast<T>(c.eps);
    for (int64_t i = 0; i < n; ++i) {
      const T gi = g[i] + wd * w[i];
      m[i] = m[i] * b1 + (T(1) - b1) * gi;
      v[i] = v[i] * b2 + (T(1) - b2) * gi * gi;
      const T denom = std::sqrt(v[i]) / bc2_sqrt + eps;
      w[i] -= step_size * (m[i] / denom);
    }
  } else if (kind == "sgd") {
    const T mu = static_cast<T>(c.momentum), rate = static_cast<T>(lr);
    T* buf = c.momentum > 0 ? slots.at("momentum_buffer").data<T>() + begin : nullptr;
    for (int64_t i = 0; i < n; ++i) {
      T gi = g[i] + wd * w[i];
      if (buf) {
        buf[i] = step == 1 ? gi : mu * buf[i] + gi;  // torch: the first step's buffer is the gradient
        gi = c.nesterov ? gi + mu * buf[i] : buf[i];
      }
      w[i] -= rate * gi;
    }
  } else {  // rmsprop
    T* sq = slots.at("square_avg").data<T>() + begin;
    T* buf = c.momentum > 0 ? slots.at("momentum_buffer").data<T>() + begin : nullptr;
    const T a = static_cast<T>(c.alpha), mu = static_cast<T>(c.momentum), rate = static_cast<T>(lr);
    const T eps = static_cast<T>(c.eps);
    for (int64_t i = 0; i < n; ++i) {
      const T gi = g[i] + wd * w[i];
      sq[i] = sq[i] * a + (T(1) - a) * gi * gi;
      const T avg = std::sqrt(sq[i]) + eps;
      if (buf) {
        buf[i] = buf[i] * mu + gi / avg;
        w[i] -= rate * buf[i];
      } else {
        w[i] -= rate * (gi / avg);
      }
    }
  }
}

}  // namespace

nlohmann::json OptimizerConfig::to_json() const {
  return {{"kind", kind},           {"lr", lr},       {"weight_decay", weight_decay}, {"clip_norm", clip_norm},
          {"momentum", momentum},   {"nesterov", nesterov}, {"beta1", beta1},       {"beta2", beta2},
          {"eps", eps},             {"alpha", alpha}};
}

OptimizerConfig OptimizerConfig::from_json(const nlohmann::json& j) {
  const JsonFields f(j, "optimizer config",
                     {"kind", "lr", "weight_decay", "clip_norm", "momentum", "nesterov", "beta1", "beta2", "eps", "alpha"});
  OptimizerConfig c;
  f.read("kind", c.kind);
  f.read("lr", c.lr);
  f.read("weight_decay", c.weight_decay);
  f.read("clip_norm", c.clip_norm);
  f.read("momentum", c.momentum);
  f.read("beta1", c.beta1);
  f.read("beta2", c.beta2);
  f.read("eps", c.eps);
  f.read("alpha", c.alpha);
  f.read("nesterov", c.nesterov);
  check_config(c);
  return c;
}

Optimizer::Optimizer(std::vector<std::pair<std::string, Parameter*>> params, OptimizerConfig config)
    : params_(std::move(params)), config_(std::move(config)) {
  check_config(config_);
  std::set<std::string> seen;
  for (const auto& [path, p] : params_) {
    UNROLL_CHECK(p != nullptr, UsageError, "optimizer: parameter '{}' is null", path);
    UNROLL_CHECK(seen.insert(path).second, UsageError,
                 "optimizer: parameter path '{}' appears twice (hint: optimizer state is keyed by path)", path);
    auto& s = slots_[path];
    for (const auto& name : slot_names(config_.kind, config_))
      s[name] = Tensor::zeros(p->value.shape(), p->value.dtype());
  }
}

double global_grad_norm(const std::vector<std::pair<std::string, Parameter*>>& params) {
  // Term for term the element-wise definition: each element widened to double, squared and added in
  // path order, so the result is the same bits whatever the dtype dispatch (no reassociation).
  double total = 0;
  for (const auto& entry : params) {
    const Tensor& grad = entry.second->grad;  // a plain name: clang 14 lambdas cannot capture structured bindings
    dispatch_dtype(grad.dtype(), [&]<class T>() {
      const T* g = grad.data<T>();
      for (int64_t i = 0, n = grad.numel(); i < n; ++i) {
        const double v = static_cast<double>(g[i]);
        total += v * v;
      }
    });
  }
  return std::sqrt(total);
}

double clip_grad_norm(const std::vector<std::pair<std::string, Parameter*>>& params, double max_norm) {
  const double norm = global_grad_norm(params);
  if (max_norm > 0 && std::isfinite(norm)) {
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0)
      for (const auto& entry : params) {
        Tensor& grad = entry.second->grad;
        dispatch_dtype(grad.dtype(), [&]<class T>() {
          T* g = grad.data<T>();
          for (int64_t i = 0, n = grad.numel(); i < n; ++i) g[i] *= static_cast<T>(coef);
        });
      }
  }
  return norm;
}

double Optimizer::step(double lr) {
  for (const auto& [path, p] : params_)
    UNROLL_CHECK(p->grad.defined() && p->grad.shape() == p->value.shape() && p->grad.dtype() == p->value.dtype(),
                 UsageError, "optimizer: parameter '{}' has gradient of shape {} for value of shape {} (hint: run "
                 "backward on a tape that used this parameter)", path, p->grad.shape().str(), p->value.shape().str());
  // Without clipping the norm is not needed: skip the pass over every gradient (docs/performance.md).
  const double norm =
      config_.clip_norm > 0 ? clip_grad_norm(params_, config_.clip_norm) : std::numeric_limits<double>::quiet_NaN();
  ++step_;
  // The update is element-wise: each OpenMP thread takes an equal run of all parameters' elements
  // (concatenated in path order), the same bits as one thread. Small models stay on one thread, where
  // waking the other would cost more than it saves.
  // Nothing here allocates once every parameter has its slot map (tests/alloc_count).
  int64_t total = 0;
  for (auto& [path, p] : params_) {
    slots_[path];  // sgd without momentum has no slots: an empty map
    total += p->value.numel();
  }
  const auto update_run = [&](int64_t begin, int64_t end) {
    int64_t start = 0;  // of this parameter's elements in the run
    for (auto& entry : params_) {  // not a structured binding: clang 14 cannot capture one in the lambda below
      Parameter& p = *entry.second;
      const int64_t n = p.value.numel();
      const int64_t b = std::max(begin, start), e = std::min(end, start + n);
      if (b < e) {
        std::map<std::string, Tensor>& slots = slots_.find(entry.first)->second;
        dispatch_dtype(p.value.dtype(), [&]<class T>() {
          update<T>(config_.kind, config_, step_, lr, p, slots, b - start, e - start);
        });
      }
      start += n;
    }
  };
  if (total < kThreadedUpdateElements) {
    update_run(0, total);
  } else {  // one run per thread, as the batch splits cut rows (one run inside a caller's parallel region)
    const std::vector<RowBlock> runs = split_batch(total);
    for_each_block(runs.size(), [&](size_t i) { update_run(runs[i].begin, runs[i].begin + runs[i].rows); });
  }
  return norm;
}

void Optimizer::zero_grad() {
  for (auto& [path, p] : params_) p->zero_grad();
}

OptimizerState Optimizer::export_state() const {
  OptimizerState s;
  s.kind = config_.kind;
  s.hyper = config_.to_json();
  s.step = step_;
  for (const auto& [path, slots] : slots_)
    for (const auto& [name, t] : slots) s.slots[path][name] = t.clone();
  return s;
}

void Optimizer::import_state(const OptimizerState& state) {
  UNROLL_CHECK(state.kind == config_.kind, IoError,
               "optimizer: the saved state is for '{}' but this optimizer is '{}' (hint: resume with --optimizer {})",
               state.kind, config_.kind, state.kind);
  UNROLL_CHECK(state.step >= 0, IoError, "optimizer: saved step count {} is negative", state.step);
  for (const auto& [path, p] : params_) {
    auto it = state.slots.find(path);
    const auto names = slot_names(config_.kind, config_);
    UNROLL_CHECK(names.empty() || it != state.slots.end(), IoError,
                 "optimizer: the saved state has no slots for parameter '{}' (hint: the checkpoint was written for a "
                 "different model)", path);
    for (const auto& name : names) {
      auto s = it->second.find(name);
      UNROLL_CHECK(s != it->second.end(), IoError, "optimizer: saved state of parameter '{}' lacks slot '{}'", path, name);
      UNROLL_CHECK(s->second.shape() == p->value.shape(), IoError,
                   "optimizer: slot '{}' of parameter '{}' has shape {} but the parameter has shape {}", name, path,
                   s->second.shape().str(), p->value.shape().str());
      slots_[path][name] = s->second.to(p->value.dtype());
    }
  }
  for (const auto& [path, slots] : state.slots) {
    bool known = false;
    for (const auto& [q, p] : params_) known = known || q == path;
    UNROLL_CHECK(known, IoError, "optimizer: the saved state has slots for unknown parameter '{}'", path);
  }
  step_ = state.step;
}

}  // namespace unroll
