// SPDX-License-Identifier: Apache-2.0
// What lives here: what the sandboxed load (Note [Sandboxed load] in io/sandbox.cpp) costs: the median
// time of N load_checkpoint calls with and without LoadOptions::sandbox for a small checkpoint (hidden 32)
// and a typical large one (2-layer 512-unit LSTM with Adam m/v), also from a process holding 1 GiB of
// resident memory (fork copies its page tables).   Usage: checkpoint_load_bench [N (default 41)] [dir]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "unroll.h"

using namespace unroll;

namespace {

Checkpoint lstm_checkpoint(int64_t input, int64_t hidden, int64_t layers) {
  RecurrentConfig config;
  config.cell = "lstm";
  config.input_size = input;
  config.hidden_size = hidden;
  config.layers = layers;
  Rng rng(3);
  Recurrent model(config, rng);
  Checkpoint c = module_checkpoint(model, nlohmann::json(config));
  c.has_optimizer = true;
  c.optimizer.kind = "adam";
  c.optimizer.step = 1000;
  for (const auto& [path, t] : c.params) {
    c.optimizer.slots[path]["m"] = t.clone();
    c.optimizer.slots[path]["v"] = t.clone();
  }
  return c;
}

double median_ms(const std::string& path, bool sandbox, int n) {
  std::vector<double> ms;
  LoadOptions options;
  options.sandbox = sandbox;
  for (int i = 0; i < n; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const Checkpoint c = load_checkpoint(path, options);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 41;
  const std::string dir = argc > 2 ? argv[2] : std::filesystem::temp_directory_path().string();
  struct Case {
    const char* name;
    int64_t input, hidden, layers;
  };
  const Case cases[] = {{"lstm 1x32, Adam", 1, 32, 1}, {"lstm 2x512 in 128, Adam", 128, 512, 2}};
  std::vector<char> ballast;
  for (int round = 0; round < 2; ++round) {
    if (round == 1) {
      ballast.assign(size_t{1} << 30, 1);  // 1 GiB resident
      std::printf("-- with 1 GiB resident in the loading process\n");
    }
    for (const Case& c : cases) {
      const std::string path = dir + "/checkpoint_load_bench.h5";
      save_checkpoint(path, lstm_checkpoint(c.input, c.hidden, c.layers));
      const auto bytes = std::filesystem::file_size(path);
      median_ms(path, true, 2);  // warm-up
      const double with = median_ms(path, true, n), without = median_ms(path, false, n);
      std::printf("%-26s %10ju bytes: median of %d loads: sandboxed %8.2f ms, unsandboxed %8.2f ms, cost %+.2f ms\n",
                  c.name, static_cast<uintmax_t>(bytes), n, with, without, with - without);
      std::filesystem::remove(path);
    }
  }
  return ballast.empty() ? 1 : 0;
}
