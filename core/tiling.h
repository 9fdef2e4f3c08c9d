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
  // the streaming default (a few hundred pixels, aligned to the input blocks).
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

  // A grid of `size` x `size` tiles (the last row and column may be smaller).
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

// The grid for an image under `options`. `workers` drives EOScale's
// one-tile-per-worker sizing; `default_size` is the streaming tile side.
// Errors: non-positive sizes, zero workers, negative tile sizes.
absl::StatusOr<TileGrid> MakeTileGrid(int width, int height, const TilingOptions& options,
                                      int workers, int default_size);

// Every tile of the grid with its clamped margins, in raster order (the
// output of EOScale's compute_mp_tiles / compute_mp_strips).
std::vector<Tile> TilesWithMargin(const TileGrid& grid, int margin);

}  // namespace eoscale

#endif  // EOSCALE_CORE_TILING_H_
