// SPDX-License-Identifier: Apache-2.0
// What lives here: a custom training loop made data-parallel in a few lines (docs/distributed.md): a
// Communicator (MPI under mpirun, else one process), each rank's share of every global batch, and
// allreduce_gradients() between backward and the optimizer step. Run it alone or as
//   mpirun -np 3 ./example_data_parallel
// and it prints the same loss and weights (to float64 rounding: the sum over ranks adds in another order).
#include <unroll.h>

#include "models/linear.h"
#include "train/communicator.h"
#include "train/data_parallel.h"
#include "train/optimizer.h"

using namespace unroll;

int main() {
  const std::unique_ptr<Communicator> comm = world_communicator();
  // Every rank builds the same model and data from the same seeds.
  Rng rng(7);
  Linear model(4, 1, rng, /*bias=*/true, DType::f64);
  const int64_t n = 256, features = 4, batch = 32;
  Tensor x = Tensor::zeros({n, features}, DType::f64), y = Tensor::zeros({n, 1}, DType::f64);
  for (int64_t i = 0; i < n; ++i) {
    double target = 0.5;
    for (int64_t j = 0; j < features; ++j) {
      const double v = rng.normal();
      x.data<double>()[i * features + j] = v;
      target += (j + 1) * 0.25 * v;
    }
    y.data<double>()[i] = target + 0.01 * rng.normal();
  }
  OptimizerConfig oc;
  oc.lr = 0.05;
  Optimizer opt(model.named_parameters(), oc);
  Tape tape;
  double last_loss = 0;
  for (int epoch = 0; epoch < 20; ++epoch) {
    for (int64_t start = 0; start < n; start += batch) {
      // This rank's rows of the global batch [start, start + batch).
      const Share share = rank_share(batch, comm->rank(), comm->size());
      const int64_t rows = share.size();
      Tensor xb = Tensor::zeros({rows, features}, DType::f64), yb = Tensor::zeros({rows, 1}, DType::f64);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = start + share.begin + r;
        for (int64_t j = 0; j < features; ++j) xb.data<double>()[r * features + j] = x.data<double>()[i * features + j];
        yb.data<double>()[r] = y.data<double>()[i];
      }
      tape.reset();
      model.zero_grad();
      double loss_part = 0;
      if (rows > 0) {
        const Var loss = mse(model.forward(tape.constant(xb)), tape.constant(yb));
        loss_part = loss.item() * rows / batch;
        backward(loss);
      }
      // The mean loss of the global batch: each rank's mean weighted by its share, summed over ranks.
      allreduce_gradients(model, *comm, static_cast<double>(rows) / batch);
      double global[1] = {loss_part};
      comm->allreduce_sum(std::span<double>(global));
      last_loss = global[0];
      opt.step();
    }
  }
  if (comm->rank() == 0) {
    fmt::print("{}: last batch loss {:.12g}; weights", comm->describe(), last_loss);
    for (int64_t j = 0; j < features; ++j) fmt::print(" {:.12g}", model.weight().value.at(j));
    fmt::print("\n");
  }
  comm->finish();
  return 0;
}
