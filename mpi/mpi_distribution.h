// eoscale::mpi: runs a Context across the ranks of an MPI job (built with
// EOSCALE_WITH_MPI; docs/distributed.md).
//
//   MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);  // the host's
//   auto d = eoscale::mpi::MpiDistribution::Create(MPI_COMM_WORLD);
//   auto ctx = eoscale::Context::Create({.workers = 2, .distribution = *d});
//   ... build the same graph on every rank; Run() on every rank ...
//
// The library never initialises or finalises MPI: the host does (or uses
// mpi::Session, mpi/session.h, which asks for MPI_THREAD_MULTIPLE). With
// MPI_THREAD_MULTIPLE, the ranks send the tiles of compressed GeoTIFF
// outputs to rank 0 during the run, from the engine's worker threads
// (OpenTileChannel). With MPI_THREAD_FUNNELED (or SERIALIZED when the host's
// threads take turns) the engine calls MPI only from the thread that calls
// Run() or Reduction::Get(), and rank 0 assembles those outputs from the
// ranks' parts after the run instead.
#ifndef EOSCALE_MPI_MPI_DISTRIBUTION_H_
#define EOSCALE_MPI_MPI_DISTRIBUTION_H_

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "eoscale/graph/distribution.h"

namespace eoscale::mpi {

class MpiDistribution final : public Distribution {
 public:
  // Collective over `comm`: duplicates it (the engine's messages never meet
  // the host's). Errors: MPI not initialised (or already finalised).
  static absl::StatusOr<std::shared_ptr<MpiDistribution>> Create(MPI_Comm comm);
  // Frees the duplicate, unless MPI was finalised before.
  ~MpiDistribution() override;
  MpiDistribution(const MpiDistribution&) = delete;
  MpiDistribution& operator=(const MpiDistribution&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  absl::Status Agree(const absl::Status& local) override;
  std::vector<int64_t> SumAll(const std::vector<int64_t>& values) override;
  std::string Broadcast(int root, const std::string& bytes) override;
  void Send(int to, const std::string& bytes) override;
  std::string Receive(int from) override;
  void Barrier() override;
  void PostProgress(int64_t done, int64_t total) override;
  void PollProgress(std::vector<int64_t>& done, std::vector<int64_t>& total) override;
  void EndProgress(int64_t done, int64_t total, std::vector<int64_t>& all_done,
                   std::vector<int64_t>& all_total) override;
  void NotifyFailure() override;
  bool PeerFailed() override;
  void EndFailures() override;
  // mpi_tiff.cc: GDAL reads the layout, MPI_File_write_at writes the blocks.
  bool CanWriteTiffInPlace() const override { return true; }
  // mpi_tile_channel.cc: under MPI_THREAD_MULTIPLE on every rank.
  bool CanGatherTiles() const override { return thread_multiple_; }
  std::unique_ptr<TileChannel> OpenTileChannel() override;
  absl::Status WriteTiffInPlace(const absl::Status& prepared, const InPlaceTiff& t) override;

 private:
  explicit MpiDistribution(MPI_Comm comm);
  // Progress messages: {done, total, final} on a tag of their own.
  void ReceiveProgress(const MPI_Status& status);
  MPI_Comm comm_;
  MPI_Comm tiles_comm_;  // OpenTileChannel's messages
  bool thread_multiple_ = false;
  int rank_ = 0;
  int size_ = 1;
  int64_t sending_[3] = {0, 0, 0};  // the message in flight (ranks > 0)
  MPI_Request send_request_ = MPI_REQUEST_NULL;
  int64_t last_sent_done_ = -1;
  std::vector<int64_t> heard_done_, heard_total_;  // rank 0: latest from each rank
  std::vector<char> heard_final_;                  // rank 0: the rank ended its run's messages
  int notice_ = 1;                                 // sent by NotifyFailure
  std::vector<MPI_Request> notices_;               // NotifyFailure's sends in flight
  bool peer_failed_ = false;
};

namespace internal {
// For tests only: rank `rank`'s MPI_File_open of an in-place GeoTIFF fails
// (MPI_ERR_ACCESS, "(injected)" in the message); -1, the default, turns it
// off. Only this process's calls.
void FailFileOpenOnRankForTesting(int rank);
int FailFileOpenRank();
}  // namespace internal

}  // namespace eoscale::mpi

#endif  // EOSCALE_MPI_MPI_DISTRIBUTION_H_
