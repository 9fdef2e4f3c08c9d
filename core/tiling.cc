#include "eoscale/core/tiling.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
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

constexpr int64_t kMaxDefaultTilePixels = int64_t{kMaxDefaultTileSide} * kMaxDefaultTileSide;

// The smallest multiple of `unit` of at least `target` pixels; past
// kMaxDefaultTileSide, the largest multiple within it (one unit at least);
// at most `extent`.
int64_t FitSide(int64_t target, int64_t unit, int64_t extent) {
  int64_t side = (std::max<int64_t>(target, 1) + unit - 1) / unit * unit;
  if (side > kMaxDefaultTileSide) side = std::max(unit, kMaxDefaultTileSide / unit * unit);
  return std::min(side, extent);
}

}  // namespace

BlockSize AlignmentOf(const std::vector<BlockSize>& blocks, int width, int height) {
  if (width <= 0 || height <= 0) return {1, 1};
  // Clipped to the image: a block wider than the image is one block across.
  std::vector<BlockSize> b;
  for (const BlockSize& k : blocks) {
    if (k.width > 0 && k.height > 0) b.push_back({std::min(k.width, width), std::min(k.height, height)});
  }
  // Largest first (ties broken by width, then height, so that the answer
  // does not depend on the inputs' order).
  std::sort(b.begin(), b.end(), [](const BlockSize& l, const BlockSize& r) {
    const int64_t la = int64_t{l.width} * l.height, ra = int64_t{r.width} * r.height;
    if (la != ra) return la > ra;
    return l.width != r.width ? l.width > r.width : l.height > r.height;
  });
  b.erase(std::unique(b.begin(), b.end()), b.end());
  // A unit reaching the extent stays the extent: one tile across holds every
  // block along that axis, whatever the blocks still to come.
  auto grow = [](int64_t unit, int64_t block, int64_t extent) {
    return unit >= extent ? extent : std::min(std::lcm(unit, block), extent);
  };
  int64_t ux = 1, uy = 1;
  for (size_t i = 0; i < b.size(); ++i) {
    const int64_t nx = grow(ux, b[i].width, width), ny = grow(uy, b[i].height, height);
    const bool fits = (nx >= width || nx <= kMaxDefaultTileSide) && (ny >= height || ny <= kMaxDefaultTileSide) &&
                      nx * ny <= kMaxDefaultTilePixels;
    // The largest block is honoured whatever its size: a tile smaller than
    // one block would decode it again for each tile.
    if (i == 0 || fits) ux = nx, uy = ny;
  }
  return {static_cast<int>(ux), static_cast<int>(uy)};
}

DefaultTile ChooseDefaultTile(int width, int height, const std::vector<BlockSize>& blocks, int margin) {
  if (width <= 0 || height <= 0) return {};
  const BlockSize unit = AlignmentOf(blocks, width, height);
  const bool full_x = unit.width >= width, full_y = unit.height >= height;
  const int64_t reach = 4 * static_cast<int64_t>(std::max(margin, 0));
  // The target side, and the least a side may be when the other is forced
  // long (thin strips would read mostly margins).
  const int64_t t = std::clamp<int64_t>(reach, kMinDefaultTileSide, kMaxDefaultTileSide);
  const int64_t floor_side = std::clamp<int64_t>(reach, 1, kMaxDefaultTileSide);
  // What the other side aims at once one side is `side`: the target pixel
  // count when that side is longer than the target, the target otherwise.
  auto other = [&](int64_t side) { return std::max(floor_side, (t * t + std::max(side, t) - 1) / std::max(side, t)); };
  int64_t w = 0, h = 0;
  if (full_x && full_y) {
    w = width, h = height;
  } else if (full_x) {
    w = width, h = FitSide(other(w), unit.height, height);
  } else if (full_y) {
    h = height, w = FitSide(other(h), unit.width, width);
  } else {
    w = FitSide(t, unit.width, width), h = FitSide(other(w), unit.height, height);
  }
  return {static_cast<int>(w), static_cast<int>(h), full_y ? height : unit.height};
}

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

std::vector<int> SeamedBoundaries(int width, int step, const std::vector<int>& seams) {
  step = std::max(step, 1);
  std::vector<int> xs = {0};
  size_t next = 0;  // the first seam not yet reached
  int64_t start = 0;  // where the current segment starts
  while (start < width) {
    while (next < seams.size() && seams[next] <= start) ++next;
    const int64_t end = next < seams.size() ? std::min<int64_t>(seams[next], width) : width;
    for (int64_t x = start + step; x < end; x += step) xs.push_back(static_cast<int>(x));
    // A sliver before `end` joins the tile before it, within this segment.
    if (xs.back() > start && end - xs.back() < (step + 1) / 2) xs.pop_back();
    xs.push_back(static_cast<int>(end));
    start = end;
  }
  return xs;
}

absl::StatusOr<TileGrid> MakeTileGrid(int width, int height, const TilingOptions& options,
                                      int workers, int default_size) {
  if (default_size <= 0) default_size = 256;
  return MakeTileGrid(width, height, options, workers, DefaultTile{default_size, default_size, 1});
}

absl::StatusOr<TileGrid> MakeTileGrid(int width, int height, const TilingOptions& options,
                                      int workers, const DefaultTile& default_tile,
                                      const std::vector<int>& column_seams, const std::vector<int>& row_seams) {
  if (width <= 0 || height <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot tile an image of ", width, "x", height));
  }
  if (workers <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("workers must be at least 1, got ", workers));
  }
  if (options.tile_size < 0 || options.tile_max_size < 0) {
    return absl::InvalidArgumentError("tile_size and tile_max_size must not be negative");
  }
  const int default_w = default_tile.width > 0 ? default_tile.width : 256;
  const int default_h = default_tile.height > 0 ? default_tile.height : 256;
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
    if (size == 0) {
      if (column_seams.empty() && row_seams.empty()) {
        return checked(TileGrid::Uniform(width, height, default_w, default_h));
      }
      return checked(TileGrid(
          column_seams.empty() ? Boundaries(width, default_w) : SeamedBoundaries(width, default_w, column_seams),
          row_seams.empty() ? Boundaries(height, default_h) : SeamedBoundaries(height, default_h, row_seams)));
    }
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
  // Streaming strips hold about as many pixels as a default tile, in a
  // whole number of the inputs' block rows.
  const int64_t target = static_cast<int64_t>(default_w) * default_h;
  const int64_t step = std::max(default_tile.row_step, 1);
  const int64_t rows = (std::clamp<int64_t>(target / width, 1, height) + step - 1) / step * step;
  return checked(TileGrid({0, width}, Boundaries(height, static_cast<int>(std::min<int64_t>(rows, height)))));
}

std::vector<Tile> TilesWithMargin(const TileGrid& grid, int margin) {
  std::vector<Tile> tiles;
  tiles.reserve(grid.num_tiles());
  for (int i = 0; i < grid.num_tiles(); ++i) tiles.push_back(grid.TileWithMargin(i, margin));
  return tiles;
}

}  // namespace eoscale
