// SPDX-License-Identifier: Apache-2.0
// What lives here: the up-front memory check of `unroll train` and `unroll sweep`: a lower bound on the
// bytes a run needs (parameters with gradients and optimizer state, one batch's recorded activations, the
// series) against what the process may use (physical memory, RLIMIT_AS/RLIMIT_DATA, the cgroup limit), so
// sizes that cannot fit are refused with one line before anything is allocated instead of dying by
// std::bad_alloc or the kernel's OOM killer halfway through.
#pragma once
#include <cstdint>
#include <string>

#include "apps/run_config.h"

namespace unroll::cli {

struct MemoryEstimate {
  double parameters = 0;   // bytes: values, gradients and optimizer slots
  double activations = 0;  // bytes: one training batch on the tape
  double data = 0;         // bytes: the series and its windows (when the length is known up front)
  double total() const { return parameters + activations + data; }
};

// A lower bound (float32, the fewest gates of the cell family) for run.
MemoryEstimate estimate_memory(const RunConfig& run);

// Bytes this process may use: the smallest of physical memory, RLIMIT_AS, RLIMIT_DATA and the cgroup's
// memory.max (0 when none can be read).
double memory_limit_bytes();

// Throws UsageError naming the sizes, the estimate and the limit when the estimate exceeds the limit.
// `what` prefixes the message ("train", "sweep: cells 4096 history 32").
void check_memory(const RunConfig& run, const std::string& what);

}  // namespace unroll::cli
