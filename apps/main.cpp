// What lives here: main() of the `unroll` command; everything else is in apps/commands.cpp and cmd_*.cpp.
//
// Note [OpenMP wait policy]: oneDNN runs on OpenMP, whose worker threads by default spin while waiting.
// Between the many small GEMMs of a recurrent step that spinning competes with the main thread, and on a
// machine with other work it made training 6x slower (measured: 5 vs 34 steps/s, LSTM 128, 2 cores, load
// 12). libgomp reads OMP_WAIT_POLICY when it is loaded, before main(), so when the variable is unset we
// set it to PASSIVE and re-execute ourselves once. Set OMP_WAIT_POLICY yourself to choose otherwise.
#include <unistd.h>

#include <cstdlib>

#include "apps/commands.h"

int main(int argc, char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    execv("/proc/self/exe", argv);  // returns only on failure: then carry on with the default policy
  }
  return unroll::cli::run_main(argc, argv);
}
