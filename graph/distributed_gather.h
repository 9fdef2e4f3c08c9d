// Internal: an output written by rank 0 from the tiles every rank computes
// (distribution.h, TileChannel; docs/distributed.md, "Outputs"). Each rank's
// sink node writes its tiles into a GatherSink: on rank 0 into the output's
// one file, on the others through the channel to rank 0, whose channel
// thread writes them into the same file (GatherSink::WriteReceived). No
// part file is written.
#ifndef EOSCALE_GRAPH_DISTRIBUTED_GATHER_H_
#define EOSCALE_GRAPH_DISTRIBUTED_GATHER_H_

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "eoscale/core/raster_io.h"
#include "eoscale/graph/distribution.h"

namespace eoscale::internal {

class GatherSink final : public RasterSink {
 public:
  // Rank 0: `whole` is the output's sink. Other ranks: `channel` sends the
  // tiles of output number `output`. `offset` is this rank's part's corner
  // in the output (the sink node writes in the part's coordinates).
  GatherSink(std::string path, int output, Window offset, std::unique_ptr<RasterSink> whole, TileChannel* channel);

  // The sink node's tiles (one at a time), in the part's coordinates.
  absl::Status Write(const ConstView& src) override;
  // Rank 0, the channel's thread: a tile of another rank, in the output's
  // coordinates (concurrent with Write: the two take turns).
  absl::Status WriteReceived(const ConstView& src);
  // Nothing: the file is finished by Complete, once the channel ended.
  absl::Status Finish() override { return absl::OkStatus(); }
  // Rank 0, after TileChannel::End: finishes the whole file.
  absl::Status Complete();
  absl::Status Commit() override;
  void Rollback() override;
  void Cleanup() override;
  void Sync() override;
  // Drops the file (rank 0); tiles received afterwards are dropped.
  void Abort() override;
  const std::string& path() const override { return path_; }
  std::string target() const override { return whole_ != nullptr ? whole_->target() : std::string(); }

 private:
  const std::string path_;
  const int output_;
  const Window offset_;
  std::unique_ptr<RasterSink> whole_;  // rank 0
  TileChannel* channel_;               // other ranks
  std::mutex mu_;                      // rank 0: Write, WriteReceived and Abort take turns
  bool aborted_ = false;
};

}  // namespace eoscale::internal

#endif  // EOSCALE_GRAPH_DISTRIBUTED_GATHER_H_
