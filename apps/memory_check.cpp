// SPDX-License-Identifier: Apache-2.0
// What lives here: apps/memory_check.h.
#include "apps/memory_check.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "graph/check.h"

namespace unroll::cli {

namespace {

// Gate blocks of a cell family (the fewest when unknown: the bound stays a lower bound).
double gates_of(const std::string& cell) {
  if (cell.rfind("lstm", 0) == 0) return 4;
  if (cell.rfind("gru", 0) == 0) return 3;
  return 1;
}

double optimizer_slots(const OptimizerConfig& o) {
  if (o.kind == "adam") return 2;
  if (o.kind == "rmsprop") return 1;
  return o.momentum != 0 ? 1 : 0;
}

std::string gigabytes(double bytes) { return fmt::format("{:.1f} GB", bytes / 1e9); }

}  // namespace

MemoryEstimate estimate_memory(const RunConfig& run) {
  const auto& rc = run.model.net.recurrent;
  const double h = rc.hidden_size, gates = gates_of(rc.cell), layers = rc.layers, bytes = 4;
  double params = 0;
  for (int l = 0; l < rc.layers; ++l) {
    const double in = l == 0 ? rc.input_size : h;
    params += gates * h * (in + h) + 2 * gates * h;
  }
  params += h + 1;  // the head
  MemoryEstimate e;
  e.parameters = params * bytes * (2 + optimizer_slots(run.trainer.optimizer));
  e.activations = static_cast<double>(run.trainer.batch_size) * static_cast<double>(run.data.history) * layers * h *
                  (gates + 1) * bytes;
  e.data = static_cast<double>(std::max<int64_t>(run.data.length, 0)) * 8 * 2;
  return e;
}

double memory_limit_bytes() {
  double limit = 0;
  const auto take = [&](double v) {
    if (v > 0) limit = limit == 0 ? v : std::min(limit, v);
  };
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) take(static_cast<double>(pages) * static_cast<double>(page));
  for (int resource : {RLIMIT_AS, RLIMIT_DATA}) {
    rlimit r{};
    if (::getrlimit(resource, &r) == 0 && r.rlim_cur != RLIM_INFINITY) take(static_cast<double>(r.rlim_cur));
  }
  std::ifstream cgroup("/sys/fs/cgroup/memory.max");
  std::string max;
  if (cgroup >> max && max != "max") {
    try {
      take(std::stod(max));
    } catch (const std::exception&) {  // unreadable: no cgroup bound
    }
  }
  return limit;
}

void check_memory(const RunConfig& run, const std::string& what) {
  const MemoryEstimate e = estimate_memory(run);
  const double limit = memory_limit_bytes();
  UNROLL_CHECK(limit == 0 || e.total() <= limit, UsageError,
               "{}: --hidden {} --layers {} --batch {} --history {} needs at least {} of memory (parameters, gradients "
               "and optimizer state {}, one batch's activations {}, data {}) but this process may use {} (hint: "
               "smaller --hidden, --batch or --history)",
               what, run.model.net.recurrent.hidden_size, run.model.net.recurrent.layers, run.trainer.batch_size,
               run.data.history, gigabytes(e.total()), gigabytes(e.parameters), gigabytes(e.activations),
               gigabytes(e.data), gigabytes(limit));
}

}  // namespace unroll::cli
