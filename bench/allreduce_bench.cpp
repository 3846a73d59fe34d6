// SPDX-License-Identifier: Apache-2.0
// What lives here: allreduce_bench, the cost of one data-parallel gradient reduction (Note [Fixed-order
// reduction] in train/communicator.h) for the float32 gradient sizes of the bench configs a/b/c
// (bench/distributed_scaling.py counts them) and the 8-byte scalars a training step also agrees on.
// Run: mpirun -np 2 --oversubscribe -x OMP_NUM_THREADS=1 build/bench/allreduce_bench [repetitions]
// Prints, on rank 0, the median microseconds per call over the repetitions (after a barrier each).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "train/communicator.h"

using namespace unroll;

int main(int argc, char** argv) {
  const std::unique_ptr<Communicator> comm = world_communicator();
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 200;
  struct Size {
    const char* name;
    size_t floats;
  };
  const Size sizes[] = {{"scalar (8 B, double)", 0}, {"a LHC (67,201 floats)", 67201},
                        {"b medium (346,176 floats)", 346176}, {"c char (3,481,728 floats)", 3481728}};
  for (const Size& s : sizes) {
    std::vector<float> grads(s.floats, 1.0f);
    double scalar[1] = {1.0};
    std::vector<double> us;
    for (int r = 0; r < reps; ++r) {
      comm->barrier();
      const auto t0 = std::chrono::steady_clock::now();
      if (s.floats == 0)
        comm->allreduce_sum(std::span<double>(scalar));
      else
        comm->allreduce_sum(std::span<float>(grads));
      us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    std::nth_element(us.begin(), us.begin() + static_cast<long>(us.size() / 2), us.end());
    if (comm->rank() == 0) std::printf("%s, %s: %.1f us median of %d\n", comm->describe().c_str(), s.name, us[us.size() / 2], reps);
  }
  comm->finish();
  return 0;
}
