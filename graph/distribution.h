// Distribution: what a Context needs from a job of several processes
// ("ranks") to run one graph across them. The engine uses it when
// ContextOptions::distribution is set; the MPI implementation is
// eoscale::mpi::MpiDistribution (mpi/, built with EOSCALE_WITH_MPI), and
// this header does not include mpi.h.
//
// A distributed run (docs/distributed.md):
//   - every rank builds the same graph and calls Run() (or Reduction::Get())
//     in the same order: they are collective;
//   - the tile grid is the one a single process would use; each rank owns a
//     contiguous block of tile rows of every output and computes it by a
//     region run grown by the graph's margins (the halo is recomputed);
//   - reductions are folded in tile order across ranks: the value is
//     bitwise the one a single process folds;
//   - `out.vrt` is written as one GeoTIFF per rank beside it
//     (`out.part-K-of-N.tif`) joined by the VRT; an uncompressed `.tif` is
//     laid out by rank 0 and written in place by every rank
//     (WriteTiffInPlace); any other name (a compressed .tif) is one file
//     that rank 0 writes from the tiles the ranks send it during the run
//     (TileChannel), or, when the Distribution cannot, assembles from the
//     ranks' hidden parts after it;
//   - all outputs or none across ranks: if one rank fails, every rank's
//     Run() returns that rank's error and nothing is left under the names.
// ReadAll is not distributed: every rank computes the whole window.
//
// Thread safety: the engine calls a Distribution from the thread that called
// Run(), never from worker threads, except TileChannel::Send (worker
// threads) and the channel's own receiving thread on rank 0.
#ifndef EOSCALE_GRAPH_DISTRIBUTION_H_
#define EOSCALE_GRAPH_DISTRIBUTION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "eoscale/core/profile.h"
#include "eoscale/core/tiling.h"
#include "eoscale/core/view.h"

namespace eoscale {

// An uncompressed tiled GeoTIFF written in place by every rank
// (Distribution::WriteTiffInPlace): rank 0 laid it out under `temp_path`
// (GDAL allocated every block); each rank copies the blocks of its rows
// from its part.
struct InPlaceTiff {
  std::string temp_path;   // rank 0's: the file laid out (other ranks: ignored)
  Profile profile;         // of the whole output
  int block_width = 0;     // its blocks (bands interleaved by band)
  int block_height = 0;
  std::string part_path;   // this rank's part (a GeoTIFF), empty when it has none
  Window part_window;      // the part's place in the output: whole rows of blocks
  bool durable = true;     // WriteOptions::durable: sync the blocks written to the disk
};

// Tiles of outputs sent to rank 0 during a run, which writes them into the
// one file of each output (a compressed GeoTIFF: docs/distributed.md). One
// channel per run, opened by every rank at the same point of the run.
// Ranks > 0 Send; rank 0 Starts receiving on a thread of the channel's own;
// every rank Ends it exactly once, from the thread that called Run(), before
// any agreement of the run (End needs no other call of rank 0's to finish:
// its receiving thread, or End itself, drains every rank's tiles).
class TileChannel {
 public:
  virtual ~TileChannel() = default;
  // Rank 0, at most once, before End: `write(output, tile)` is called from
  // the channel's thread for every tile another rank sends (the tile's
  // window in the output's coordinates, its pixels contiguous). Its first
  // error is End's; the tiles that follow are dropped. Without Start, End
  // receives and drops every tile.
  using WriteFn = std::function<absl::Status(int output, const ConstView& tile)>;
  virtual void Start(WriteFn write) = 0;
  // Ranks > 0, any thread (calls are serialised): sends a copy of `tile`
  // of `output` to rank 0. Blocks while a few tiles of this rank are not
  // yet received by rank 0 (bounded memory on both sides).
  virtual absl::Status Send(int output, const ConstView& tile) = 0;
  // Ranks > 0: waits until rank 0 received this rank's tiles, then tells it
  // this rank is done. Rank 0: waits until every rank is done; returns the
  // first error of `write` (naming the sending rank), else OK.
  virtual absl::Status End() = 0;
  // The most copies of tiles the channel holds on this rank at once (a
  // sender's messages not yet received; rank 0's receive buffer): the run
  // keeps that many of its largest gathered tile out of the tile budget.
  virtual int max_held_tiles() const = 0;
};

// Every method but rank() and size() is collective or point to point, and
// must be called by the ranks in the same order. A communication failure is
// fatal to the job (it must not leave ranks waiting forever).
class Distribution {
 public:
  virtual ~Distribution() = default;
  virtual int rank() const = 0;  // 0 .. size() - 1
  virtual int size() const = 0;  // >= 1
  // Collective: OK on every rank when `local` is OK on every rank; else, on
  // every rank, the error of the lowest failing rank, its message prefixed
  // with "rank K of N: ".
  virtual absl::Status Agree(const absl::Status& local) = 0;
  // Collective: the element-wise sum over the ranks.
  virtual std::vector<int64_t> SumAll(const std::vector<int64_t>& values) = 0;
  // Collective: rank `root`'s `bytes`, on every rank.
  virtual std::string Broadcast(int root, const std::string& bytes) = 0;
  // Point to point (blocking): Send to rank `to`, Receive from rank `from`.
  virtual void Send(int to, const std::string& bytes) = 0;
  virtual std::string Receive(int from) = 0;
  // Collective: returns on every rank at about the same instant (a run's
  // clocks start there: traces of the ranks line up).
  virtual void Barrier() = 0;

  // A run's progress, gathered on rank 0 without a collective per tile.
  // Ranks > 0: PostProgress sends `done` of `total` tile tasks to rank 0
  // without blocking (one message in flight; a value posted meanwhile is
  // sent by a later call). Rank 0: PollProgress reads what arrived, the
  // latest (done, total) of each rank into `done` and `total` (size()
  // entries; a rank not heard from keeps its entries). Every rank ends a
  // run's messages with EndProgress (collective), which returns on rank 0
  // every rank's final (done, total), rank 0's own being those given.
  virtual void PostProgress(int64_t done, int64_t total) = 0;
  virtual void PollProgress(std::vector<int64_t>& done, std::vector<int64_t>& total) = 0;
  virtual void EndProgress(int64_t done, int64_t total, std::vector<int64_t>& all_done,
                           std::vector<int64_t>& all_total) = 0;

  // Early cancellation. A rank whose run failed on its own tells the others
  // without blocking (NotifyFailure); PeerFailed says, without blocking and
  // for good once true, whether another rank did (the engine checks it after
  // each tile task the Run() thread runs, and cancels the run); every rank
  // ends a run's notices with EndFailures (collective).
  virtual void NotifyFailure() = 0;
  virtual bool PeerFailed() = 0;
  virtual void EndFailures() = 0;

  // Whether OpenTileChannel works (the same on every rank; MPI: the library
  // was initialised with MPI_THREAD_MULTIPLE, since tiles are sent from the
  // engine's worker threads and received on a thread of rank 0's).
  virtual bool CanGatherTiles() const { return false; }
  // Every rank at the same point of a run: a channel to rank 0 (null when
  // CanGatherTiles() is false).
  virtual std::unique_ptr<TileChannel> OpenTileChannel() { return nullptr; }

  // Whether WriteTiffInPlace is implemented (the same on every rank).
  virtual bool CanWriteTiffInPlace() const { return false; }
  // Collective: rank 0 reads the block offsets of `t.temp_path` (its
  // `prepared` says whether laying it out went well), every rank writes the
  // blocks of its part at their offsets. The agreed status, on every rank
  // (as Agree); on failure the file's content is undefined.
  virtual absl::Status WriteTiffInPlace(const absl::Status& prepared, const InPlaceTiff& t) {
    (void)prepared;
    (void)t;
    return absl::UnimplementedError("this Distribution cannot write a GeoTIFF in place");
  }
};

}  // namespace eoscale

#endif  // EOSCALE_GRAPH_DISTRIBUTION_H_
