// Internal: the plan of a run. The needed part of the logical graph is cut
// into groups (one per image size and region); each group has a tile grid
// over its region and a description of the flow graph to build: producers'
// outputs ("images", each carried by one edge to every consumer) and the
// nodes that read them. Nothing here is per tile: tile geometry is computed
// on demand, so planning a 10^6 x 10^6 image costs what planning 10^3 does.
#ifndef EOSCALE_GRAPH_PLAN_H_
#define EOSCALE_GRAPH_PLAN_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "eoscale/core/tiling.h"
#include "eoscale/graph/graph_state.h"

namespace eoscale::internal {

using TileList = absl::InlinedVector<int64_t, 9>;

// The tiles of one group: a TileGrid laid over `region`. Every window here
// is in image coordinates; margins are clamped at the region's border (a region run computes its region as if it were the
// image: see GrowRegion for why its outputs are still exact).
class GroupGrid {
 public:
  GroupGrid(TileGrid grid, Window region);
  int64_t num_tiles() const { return static_cast<int64_t>(grid_.tiles_x()) * grid_.tiles_y(); }
  int tiles_x() const { return grid_.tiles_x(); }
  int tiles_y() const { return grid_.tiles_y(); }
  const TileGrid& grid() const { return grid_; }
  const Window& region() const { return region_; }
  int64_t IndexOf(int row, int col) const { return static_cast<int64_t>(row) * grid_.tiles_x() + col; }
  Window TileWindow(int64_t t) const;
  Tile TileWithMargin(int64_t t, int margin) const;
  // Tile t grown by `grow` (clamped at the region) as the window, with
  // `margin` available around it (clamped likewise): what a Map with that
  // grow and margin computes.
  Tile GrownTile(int64_t t, int grow, int margin) const;
  // Tiles meeting `w` (clipped to the region), raster order.
  void TilesIntersecting(const Window& w, TileList* out) const;

 private:
  // Tile t as window `w` with `margin` available around it, clamped at the
  // region's border.
  Tile Around(int64_t t, const Window& w, int margin) const;
  // The column (row) of the tiles holding x (y), both in region coordinates.
  int ColumnOf(int x) const;
  int RowOf(int y) const;

  TileGrid grid_;
  Window region_;
  // On a uniform grid, the tile size (a division finds a column or row);
  // 0 otherwise (a binary search does).
  int uniform_w_ = 0, uniform_h_ = 0;
};

// An image flowing in a group: output `output` of exec node `producer`.
struct EdgeDesc {
  int consumer;  // exec node
  int input;     // input index of the consumer
  // How far around a tile the consumer reads it: its margin plus its own
  // grow (ExecDesc::grow).
  int margin;
};
struct SlotDesc {
  int producer = -1;
  Profile profile;
  bool from_source = false;
  // Sources: each tile is read grown by this margin. Map outputs: the
  // producer's grow, each tile computed over that much around it. Either
  // way, a tile then covers every consumer's reach and nothing is gathered.
  int read_margin = 0;
  bool WholeTiles() const { return from_source || read_margin > 0; }
  std::vector<EdgeDesc> edges;
};

enum class ExecKind { kSource, kMap, kReduce, kFileSink, kMemorySink };

struct ExecDesc {
  ExecKind kind;
  const Node* node = nullptr;     // sources, maps, reduces
  SinkRequest* sink = nullptr;    // sinks
  std::string name;               // for figures: "ndwi#3", "write out.tif"
  int margin = 0;                 // maps: the filter's margin
  // Maps: each output tile is computed over the tile grown by this much
  // (clamped at the region), so that every consumer reads one tile of it
  // instead of gathering its neighbours: a few pixels computed twice, where
  // gathering kept rows of tiles across the image alive (ChooseGrows).
  int grow = 0;
  // How far around a tile its inputs are read (saturated: a margin is at
  // most the image's larger side, Context::Map).
  int reach() const { return static_cast<int>(std::min<int64_t>(int64_t{margin} + grow, INT32_MAX)); }
  std::vector<int> inputs;        // slot per input
  std::vector<int> outputs;       // slot per output
  std::vector<Profile> input_profiles;
  std::vector<Profile> output_profiles;
  // Sinks: the part of the group's region they keep.
  Window keep;
};

struct GroupPlan {
  std::unique_ptr<GroupGrid> grid;
  // Distributed runs: reductions fold only the tiles [reduce_begin,
  // reduce_end) (this rank's rows; the others are its halo) and keep their
  // partials for the fold across ranks instead of folding them.
  int64_t reduce_begin = 0;
  int64_t reduce_end = INT64_MAX;
  bool keep_partials = false;
  std::vector<ExecDesc> exec;
  std::vector<SlotDesc> slots;

  // Tiles of `slot` that consumer tile t reads with `margin` (a source or a
  // grown Map output: only t, which covers it).
  void InputTiles(int slot, int margin, int64_t t, TileList* out) const;
  // Bytes allocated for a tile of `slot` (sources: grown by the read
  // margin; Map outputs: with their guard).
  int64_t SlotTileBytes(int slot, int64_t t) const;
  // A consumer reading a Map output with a margin gathers the neighbour
  // tiles into one buffer, unless one tile already covers the grown window
  // (the output is grown, or the margin stays inside the tile).
  bool NeedsGather(int slot, int margin, int64_t t) const;
  int64_t GatherBytes(int slot, int margin, int64_t t) const;
};

// What the engine itself holds for each tile buffer in flight, beyond its
// pixels (the buffer object and its shared ownership, the message share,
// oneTBB's task, the waiting consumer tile's entry): counted in the budget
// like pixels, so that tiny tiles cannot flood memory with bookkeeping
// (measured: 1 x 1 tiles of a 512^2 water mask reached 204 MiB of RSS under
// a 48 MiB budget when only pixels were counted).
inline constexpr int64_t kTileOverheadBytes = 1024;

// The guard after a Map output buffer (see map_node.cc): four rows of one
// band, within [64 B, 64 KiB]. Counted in the budget like the pixels.
inline size_t OutputGuardBytes(const Profile& p, const Window& w) {
  const size_t row = static_cast<size_t>(w.width) * PixelSize(p.type);
  return std::min<size_t>(std::max<size_t>(4 * row, 64), 64 << 10);
}

// The largest tile of `tg`: its width and height.
std::pair<int, int> LargestTile(const TileGrid& tg);

// The streaming default tile of a group computing a width x height region:
// ChooseDefaultTile (core/tiling.h) over the blocks of the group's sources
// and its longest chain of margins. REQUIRES: node_ids sorted.
DefaultTile DefaultTileSize(const GraphState& g, const std::vector<int>& node_ids, int width, int height);

// Where the default tiles of a group computing `region` (image coordinates)
// restart their columns, in the region's coordinates: its sources' column
// seams (RasterSource::column_seams) within the region, sorted, when the
// group has no margins (its tiles then read exactly their window, and a
// seam-following grid reads each block once). With margins every tile reads
// past its window into its neighbours' blocks whatever the grid, and a
// non-uniform grid would only cost the outputs their whole-block writes:
// none then. REQUIRES: node_ids sorted.
std::vector<int> ColumnSeams(const GraphState& g, const std::vector<int>& node_ids, const Window& region);
// The same for rows (RasterSource::row_seams: only sources that decode
// whole blocks have any).
std::vector<int> RowSeams(const GraphState& g, const std::vector<int>& node_ids, const Window& region);

// The row seams a group's default grid follows, if following them is worth
// what it holds: each file output (of `sinks`) then keeps the blocks a row
// of tiles cuts until the next row has filled them (GeoTiffSink's assembly,
// SinkLayout::assemble_rows): one row of blocks `tile.height` high across
// the output, every band, `*assembly_bytes` in all, which must be at most
// `limit` (the engine gives half the budget's I/O share). And the grid's
// rows are no longer uniform, so its cost model replays every tile
// (CostModel): at most kMaxRowSeamedTiles of them. Empty (and
// *assembly_bytes 0) otherwise.
inline constexpr int64_t kMaxRowSeamedTiles = int64_t{1} << 16;
std::vector<int> FollowedRowSeams(const GraphState& g, const std::vector<int>& node_ids, const Window& region,
                                  const std::vector<SinkRequest*>& sinks, const DefaultTile& tile, int64_t limit,
                                  int64_t* assembly_bytes);

// The region a group must compute so that `keep` (image coordinates) is
// exact: grown by the longest chain of margins between the sinks and the
// sources, clamped to the image. Values within that distance of the grown
// region's border (and not the image's) may differ from a whole-image run,
// but none of them reaches `keep`.
Window GrowRegion(const GraphState& g, const std::vector<int>& node_ids, const Window& keep,
                  int width, int height);

// Builds the exec description of a group. REQUIRES: node_ids sorted.
// REQUIRES: plan->grid set. `grow_tiles`: ContextOptions::grow_tiles.
void BuildGroupPlan(const GraphState& g, const std::vector<int>& node_ids,
                    const std::vector<SinkRequest*>& sinks, bool grow_tiles, GroupPlan* plan);

}  // namespace eoscale::internal

#endif  // EOSCALE_GRAPH_PLAN_H_
