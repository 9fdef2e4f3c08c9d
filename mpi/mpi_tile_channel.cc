// Tiles of outputs sent to rank 0 during a run (TileChannel,
// graph/distribution.h; docs/distributed.md, "Outputs"), over MPI.
//
// A message is a header of 8 int32 (output, x, y, width, height, bands,
// pixel type, 0) and the tile's pixels, contiguous and band-sequential; an
// output of -1 is a rank's last message ("done"). Ranks > 0 send with
// MPI_Issend, at most kWindow messages not yet received by rank 0 (a
// synchronous send completes once rank 0 has started receiving it): a
// sender holds at most kWindow copies of tiles, and rank 0 receives one
// message at a time (plus, for messages small enough to travel eagerly, at
// most kWindow per rank buffered by MPI). Rank 0 receives on a thread of
// its own, polling with sleeps: it never waits for rank 0's workers or the
// thread that called Run(), so a sender blocked on its window never waits
// on anything but rank 0's writes. Requires MPI_THREAD_MULTIPLE.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eoscale/mpi/mpi_distribution.h"
#include "eoscale/mpi/mpi_wait.h"

namespace eoscale::mpi {
namespace {

constexpr int kTileTag = 4218;  // on the distribution's tiles communicator
constexpr int kHeaderInts = 8;  // 32 bytes: the pixels stay 16-byte aligned
constexpr size_t kHeaderBytes = kHeaderInts * sizeof(int32_t);
constexpr size_t kWindow = 2;   // a sender's messages not yet received

class MpiTileChannel final : public TileChannel {
 public:
  MpiTileChannel(MPI_Comm comm, int rank, int size) : comm_(comm), rank_(rank), size_(size) {}
  ~MpiTileChannel() override {
    // The engine always Ends a channel; this only keeps a thread from
    // outliving it (End on rank 0 may wait for the other ranks).
    if (!ended_) (void)End();
  }

  void Start(WriteFn write) override {
    if (rank_ != 0 || receiver_.joinable() || ended_) return;
    write_ = std::move(write);
    receiver_ = std::thread([this] { Receive(); });
  }

  absl::Status Send(int output, const ConstView& tile) override {
    if (rank_ == 0) return absl::InternalError("rank 0 does not send tiles to itself");
    std::lock_guard<std::mutex> lock(mu_);
    while (in_flight_.size() >= kWindow) {
      internal::WaitPolled(&in_flight_.front().request);
      in_flight_.pop_front();
    }
    const Window& w = tile.window();
    const size_t px = PixelSize(tile.type());
    const size_t row = static_cast<size_t>(w.width) * px;
    const size_t bytes = kHeaderBytes + row * w.height * tile.bands();
    if (bytes > static_cast<size_t>(INT32_MAX)) {
      return absl::InvalidArgumentError(absl::StrCat("a tile of ", bytes, " bytes cannot be sent to rank 0"));
    }
    Message& m = in_flight_.emplace_back();
    m.bytes.resize(bytes);
    const int32_t header[kHeaderInts] = {output, w.x, w.y, w.width, w.height, tile.bands(),
                                         static_cast<int32_t>(tile.type()), 0};
    std::memcpy(m.bytes.data(), header, kHeaderBytes);
    std::byte* out = m.bytes.data() + kHeaderBytes;
    for (int b = 0; b < tile.bands(); ++b) {
      for (int y = 0; y < w.height; ++y, out += row) std::memcpy(out, tile.RowPtr(b, y), row);
    }
    MPI_Issend(m.bytes.data(), static_cast<int>(bytes), MPI_BYTE, 0, kTileTag, comm_, &m.request);
    return absl::OkStatus();
  }

  int max_held_tiles() const override { return static_cast<int>(kWindow); }

  absl::Status End() override {
    if (ended_) return status_;
    ended_ = true;
    if (rank_ != 0) {
      std::lock_guard<std::mutex> lock(mu_);
      for (Message& m : in_flight_) internal::WaitPolled(&m.request);
      in_flight_.clear();
      int32_t done[kHeaderInts] = {-1, 0, 0, 0, 0, 0, 0, 0};
      MPI_Request request;
      MPI_Issend(done, static_cast<int>(kHeaderBytes), MPI_BYTE, 0, kTileTag, comm_, &request);
      internal::WaitPolled(&request);
      return absl::OkStatus();
    }
    if (receiver_.joinable()) {
      receiver_.join();
    } else {
      Receive();  // never started: drop what comes
    }
    return status_;
  }

 private:
  struct Message {
    std::vector<std::byte> bytes;
    MPI_Request request = MPI_REQUEST_NULL;
  };

  // Rank 0: receives until every other rank is done.
  void Receive() {
    std::vector<std::byte> buf;
    int done = 0;
    int pause_us = 20;
    while (done < size_ - 1) {
      int flag = 0;
      MPI_Status status;
      MPI_Iprobe(MPI_ANY_SOURCE, kTileTag, comm_, &flag, &status);
      if (!flag) {
        std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
        pause_us = std::min(pause_us * 2, 1000);
        continue;
      }
      pause_us = 20;
      int n = 0;
      MPI_Get_count(&status, MPI_BYTE, &n);
      // Only this thread receives on this communicator: the probed message
      // is the one received.
      buf.resize(static_cast<size_t>(std::max(n, 0)));
      MPI_Recv(buf.data(), n, MPI_BYTE, status.MPI_SOURCE, kTileTag, comm_, MPI_STATUS_IGNORE);
      int32_t h[kHeaderInts] = {};
      if (static_cast<size_t>(n) < kHeaderBytes) {
        Fail(status.MPI_SOURCE, absl::DataLossError("a tile message without its header"));
        continue;
      }
      std::memcpy(h, buf.data(), kHeaderBytes);
      if (h[0] < 0) {
        ++done;
        continue;
      }
      if (!status_.ok() || !write_) continue;  // dropped
      const auto type = static_cast<PixelType>(h[6]);
      const Window w{h[1], h[2], h[3], h[4]};
      if (h[3] <= 0 || h[4] <= 0 || h[5] <= 0 ||
          static_cast<size_t>(n) != kHeaderBytes + static_cast<size_t>(w.Pixels()) * h[5] * PixelSize(type)) {
        Fail(status.MPI_SOURCE, absl::DataLossError("a tile message of the wrong size"));
        continue;
      }
      absl::Status st;
      try {
        st = write_(h[0], ConstView::Contiguous(buf.data() + kHeaderBytes, type, h[5], w));
      } catch (const std::exception& ex) {
        st = absl::InternalError(absl::StrCat("threw an exception: ", ex.what()));
      }
      if (!st.ok()) Fail(status.MPI_SOURCE, st);
    }
  }

  void Fail(int from, const absl::Status& st) {
    if (!status_.ok()) return;
    status_ = absl::Status(st.code(), absl::StrCat("writing a tile from rank ", from, ": ", st.message()));
  }

  MPI_Comm comm_;
  const int rank_, size_;
  std::mutex mu_;                   // senders: Send and End take turns
  std::deque<Message> in_flight_;   // senders: the window
  WriteFn write_;                   // rank 0
  std::thread receiver_;            // rank 0
  absl::Status status_;             // rank 0: the receiver's first error
  bool ended_ = false;
};

}  // namespace

std::unique_ptr<TileChannel> MpiDistribution::OpenTileChannel() {
  if (!thread_multiple_) return nullptr;
  return std::make_unique<MpiTileChannel>(tiles_comm_, rank_, size_);
}

}  // namespace eoscale::mpi
