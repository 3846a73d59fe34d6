// SPDX-License-Identifier: Apache-2.0
// What lives here: the single-process Communicator, launcher detection, world_communicator() and
// allreduce_gradients() (train/communicator.h). The MPI communicator is train/communicator_mpi.cpp.
#include "train/communicator.h"

#include <cstdlib>
#include <vector>

#include "graph/check.h"
#include "models/module.h"

namespace unroll {

namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(std::span<double>) override {}
  void allreduce_sum(std::span<float>) override {}
  int64_t allreduce_max(int64_t value) override { return value; }
  void broadcast(std::span<double>, int root) override { check_root(root); }
  void broadcast(std::span<float>, int root) override { check_root(root); }
  void broadcast(std::string&, int root) override { check_root(root); }
  void barrier() override {}
  void send(int dest, const std::string&) override {
    throw UsageError(fmt::format("communicator: send to rank {} in a single process (hint: run under mpirun)", dest));
  }
  std::string receive_any(int*) override {
    throw UsageError("communicator: receive in a single process would wait forever (hint: run under mpirun)");
  }
  std::string describe() const override { return "single process"; }

 private:
  static void check_root(int root) {
    UNROLL_CHECK(root == 0, UsageError, "communicator: broadcast from rank {} in a single process", root);
  }
};

// Packs the gradients of one dtype (named_parameters() order), scales, reduces and unpacks them.
template <class T>
void reduce_dtype(const std::vector<Parameter*>& params, Communicator& comm, double scale) {
  int64_t n = 0;
  for (const Parameter* p : params)
    if (p->grad.dtype() == Tensor::dtype_of<T>()) n += p->grad.numel();
  if (n == 0) return;
  std::vector<T> buffer(static_cast<size_t>(n));
  size_t at = 0;
  for (const Parameter* p : params) {
    if (p->grad.dtype() != Tensor::dtype_of<T>()) continue;
    const T* g = p->grad.data<T>();
    for (int64_t i = 0; i < p->grad.numel(); ++i) buffer[at++] = scale == 1.0 ? g[i] : static_cast<T>(g[i] * scale);
  }
  comm.allreduce_sum(std::span<T>(buffer));
  at = 0;
  for (Parameter* p : params) {
    if (p->grad.dtype() != Tensor::dtype_of<T>()) continue;
    T* g = p->grad.data<T>();
    for (int64_t i = 0; i < p->grad.numel(); ++i) g[i] = buffer[at++];
  }
}

}  // namespace

std::unique_ptr<Communicator> single_process_communicator() { return std::make_unique<SingleProcess>(); }

bool launched_by_mpi() {
  // OpenMPI's mpirun, MPICH/Hydra and Slurm's srun (PMI/PMIx) each set one of these in every rank.
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"})
    if (std::getenv(var) != nullptr) return true;
  return false;
}

std::unique_ptr<Communicator> world_communicator() {
  if (mpi_built_in() && launched_by_mpi()) return mpi_communicator();
  return single_process_communicator();
}

void allreduce_gradients(Module& module, Communicator& comm, double scale) {
  if (comm.size() == 1 && scale == 1.0) return;
  const std::vector<Parameter*> params = module.parameters();
  for (Parameter* p : params)
    if (!p->grad.defined() || p->grad.numel() != p->value.numel()) p->grad = Tensor::zeros(p->value.shape(), p->value.dtype());
  reduce_dtype<float>(params, comm, scale);
  reduce_dtype<double>(params, comm, scale);
}

void broadcast_parameters(Module& module, Communicator& comm, int root) {
  if (comm.size() == 1) return;
  for (Parameter* p : module.parameters())
    dispatch_dtype(p->value.dtype(), [&]<class T>() {
      comm.broadcast(std::span<T>(p->value.data<T>(), static_cast<size_t>(p->value.numel())), root);
      return 0;
    });
}

#ifndef UNROLL_HAVE_MPI
bool mpi_built_in() { return false; }
std::unique_ptr<Communicator> mpi_communicator() {
  throw UsageError(
      "this unroll was built without MPI (hint: install libopenmpi-dev and rebuild; CMake finds it with "
      "find_package(MPI))");
}
#endif

}  // namespace unroll
