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
#include "eoscale/mpi/mpi_wait.h"

namespace eoscale::mpi {
namespace {
constexpr int kTag = 4215;  // on the engine's own communicator
constexpr int kProgressTag = 4216;
constexpr int kFailureTag = 4217;

using internal::WaitPolled;
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
  // Tiles sent to rank 0 (OpenTileChannel) travel on a communicator of
  // their own, from worker threads: only under MPI_THREAD_MULTIPLE, which
  // every rank must have (the lowest level decides).
  MPI_Comm_dup(comm, &tiles_comm_);
  int level = MPI_THREAD_SINGLE, lowest = MPI_THREAD_SINGLE;
  MPI_Query_thread(&level);
  MPI_Allreduce(&level, &lowest, 1, MPI_INT, MPI_MIN, comm_);
  thread_multiple_ = lowest == MPI_THREAD_MULTIPLE;
  heard_done_.assign(size_, 0);
  heard_total_.assign(size_, 0);
  heard_final_.assign(size_, 0);
}

MpiDistribution::~MpiDistribution() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) {
    MPI_Comm_free(&tiles_comm_);
    MPI_Comm_free(&comm_);
  }
}

absl::Status MpiDistribution::Agree(const absl::Status& local) {
  const int mine = local.ok() ? size_ : rank_;
  int first = size_;
  // Non-blocking, polled with sleeps: a rank done early waits here for the
  // others without spinning on a core they need (Open MPI's blocking
  // collectives poll).
  MPI_Request request;
  MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm_, &request);
  WaitPolled(&request);
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

void MpiDistribution::Barrier() {
  // The ranks arrive at different times: wait without spinning, then leave
  // together (a blocking barrier among ranks that are all there is short).
  MPI_Request request;
  MPI_Ibarrier(comm_, &request);
  WaitPolled(&request);
  MPI_Barrier(comm_);
}

void MpiDistribution::PostProgress(int64_t done, int64_t total) {
  if (rank_ == 0 || done == last_sent_done_) return;
  if (send_request_ != MPI_REQUEST_NULL) {
    int finished = 0;
    MPI_Test(&send_request_, &finished, MPI_STATUS_IGNORE);
    if (!finished) return;  // a later call sends the newer value
  }
  sending_[0] = done;
  sending_[1] = total;
  sending_[2] = 0;
  last_sent_done_ = done;
  MPI_Isend(sending_, 3, MPI_INT64_T, 0, kProgressTag, comm_, &send_request_);
}

void MpiDistribution::ReceiveProgress(const MPI_Status& status) {
  int64_t m[3] = {0, 0, 0};
  MPI_Recv(m, 3, MPI_INT64_T, status.MPI_SOURCE, kProgressTag, comm_, MPI_STATUS_IGNORE);
  heard_done_[status.MPI_SOURCE] = m[0];
  heard_total_[status.MPI_SOURCE] = m[1];
  if (m[2] != 0) heard_final_[status.MPI_SOURCE] = 1;
}

void MpiDistribution::PollProgress(std::vector<int64_t>& done, std::vector<int64_t>& total) {
  if (rank_ != 0) return;
  for (;;) {
    int flag = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, kProgressTag, comm_, &flag, &status);
    if (!flag) break;
    ReceiveProgress(status);
  }
  done.resize(size_);
  total.resize(size_);
  for (int k = 1; k < size_; ++k) {
    if (heard_total_[k] > 0 || heard_final_[k]) {
      done[k] = heard_done_[k];
      total[k] = heard_total_[k];
    }
  }
}

void MpiDistribution::EndProgress(int64_t done, int64_t total, std::vector<int64_t>& all_done,
                                  std::vector<int64_t>& all_total) {
  if (rank_ != 0) {
    // Messages from one rank on one tag arrive in order: the final one is
    // the last rank 0 reads from this rank for this run.
    if (send_request_ != MPI_REQUEST_NULL) WaitPolled(&send_request_);
    sending_[0] = done;
    sending_[1] = total;
    sending_[2] = 1;
    MPI_Isend(sending_, 3, MPI_INT64_T, 0, kProgressTag, comm_, &send_request_);
    WaitPolled(&send_request_);
    last_sent_done_ = -1;
    return;
  }
  for (int k = 1; k < size_; ++k) {
    for (int pause_us = 50; !heard_final_[k]; pause_us = std::min(pause_us * 2, 5000)) {
      int flag = 0;
      MPI_Status status;
      MPI_Iprobe(k, kProgressTag, comm_, &flag, &status);
      if (flag) {
        ReceiveProgress(status);
        pause_us = 25;
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
      }
    }
  }
  all_done = heard_done_;
  all_total = heard_total_;
  all_done[0] = done;
  all_total[0] = total;
  heard_done_.assign(size_, 0);
  heard_total_.assign(size_, 0);
  heard_final_.assign(size_, 0);
}

void MpiDistribution::NotifyFailure() {
  if (!notices_.empty()) return;
  for (int k = 0; k < size_; ++k) {
    if (k == rank_) continue;
    notices_.emplace_back();
    MPI_Isend(&notice_, 1, MPI_INT, k, kFailureTag, comm_, &notices_.back());
  }
}

bool MpiDistribution::PeerFailed() {
  if (!peer_failed_) {
    int flag = 0;
    MPI_Iprobe(MPI_ANY_SOURCE, kFailureTag, comm_, &flag, MPI_STATUS_IGNORE);
    peer_failed_ = flag != 0;
  }
  return peer_failed_;
}

void MpiDistribution::EndFailures() {
  // How many ranks sent notices; this rank receives the others'.
  const int mine = notices_.empty() ? 0 : 1;
  int senders = 0;
  MPI_Request request;
  MPI_Iallreduce(&mine, &senders, 1, MPI_INT, MPI_SUM, comm_, &request);
  WaitPolled(&request);
  for (int n = senders - mine; n > 0; --n) {
    int v = 0;
    MPI_Recv(&v, 1, MPI_INT, MPI_ANY_SOURCE, kFailureTag, comm_, MPI_STATUS_IGNORE);
  }
  for (MPI_Request& r : notices_) WaitPolled(&r);
  notices_.clear();
  peer_failed_ = false;
}

}  // namespace eoscale::mpi
