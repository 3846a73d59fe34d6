// SPDX-License-Identifier: Apache-2.0
// What lives here: the C++ side of the MPI tests (tests/mpi.cmake), run as `mpirun -np N mpi_trainer_check`:
// a float64 forecaster trained with the Trainer over the N ranks (Note [Data parallel]) must (1) equal the
// same training in one process on the same global batches to 1e-12 relative (parameters, losses,
// validation MSE), (2) give the same bits when run again, (3) leave every rank with the same bits, and
// allreduce_sum must add in rank order. Exit 0 when all hold; one line per failure otherwise.
#include <cmath>
#include <cstdio>

#include "train/communicator.h"
#include "train/trainer.h"

using namespace unroll;

namespace {

PreparedData sine_data() {
  Series s{"sine", {}};
  for (int64_t i = 0; i < 260; ++i)
    s.values.push_back(std::sin(0.3 * static_cast<double>(i)) + 0.1 * std::cos(1.7 * static_cast<double>(i)));
  SplitSpec split;
  split.train_fraction = 0.6;
  split.validation_fraction = 0.2;
  return prepare_data(std::move(s), split, WindowSpec{8, 1}, ScalerKind::min_max);
}

struct Outcome {
  std::vector<double> params;
  TrainResult result;
  double val_mse = 0;
};

Outcome train(const PreparedData& data, Communicator* comm) {
  ForecastModelConfig mc;
  mc.net.recurrent.cell = "lstm";
  mc.net.recurrent.input_size = 1;
  mc.net.recurrent.hidden_size = 6;
  mc.history = 8;
  mc.residual = true;
  Rng init(5);
  ForecastModel model(mc, init);
  model.to(DType::f64);
  TrainerConfig tc;
  tc.epochs = 3;
  tc.batch_size = 17;  // uneven shares for every N > 1, and a short last batch
  tc.seed = 5;
  tc.optimizer.lr = 0.01;
  tc.optimizer.clip_norm = 0.5;  // clipping sees the summed gradient
  Trainer trainer(model, data, tc);
  trainer.set_communicator(comm);
  Outcome o;
  o.result = trainer.fit();
  o.val_mse = trainer.evaluate_mse(data.validation);
  for (Parameter* p : model.parameters())
    for (int64_t i = 0; i < p->value.numel(); ++i) o.params.push_back(p->value.at(i));
  return o;
}

double rel(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); }

}  // namespace

int main() {
  const std::unique_ptr<Communicator> comm = world_communicator();
  const bool lead = comm->rank() == 0;
  int failures = 0;
  auto fail = [&](const std::string& what) {
    if (lead) std::fprintf(stderr, "FAIL (%s): %s\n", comm->describe().c_str(), what.c_str());
    ++failures;
  };

  // Rank order: rank r contributes 1e16 for r == 0, then 1 from every other rank: ((1e16 + 1) + 1) ... in
  // float64 each +1 is lost, so the sum is 1e16 exactly, on every rank (a tree would differ for N >= 4).
  double probe[1] = {comm->rank() == 0 ? 1e16 : 1.0};
  comm->allreduce_sum(std::span<double>(probe));
  if (probe[0] != 1e16) fail(fmt::format("allreduce_sum is not in rank order: {}", probe[0]));

  const PreparedData data = sine_data();
  const Outcome a = train(data, comm.get()), b = train(data, comm.get()), single = train(data, nullptr);
  if (a.params != b.params || a.val_mse != b.val_mse) fail("two distributed runs differ");
  double worst = 0;
  for (size_t i = 0; i < a.params.size(); ++i) worst = std::max(worst, rel(a.params[i], single.params[i]));
  if (worst > 1e-12) fail(fmt::format("parameters differ from one process by {:.3g} relative", worst));
  if (rel(a.val_mse, single.val_mse) > 1e-12) fail(fmt::format("validation MSE {} vs {}", a.val_mse, single.val_mse));
  for (size_t e = 0; e < a.result.history.size(); ++e) {
    const double ta = a.result.history[e]["train_loss"], ts = single.result.history[e]["train_loss"];
    if (rel(ta, ts) > 1e-12) fail(fmt::format("epoch {} train loss {} vs {}", e + 1, ta, ts));
  }
  std::vector<double> mine = a.params, lead_params = a.params;
  comm->broadcast(std::span<double>(lead_params));
  const int64_t differ = comm->allreduce_max(mine != lead_params ? 1 : 0);
  if (differ != 0) fail("ranks hold different parameters");
  if (lead && failures == 0)
    std::printf("ok: %s, %zu parameters, max relative difference to one process %.3g, val MSE %.17g\n",
                comm->describe().c_str(), a.params.size(), worst, a.val_mse);
  comm->finish();
  return failures == 0 ? 0 : 1;
}
