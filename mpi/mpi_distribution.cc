// MPI primitives for a distributed run. MPI errors stay fatal to the job
// (the communicator keeps MPI_ERRORS_ARE_FATAL): a rank that cannot talk to
// the others must not leave them waiting, and mpirun then ends every rank.
#include "eoscale/mpi/mpi_distribution.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace eoscale::mpi {
namespace {
constexpr int kTag = 4215;  // on the engine's own communicator
}  // namespace

absl::StatusOr<std::shared_ptr<MpiDistribution>> MpiDistribution::Create(MPI_Comm comm) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) {
    return absl::FailedPreconditionError("MpiDistribution: MPI is not initialised (call MPI_Init_thread first)");
  }
  return std::shared_ptr<MpiDistribution>(new MpiDistribution(comm));
}

MpiDistribution::MpiDistribution(MPI_Comm comm) {
  MPI_Comm_dup(comm, &comm_);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

MpiDistribution::~MpiDistribution() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Comm_free(&comm_);
}

absl::Status MpiDistribution::Agree(const absl::Status& local) {
  const int mine = local.ok() ? size_ : rank_;
  int first = size_;
  // Non-blocking, polled with sleeps: a rank done early waits here for the
  // others without spinning on a core they need (Open MPI's blocking
  // collectives poll).
  MPI_Request request;
  MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm_, &request);
  int finished = 0;
  for (int pause_us = 50;; pause_us = std::min(pause_us * 2, 5000)) {
    MPI_Test(&request, &finished, MPI_STATUS_IGNORE);
    if (finished) break;
    std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
  }
  if (first == size_) return absl::OkStatus();
  std::string m;
  if (rank_ == first) {
    m.push_back(static_cast<char>(local.code()));
    m.append(local.message().data(), local.message().size());
  }
  m = Broadcast(first, m);
  const auto code = m.empty() ? absl::StatusCode::kUnknown : static_cast<absl::StatusCode>(m[0]);
  return absl::Status(code, absl::StrCat("rank ", first, " of ", size_, ": ", m.empty() ? "" : m.substr(1)));
}

std::vector<int64_t> MpiDistribution::SumAll(const std::vector<int64_t>& values) {
  std::vector<int64_t> out(values.size());
  MPI_Allreduce(values.data(), out.data(), static_cast<int>(values.size()), MPI_INT64_T, MPI_SUM, comm_);
  return out;
}

std::string MpiDistribution::Broadcast(int root, const std::string& bytes) {
  int64_t n = rank_ == root ? static_cast<int64_t>(bytes.size()) : 0;
  MPI_Bcast(&n, 1, MPI_INT64_T, root, comm_);
  std::string out = rank_ == root ? bytes : std::string(static_cast<size_t>(n), '\0');
  if (n > 0) MPI_Bcast(out.data(), static_cast<int>(n), MPI_BYTE, root, comm_);
  return out;
}

void MpiDistribution::Send(int to, const std::string& bytes) {
  MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, to, kTag, comm_);
}

std::string MpiDistribution::Receive(int from) {
  MPI_Status status;
  MPI_Probe(from, kTag, comm_, &status);
  int n = 0;
  MPI_Get_count(&status, MPI_BYTE, &n);
  std::string out(static_cast<size_t>(n), '\0');
  MPI_Recv(out.data(), n, MPI_BYTE, from, kTag, comm_, MPI_STATUS_IGNORE);
  return out;
}

}  // namespace eoscale::mpi
