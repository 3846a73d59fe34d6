// SPDX-License-Identifier: Apache-2.0
// What lives here: helpers shared by the training suites (test_train.cpp, test_train_schedule.cpp,
// test_train_despike.cpp): a fresh scratch folder per test under the build tree, a bitwise comparison of
// two models' parameters, and the small residual LSTM forecaster config they train.
#pragma once
#include <filesystem>
#include <string>

#include "train/forecast_model.h"

namespace unroll::testing {

// UNROLL_BINARY_DIR/train-scratch/<name>, emptied and created.
inline std::string train_scratch(const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(UNROLL_BINARY_DIR) / "train-scratch" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

// Same parameter paths in the same order, and bit-identical values.
inline bool same_parameters(ForecastModel& a, ForecastModel& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  if (pa.size() != pb.size()) return false;
  for (size_t i = 0; i < pa.size(); ++i)
    if (pa[i].first != pb[i].first || !pa[i].second->value.bit_equal(pb[i].second->value)) return false;
  return true;
}

// A residual LSTM forecaster small enough for unit tests: input 1, hidden 5, history 6.
inline ForecastModelConfig small_lstm_forecaster() {
  ForecastModelConfig c;
  c.net.recurrent.cell = "lstm";
  c.net.recurrent.input_size = 1;
  c.net.recurrent.hidden_size = 5;
  c.history = 6;
  c.residual = true;
  return c;
}

}  // namespace unroll::testing
