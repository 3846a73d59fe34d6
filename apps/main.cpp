// What lives here: main() of the `unroll` command; everything else is in apps/commands.cpp and cmd_*.cpp.
//
// Note [OpenMP wait policy]: oneDNN runs on OpenMP, whose worker threads by default spin while waiting
// (libgomp: 300,000 spins, milliseconds). Between the many small GEMMs of a recurrent step that spinning
// competes with the main thread, and on a machine with other work it made training 6x slower (measured: 5
// vs 34 steps/s, LSTM 128, 2 cores, load 12). libgomp reads its variables when it is loaded, before
// main(), so when OMP_WAIT_POLICY is unset we set it to PASSIVE and, unless GOMP_SPINCOUNT is set, that to
// 1000 spins (tens of microseconds; what libgomp itself spins when it has more threads than CPUs), and
// re-execute ourselves once. PASSIVE alone sleeps at once, so each of a small model's parallel regions
// (11 per step of config a's LSTM) has to wake the other thread; with the short spin it is still awake.
// Measured on 2 cores (docs/performance.md, item 24): idle, config a steps 5-40 % faster and `unroll train`
// 2-20 %; beside 1-4 busy processes anything from 20 % faster to 1.6x slower than PASSIVE alone, never
// ACTIVE's collapse. On a machine busy with other work, OMP_WAIT_POLICY=PASSIVE (set by you, so no spin)
// sleeps at once; set OMP_WAIT_POLICY or GOMP_SPINCOUNT yourself to choose anything else.
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
