// SPDX-License-Identifier: Apache-2.0
// What lives here: main() of the `unroll` command; everything else is in apps/commands.cpp and cmd_*.cpp.
//
// Note [OpenMP wait policy]: oneDNN runs on OpenMP, whose idle workers by default spin for milliseconds;
// on a machine with other work that spinning competes with the main thread between the many small GEMMs
// of a recurrent step. libgomp reads its variables when it is loaded, before main(), so when
// OMP_WAIT_POLICY is unset we set it to PASSIVE and, unless GOMP_SPINCOUNT is set, that to 1000 spins
// (tens of microseconds: a worker stays awake between the parallel regions of one step, then sleeps),
// and re-execute ourselves once. Set either variable yourself to choose otherwise (docs/cli.md).
#include <unistd.h>

#include <cstdlib>

#include "apps/commands.h"

int main(int argc, char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    setenv("GOMP_SPINCOUNT", "1000", 0);  // 0: a value the user set stays
    execv("/proc/self/exe", argv);  // returns only on failure: then carry on with the default policy
  }
  return unroll::cli::run_main(argc, argv);
}
