// Internal: a run across the ranks of a job (graph/distribution.h). The
// engine (execute.cc) plans each group as one process would, keeps this
// rank's share of it (RankShare), runs it, and hands the end of the run to
// FinishDistributed: agreement, reductions folded across ranks in tile
// order, parts committed, uncompressed GeoTIFFs written in place by every
// rank, compressed ones gathered on rank 0 during the run (or joined on rank
// 0 after it), all or nothing.
#ifndef EOSCALE_GRAPH_DISTRIBUTED_RUN_H_
#define EOSCALE_GRAPH_DISTRIBUTED_RUN_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "eoscale/core/raster_io.h"
#include "eoscale/core/tiling.h"
#include "eoscale/graph/distributed_gather.h"
#include "eoscale/graph/distribution.h"
#include "eoscale/graph/graph_state.h"

namespace eoscale::internal {

// One rank's share of a group whose single-process grid `global` is laid
// over `group_region` (image coordinates) and which keeps `keep`.
struct RankShare {
  bool empty = true;  // the rank owns no tile row of this group
  Window part;        // the owned rows of `keep`, image coordinates
  Window region;      // what the rank computes: `part` grown by the margins,
                      // widened to whole rows of `global`
  TileGrid grid;      // the rows of `global` over `region`
  int64_t reduce_begin = 0;  // owned tiles of `grid`, [begin, end)
  int64_t reduce_end = 0;
};

// Rows of `global` meeting `keep` are split into `ranks` contiguous blocks,
// the same for any caller: rank 0 uses it to find every rank's part.
// REQUIRES: node_ids sorted, keep inside group_region.
RankShare ShareOf(const GraphState& g, const std::vector<int>& node_ids, const TileGrid& global,
                  const Window& group_region, const Window& keep, int width, int height, int rank, int ranks);

// An output file of a distributed run.
struct DistributedOutput {
  std::string path;                  // what the user asked for
  bool vrt = false;                  // parts joined by a VRT at `path`
  Profile profile;                   // of the whole output (its kept window)
  SinkLayout layout;
  std::vector<std::string> options;  // creation options
  struct Part {
    Window window;  // in the output's coordinates
    std::string path;
  };
  std::vector<Part> parts;  // every rank's non-empty part, rank order
  // Written by rank 0 from the tiles the ranks send it during the run
  // (distributed_gather.h): no part file.
  bool gathered = false;
};

// Whether `out` is written in place with MPI-IO (the same on every rank): a
// GeoTIFF through GDAL's format, uncompressed (no creation option but
// COMPRESS=NONE and BIGTIFF), blocks of a multiple of 16 pixels (or strips),
// every part whole rows of blocks, a little-endian host.
bool InPlace(const GraphState& g, const Distribution& d, const DistributedOutput& out);

// Where rank `rank` of `ranks` writes its part of `path`: beside it, as
// `out.part-K-of-N.tif` for `out.vrt`, else under a hidden temporary name.
std::string PartPath(const std::string& path, bool vrt, int rank, int ranks);
bool IsVrtPath(const std::string& path);

// Rank 0: the whole output, from the finished and committed parts, as a
// sink ready to Commit (a VRT over them, or one file assembled from them).
absl::StatusOr<std::unique_ptr<RasterSink>> JoinOutput(GraphState& g, const DistributedOutput& out);

// The end of a distributed run on every rank, `local` being how the rank's
// own part went (run, checks, writers finished). Collective. `writers` are
// this rank's sinks (parts, and the gathered outputs' GatherSinks);
// `reduces` the reductions the run folds. `channel` (null when the run has
// none) is ended first; then rank 0 completes the `gathered` files.
absl::Status FinishDistributed(GraphState& g, Distribution& d, absl::Status local,
                               const std::vector<RasterSink*>& writers,
                               const std::vector<DistributedOutput>& outputs, const std::vector<int>& reduces,
                               TileChannel* channel, const std::vector<GatherSink*>& gathered);

}  // namespace eoscale::internal

#endif  // EOSCALE_GRAPH_DISTRIBUTED_RUN_H_
