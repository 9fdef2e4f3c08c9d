// Windows, tiles with margins, and the tiling of an image into a grid.
#ifndef EOSCALE_CORE_TILING_H_
#define EOSCALE_CORE_TILING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace eoscale {

// A rectangle of pixels: [x, x + width) x [y, y + height).
struct Window {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;

  int64_t Pixels() const { return static_cast<int64_t>(width) * height; }
  bool Empty() const { return width <= 0 || height <= 0; }
  bool Contains(const Window& o) const {
    return o.x >= x && o.y >= y && o.x + o.width <= x + width && o.y + o.height <= y + height;
  }
  friend bool operator==(const Window&, const Window&) = default;
};

std::string DescribeWindow(const Window& w);  // "x=0 y=256 w=256 h=256"

// A stable window plus the margin actually available on each side. As in
// EOScale's compute_mp_tiles, a margin is clamped at the image border: a tile
// touching the left edge has left == 0 whatever the requested margin.
struct Tile {
  int index = 0;  // position in the grid, raster order
  Window window;  // the stable window: the pixels a filter produces
  int top = 0;
  int right = 0;
  int bottom = 0;
  int left = 0;

  // The stable window grown by the margins: the pixels a filter reads.
  Window Expanded() const {
    return {window.x - left, window.y - top, window.width + left + right,
            window.height + top + bottom};
  }
  friend bool operator==(const Tile&, const Tile&) = default;
};

enum class TileMode { kTiles, kStrips };

struct TilingOptions {
  TileMode mode = TileMode::kTiles;
  // Explicit size: the side of square tiles, or the rows of a strip. 0 picks
  // the streaming default (a few hundred pixels a side, a whole number of
  // the inputs' blocks, grown for long chains of margins: ChooseDefaultTile).
  int tile_size = 0;
  // EOScale's sizing: one tile per worker (square tiles of
  // int(sqrt(width * height / workers)) pixels, or `workers` strips of
  // height / workers rows, the last taking the remainder). Ignored when
  // tile_size is set.
  bool one_tile_per_worker = false;
  // EOScale's tile_max_size (0 = unset), used with one_tile_per_worker as
  // EOScale does: for tiles, a cap on the one-tile-per-worker side; for
  // strips, the strip height (compute_mp_strips: `workers` strips of
  // tile_max_size rows, the last one running to the bottom of the image).
  int tile_max_size = 0;
};

// The partition of a width x height image into tiles: column and row
// boundaries. Tiles cover the image exactly once.
class TileGrid {
 public:
  TileGrid() = default;
  // REQUIRES: xs and ys strictly increasing, xs.front() == ys.front() == 0,
  // xs.back() == width, ys.back() == height.
  TileGrid(std::vector<int> xs, std::vector<int> ys);

  // A grid of tile_width x tile_height tiles (the last row and column may be
  // smaller).
  static TileGrid Uniform(int width, int height, int tile_width, int tile_height);

  int width() const { return xs_.empty() ? 0 : xs_.back(); }
  int height() const { return ys_.empty() ? 0 : ys_.back(); }
  int tiles_x() const { return static_cast<int>(xs_.size()) - 1; }
  int tiles_y() const { return static_cast<int>(ys_.size()) - 1; }
  int num_tiles() const { return tiles_x() * tiles_y(); }
  const std::vector<int>& xs() const { return xs_; }
  const std::vector<int>& ys() const { return ys_; }

  Window TileWindow(int index) const;
  // The tile with its margins clamped at the image border.
  Tile TileWithMargin(int index, int margin) const;
  // Appends to `out` the indices (raster order) of the tiles that intersect
  // `w` clipped to the image.
  void TilesIntersecting(const Window& w, std::vector<int>* out) const;
  // True when every tile except the last row/column is tw x th.
  bool IsUniform(int* tile_width, int* tile_height) const;

 private:
  std::vector<int> xs_;
  std::vector<int> ys_;
};

// The storage block of an input (RasterSource::block_width/height).
struct BlockSize {
  int width = 0;
  int height = 0;
  friend bool operator==(const BlockSize&, const BlockSize&) = default;
};

// The streaming default tile: what TilingOptions::tile_size == 0 means.
struct DefaultTile {
  int width = 256;
  int height = 256;
  // Streaming strips (TileMode::kStrips, no tile_size) take a multiple of
  // this many rows: the rows of the inputs' blocks.
  int row_step = 1;
  friend bool operator==(const DefaultTile&, const DefaultTile&) = default;
};

// Bounds of the default tile: a side is at least kMinDefaultTileSide and at
// most kMaxDefaultTileSide pixels, unless an input's block forces it (one
// block, or a full-width strip, is the least a tile can read without
// decoding that block again for the next tile).
inline constexpr int kMinDefaultTileSide = 256;
inline constexpr int kMaxDefaultTileSide = 2048;

// The alignment unit of inputs stored in `blocks`, for an image of
// width x height: a tile whose sides are multiples of it (or the whole
// extent, where the unit reaches it) holds whole blocks of every input it
// honours, so that no such block is decoded twice. It is the lcm of the
// block widths and of the block heights (each clipped to the image). When
// that lcm would make one unit bigger than kMaxDefaultTileSide a side (or
// than kMaxDefaultTileSide^2 pixels), the largest blocks are honoured first
// (the costliest to decode: a JPEG 2000 band's 1024^2 before a GeoTIFF's
// 256^2) and a block that does not fit is left out. Blocks with a
// non-positive side are ignored; {1, 1} when none is left.
BlockSize AlignmentOf(const std::vector<BlockSize>& blocks, int width, int height);

// The streaming default tile for a width x height image whose inputs are
// stored in `blocks`, read through chains of margins of at most `margin`
// pixels (the sum of the margins along the longest chain of filters):
//   - its sides are multiples of AlignmentOf(blocks) (or the whole extent);
//   - about kMinDefaultTileSide^2 pixels, or t^2 with t = 4 * margin (up to
//     kMaxDefaultTileSide) when that is larger: a tile of side s reads
//     (s + 2 margin)^2 pixels, at most 2.25 times its own once s >= 4 margin
//     (8 * margin was measured slower: EOScale's pipeline, margin 101 on a
//     3500^2 DSM, ran 25 % slower in 1024^2 tiles than in 512^2 ones);
//   - where the unit forces one side (full-width strips of a strip-organised
//     GeoTIFF, 1024-wide blocks), the other keeps the tile near that pixel
//     count, and stays at least 4 * margin unless it is the whole extent.
DefaultTile ChooseDefaultTile(int width, int height, const std::vector<BlockSize>& blocks, int margin);

// The column boundaries of tiles `step` wide over [0, width), restarting at
// each of `seams` (sorted; those outside (0, width) are ignored): from each
// seam, or from 0, the columns go on by `step` up to the next seam. A piece
// left before a seam narrower than step / 2 joins the tile before it (a
// tile is then at most 1.5 step wide), unless it is the segment's only one.
std::vector<int> SeamedBoundaries(int width, int step, const std::vector<int>& seams);

// The grid for an image under `options`. `workers` drives EOScale's
// one-tile-per-worker sizing; `default_tile` is the streaming tile (used
// when options.tile_size is 0 and one_tile_per_worker is false), whose
// columns restart at `column_seams` and rows at `row_seams` (where the
// inputs' blocks restart, RasterSource::column_seams and row_seams in the
// grid's coordinates; SeamedBoundaries).
// Errors: non-positive sizes, zero workers, negative tile sizes.
absl::StatusOr<TileGrid> MakeTileGrid(int width, int height, const TilingOptions& options,
                                      int workers, const DefaultTile& default_tile,
                                      const std::vector<int>& column_seams = {},
                                      const std::vector<int>& row_seams = {});
// The same with a square default tile of `default_size` (256 when not
// positive) and no row alignment.
absl::StatusOr<TileGrid> MakeTileGrid(int width, int height, const TilingOptions& options,
                                      int workers, int default_size);

// Every tile of the grid with its clamped margins, in raster order (the
// output of EOScale's compute_mp_tiles / compute_mp_strips).
std::vector<Tile> TilesWithMargin(const TileGrid& grid, int margin);

}  // namespace eoscale

#endif  // EOSCALE_CORE_TILING_H_
