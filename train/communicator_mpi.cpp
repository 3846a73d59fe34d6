// SPDX-License-Identifier: Apache-2.0
// What lives here: the MPI Communicator (train/communicator.h), compiled into the library only when CMake
// found MPI (UNROLL_HAVE_MPI). The fixed-order sum is a reduce-scatter by MPI_Alltoallv plus an
// MPI_Allgatherv (Note [Fixed-order reduction]). MPI errors are returned, not fatal, and become IoError
// naming the call; a rank that dies is normally noticed first by the launcher, which ends the job.
// The C API only: the (deprecated) C++ bindings stay out.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <chrono>
#include <thread>
#include <type_traits>
#include <vector>

#include "graph/check.h"
#include "train/communicator.h"

namespace unroll {

namespace {

void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw IoError(fmt::format("MPI: {} failed: {} (hint: another rank may have failed; see its message)", what,
                            std::string(text, static_cast<size_t>(len))));
}

template <class T>
MPI_Datatype mpi_type() {
  return std::is_same_v<T, double> ? MPI_DOUBLE : MPI_FLOAT;
}

class MpiWorld final : public Communicator {
 public:
  MpiWorld() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized == 0) {
      int provided = 0;
      // Only the calling thread talks to MPI; oneDNN's OpenMP workers never do.
      if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        throw IoError("MPI: MPI_Init_thread failed (hint: is this process started by mpirun or srun?)");
      owns_init_ = true;
    }
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiWorld() override {
    if (!finished_) return;  // a failing rank exits without waiting; the launcher ends the others
    MPI_Comm_free(&comm_);
    if (owns_init_) MPI_Finalize();
  }
  MpiWorld(const MpiWorld&) = delete;
  MpiWorld& operator=(const MpiWorld&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(std::span<double> data) override { sum_in_rank_order(data); }
  void allreduce_sum(std::span<float> data) override { sum_in_rank_order(data); }
  int64_t allreduce_max(int64_t value) override {
    int64_t out = 0;
    check_mpi(MPI_Allreduce(&value, &out, 1, MPI_INT64_T, MPI_MAX, comm_), "MPI_Allreduce");
    return out;
  }
  void broadcast(std::span<double> data, int root) override { bcast(data, root); }
  void broadcast(std::span<float> data, int root) override { bcast(data, root); }
  void broadcast(std::string& bytes, int root) override {
    int64_t n = static_cast<int64_t>(bytes.size());
    check_mpi(MPI_Bcast(&n, 1, MPI_INT64_T, root, comm_), "MPI_Bcast");
    bytes.resize(static_cast<size_t>(n));
    check_mpi(MPI_Bcast(bytes.data(), static_cast<int>(n), MPI_CHAR, root, comm_), "MPI_Bcast");
  }
  void barrier() override { check_mpi(MPI_Barrier(comm_), "MPI_Barrier"); }
  void send(int dest, const std::string& message) override {
    check_mpi(MPI_Send(message.data(), static_cast<int>(message.size()), MPI_CHAR, dest, kTag, comm_), "MPI_Send");
  }
  std::string receive_any(int* source) override {
    // MPI_Probe would spin a core for as long as the message takes (a whole run for the sweep's rank 0):
    // poll, sleeping a millisecond between looks.
    MPI_Status status;
    for (int flag = 0;;) {
      check_mpi(MPI_Iprobe(MPI_ANY_SOURCE, kTag, comm_, &flag, &status), "MPI_Iprobe");
      if (flag != 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    int n = 0;
    MPI_Get_count(&status, MPI_CHAR, &n);
    std::string out(static_cast<size_t>(n), '\0');
    check_mpi(MPI_Recv(out.data(), n, MPI_CHAR, status.MPI_SOURCE, kTag, comm_, MPI_STATUS_IGNORE), "MPI_Recv");
    if (source != nullptr) *source = status.MPI_SOURCE;
    return out;
  }
  std::string describe() const override { return fmt::format("MPI, {} ranks", size_); }
  void finish() override { finished_ = true; }

 private:
  static constexpr int kTag = 0x756e;

  // Chunk c of n elements: [n c / N, n (c + 1) / N).
  int64_t chunk_begin(int64_t n, int c) const { return n * c / size_; }

  // Note [Fixed-order reduction]: reduce-scatter (chunk c of every rank to rank c, summed in rank order),
  // then all-gather of the summed chunks.
  template <class T>
  void sum_in_rank_order(std::span<T> data) {
    if (size_ == 1) return;
    const int64_t n = static_cast<int64_t>(data.size());
    UNROLL_CHECK(n < (int64_t{1} << 31), UsageError, "communicator: {} elements in one reduction (at most 2^31 - 1)", n);
    std::vector<int> counts(static_cast<size_t>(size_)), displs(static_cast<size_t>(size_));
    for (int c = 0; c < size_; ++c) {
      displs[static_cast<size_t>(c)] = static_cast<int>(chunk_begin(n, c));
      counts[static_cast<size_t>(c)] = static_cast<int>(chunk_begin(n, c + 1) - chunk_begin(n, c));
    }
    const int mine = counts[static_cast<size_t>(rank_)];
    std::vector<int> recv_counts(static_cast<size_t>(size_), mine), recv_displs(static_cast<size_t>(size_));
    for (int r = 0; r < size_; ++r) recv_displs[static_cast<size_t>(r)] = r * mine;
    scratch_.resize(sizeof(T) * static_cast<size_t>(mine) * static_cast<size_t>(size_));
    T* parts = reinterpret_cast<T*>(scratch_.data());  // [rank][mine]
    check_mpi(MPI_Alltoallv(data.data(), counts.data(), displs.data(), mpi_type<T>(), parts, recv_counts.data(),
                            recv_displs.data(), mpi_type<T>(), comm_),
              "MPI_Alltoallv");
    T* out = data.data() + displs[static_cast<size_t>(rank_)];
    for (int i = 0; i < mine; ++i) out[i] = parts[i];
    for (int r = 1; r < size_; ++r) {
      const T* part = parts + static_cast<int64_t>(r) * mine;
      for (int i = 0; i < mine; ++i) out[i] += part[i];
    }
    check_mpi(MPI_Allgatherv(MPI_IN_PLACE, 0, mpi_type<T>(), data.data(), counts.data(), displs.data(), mpi_type<T>(),
                             comm_),
              "MPI_Allgatherv");
  }

  template <class T>
  void bcast(std::span<T> data, int root) {
    check_mpi(MPI_Bcast(data.data(), static_cast<int>(data.size()), mpi_type<T>(), root, comm_), "MPI_Bcast");
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  bool owns_init_ = false, finished_ = false;
  std::vector<char> scratch_;
};

}  // namespace

bool mpi_built_in() { return true; }
std::unique_ptr<Communicator> mpi_communicator() { return std::make_unique<MpiWorld>(); }

}  // namespace unroll
