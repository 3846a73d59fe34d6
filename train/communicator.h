// SPDX-License-Identifier: Apache-2.0
// What lives here: Communicator, what data-parallel training needs from a group of processes (rank, size,
// a fixed-order sum, broadcast, barrier, agreement on stopping), its single-process stand-in, the MPI one
// (present when the library was built with MPI: train/communicator_mpi.cpp), and allreduce_gradients().
// No MPI header is included here: a program built against unroll needs MPI only to run under mpirun.
//
// Note [Fixed-order reduction]: allreduce_sum adds the ranks' buffers element by element in rank order,
// ((x_0 + x_1) + x_2) + ..., whatever the timing, the message sizes or MPI's own algorithm choice, so the
// same inputs give the same bits on every rank and every run. The MPI implementation splits the buffer
// into `size` contiguous chunks; rank c receives chunk c of every rank (MPI_Alltoallv), sums it in rank
// order and sends the sum back to everyone (MPI_Allgatherv): a reduce-scatter then an all-gather, so each
// rank sends and receives 2 (N-1)/N of the buffer per reduction, what a ring all-reduce moves; the price
// over MPI_Allreduce is no in-network or tree reduction (latency ~N message start-ups per phase instead of
// log N) and one extra buffer of the reduced size. Sums of a value with zeros are exact, so allgather-by-
// sum (each rank fills its own range of a zeroed buffer) returns exactly the values, not rounded ones.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace unroll {

class Module;

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Every rank's `data` becomes the element-wise sum over ranks, added in rank order (Note
  /// [Fixed-order reduction]); every rank must call it with the same length.
  virtual void allreduce_sum(std::span<double> data) = 0;
  virtual void allreduce_sum(std::span<float> data) = 0;
  /// The largest `value` over ranks (exact, so order does not matter).
  virtual int64_t allreduce_max(int64_t value) = 0;
  /// `data` on every rank becomes root's (same length everywhere).
  virtual void broadcast(std::span<double> data, int root = 0) = 0;
  virtual void broadcast(std::span<float> data, int root = 0) = 0;
  /// root's string on every rank (lengths may differ before the call).
  virtual void broadcast(std::string& bytes, int root = 0) = 0;
  virtual void barrier() = 0;
  /// Any-rank agreement, e.g. on stopping: a signal number (0 = none) seen by some rank becomes every rank's.
  int64_t agree(int64_t local_value) { return allreduce_max(local_value); }
  /// Point-to-point messages (the distributed sweep's work queue): send a string to `dest`; receive the next
  /// one from any rank (its rank in *source).
  virtual void send(int dest, const std::string& message) = 0;
  virtual std::string receive_any(int* source) = 0;
  /// "single process" or "MPI, 4 ranks"
  virtual std::string describe() const = 0;
  /// Every rank reached a clean end: the MPI communicator then finalises MPI when destroyed. Without it
  /// (an error unwinding) MPI is left to the launcher, so a failing rank never waits for the others.
  virtual void finish() {}
};

/// One process, no MPI: rank 0 of 1; sums and broadcasts leave data unchanged, send/receive are errors.
std::unique_ptr<Communicator> single_process_communicator();

/// True when this build of unroll has the MPI communicator.
bool mpi_built_in();
/// True when the process was started by an MPI launcher (mpirun, mpiexec, srun with PMI/PMIx).
bool launched_by_mpi();
/// The MPI world (initialises MPI; see finish()). UsageError when this build has no MPI.
std::unique_ptr<Communicator> mpi_communicator();
/// MPI when launched by an MPI launcher and built in, else the single-process stand-in.
std::unique_ptr<Communicator> world_communicator();

/// Sums every parameter gradient of `module` over the ranks (float and double parameters; Note [Fixed-order
/// reduction]) and multiplies it by `scale` first (e.g. this rank's share of the global batch, for a loss
/// that is a mean over the batch). Parameters are packed in named_parameters() order, one buffer per dtype.
void allreduce_gradients(Module& module, Communicator& comm, double scale = 1.0);
/// Every rank's parameter values of `module` become root's (e.g. after root alone loaded a checkpoint).
void broadcast_parameters(Module& module, Communicator& comm, int root = 0);

}  // namespace unroll
