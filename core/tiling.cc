#include "eoscale/core/tiling.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace eoscale {
namespace {

std::vector<int> Boundaries(int total, int step) {
  std::vector<int> b;
  for (int64_t v = 0; v < total; v += step) b.push_back(static_cast<int>(v));
  b.push_back(total);
  return b;
}

// Index of the interval [b[i], b[i+1]) holding v. REQUIRES 0 <= v < b.back().
int IntervalOf(const std::vector<int>& b, int v) {
  return static_cast<int>(std::upper_bound(b.begin(), b.end(), v) - b.begin()) - 1;
}

}  // namespace

std::string DescribeWindow(const Window& w) {
  return absl::StrCat("x=", w.x, " y=", w.y, " w=", w.width, " h=", w.height);
}

TileGrid::TileGrid(std::vector<int> xs, std::vector<int> ys) : xs_(std::move(xs)), ys_(std::move(ys)) {}

TileGrid TileGrid::Uniform(int width, int height, int tile_width, int tile_height) {
  return TileGrid(Boundaries(width, tile_width), Boundaries(height, tile_height));
}

Window TileGrid::TileWindow(int index) const {
  const int tx = index % tiles_x();
  const int ty = index / tiles_x();
  return {xs_[tx], ys_[ty], xs_[tx + 1] - xs_[tx], ys_[ty + 1] - ys_[ty]};
}

Tile TileGrid::TileWithMargin(int index, int margin) const {
  Tile t;
  t.index = index;
  t.window = TileWindow(index);
  const Window& w = t.window;
  // EOScale: margin if it stays inside the image, else what is left to the border.
  t.top = int64_t{w.y} - margin >= 0 ? margin : w.y;
  t.left = int64_t{w.x} - margin >= 0 ? margin : w.x;
  const int end_y = w.y + w.height - 1;
  const int end_x = w.x + w.width - 1;
  t.bottom = int64_t{end_y} + margin <= height() - 1 ? margin : height() - 1 - end_y;
  t.right = int64_t{end_x} + margin <= width() - 1 ? margin : width() - 1 - end_x;
  return t;
}

void TileGrid::TilesIntersecting(const Window& win, std::vector<int>* out) const {
  const int x0 = std::max(win.x, 0);
  const int y0 = std::max(win.y, 0);
  const int x1 = std::min(win.x + win.width, width());
  const int y1 = std::min(win.y + win.height, height());
  if (x0 >= x1 || y0 >= y1) return;
  const int tx0 = IntervalOf(xs_, x0), tx1 = IntervalOf(xs_, x1 - 1);
  const int ty0 = IntervalOf(ys_, y0), ty1 = IntervalOf(ys_, y1 - 1);
  for (int ty = ty0; ty <= ty1; ++ty) {
    for (int tx = tx0; tx <= tx1; ++tx) out->push_back(ty * tiles_x() + tx);
  }
}

bool TileGrid::IsUniform(int* tile_width, int* tile_height) const {
  const int tw = xs_[1] - xs_[0];
  const int th = ys_[1] - ys_[0];
  for (size_t i = 1; i + 1 < xs_.size(); ++i) {
    if (xs_[i] != static_cast<int>(i) * tw) return false;
  }
  for (size_t i = 1; i + 1 < ys_.size(); ++i) {
    if (ys_[i] != static_cast<int>(i) * th) return false;
  }
  *tile_width = tw;
  *tile_height = th;
  return true;
}

absl::StatusOr<TileGrid> MakeTileGrid(int width, int height, const TilingOptions& options,
                                      int workers, int default_size) {
  if (width <= 0 || height <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot tile an image of ", width, "x", height));
  }
  if (workers <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("workers must be at least 1, got ", workers));
  }
  if (options.tile_size < 0 || options.tile_max_size < 0) {
    return absl::InvalidArgumentError("tile_size and tile_max_size must not be negative");
  }
  if (default_size <= 0) default_size = 256;
  auto checked = [&](TileGrid g) -> absl::StatusOr<TileGrid> {
    if (static_cast<int64_t>(g.tiles_x()) * g.tiles_y() > std::numeric_limits<int>::max()) {
      return absl::InvalidArgumentError(absl::StrCat("tiling a ", width, "x", height,
                                                     " image this way gives too many tiles"));
    }
    return g;
  };
  if (options.mode == TileMode::kTiles) {
    int size = options.tile_size;
    if (size == 0 && options.one_tile_per_worker) {
      const int64_t per_worker = static_cast<int64_t>(width) * height / workers;
      size = static_cast<int>(std::sqrt(static_cast<double>(per_worker)));
      if (options.tile_max_size > 0) size = std::min(size, options.tile_max_size);
    }
    if (size == 0) size = default_size;
    size = std::max(size, 1);
    return checked(TileGrid::Uniform(width, height, size, size));
  }
  // Strips: full width.
  if (options.tile_size > 0) {
    return checked(TileGrid({0, width}, Boundaries(height, options.tile_size)));
  }
  if (options.one_tile_per_worker) {
    // EOScale's compute_mp_strips: `workers` strips of strip_height rows,
    // the last one running to the bottom of the image, where strip_height is
    // tile_max_size when set, else height / workers. Strips that would
    // start below the image (EOScale makes them empty) are dropped.
    const int n = options.tile_max_size > 0 ? workers : std::min(workers, height);
    const int64_t rows = options.tile_max_size > 0 ? options.tile_max_size : height / n;
    std::vector<int> ys;
    for (int64_t i = 0; i < n && i * rows < height; ++i) ys.push_back(static_cast<int>(i * rows));
    ys.push_back(height);
    return TileGrid({0, width}, std::move(ys));
  }
  // Streaming strips hold about as many pixels as a default tile.
  const int64_t target = static_cast<int64_t>(default_size) * default_size;
  const int rows = static_cast<int>(std::clamp<int64_t>(target / width, 1, height));
  return TileGrid({0, width}, Boundaries(height, rows));
}

std::vector<Tile> TilesWithMargin(const TileGrid& grid, int margin) {
  std::vector<Tile> tiles;
  tiles.reserve(grid.num_tiles());
  for (int i = 0; i < grid.num_tiles(); ++i) tiles.push_back(grid.TileWithMargin(i, margin));
  return tiles;
}

}  // namespace eoscale
