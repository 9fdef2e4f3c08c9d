// libFuzzer target: the tiler (core/tiling.h). Any image size, tile size,
// margin, mode, worker count and EOScale sizing option. For every grid
// MakeTileGrid accepts, the tiles must cover the image exactly once, in
// raster order, and a tile's margins must be the requested margin clamped at
// the image border (EOScale's compute_mp_tiles), its expanded window inside
// the image. Anything else, or undefined behaviour (UBSan), is a crash.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "eoscale/core/tiling.h"

namespace {

[[noreturn]] void Fail(const char* what, int64_t a = 0, int64_t b = 0) {
  std::fprintf(stderr, "tiler contract broken: %s (%lld, %lld)\n", what, static_cast<long long>(a),
               static_cast<long long>(b));
  std::abort();
}

void Check(bool ok, const char* what, int64_t a = 0, int64_t b = 0) {
  if (!ok) Fail(what, a, b);
}

// Every margin of `t` is `m` clamped at the border; the expanded window is in
// the image and holds the stable window.
void CheckTile(const eoscale::TileGrid& g, int index, int m) {
  const eoscale::Window w = g.TileWindow(index);
  const eoscale::Tile t = g.TileWithMargin(index, m);
  const int64_t W = g.width(), H = g.height();
  Check(t.index == index && t.window == w, "TileWithMargin changed the stable window", index);
  Check(w.width > 0 && w.height > 0, "empty tile", index);
  Check(w.x >= 0 && w.y >= 0 && w.x + int64_t{w.width} <= W && w.y + int64_t{w.height} <= H, "tile outside the image",
        index);
  Check(t.left == std::min<int64_t>(m, w.x), "left margin not clamped", t.left, m);
  Check(t.top == std::min<int64_t>(m, w.y), "top margin not clamped", t.top, m);
  Check(t.right == std::min<int64_t>(m, W - w.x - w.width), "right margin not clamped", t.right, m);
  Check(t.bottom == std::min<int64_t>(m, H - w.y - w.height), "bottom margin not clamped", t.bottom, m);
  const eoscale::Window e = t.Expanded();
  Check(e.x >= 0 && e.y >= 0 && e.x + int64_t{e.width} <= W && e.y + int64_t{e.height} <= H,
        "expanded window outside the image", index);
  Check(e.Contains(w), "expanded window misses the stable window", index);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  eoscale::TilingOptions o;
  o.mode = in.ConsumeBool() ? eoscale::TileMode::kStrips : eoscale::TileMode::kTiles;
  o.one_tile_per_worker = in.ConsumeBool();
  const int width = in.ConsumeIntegralInRange<int>(-3, INT_MAX);
  const int height = in.ConsumeIntegralInRange<int>(-3, INT_MAX);
  o.tile_size = in.ConsumeIntegralInRange<int>(-3, INT_MAX);
  o.tile_max_size = in.ConsumeIntegralInRange<int>(-3, INT_MAX);
  const int workers = in.ConsumeIntegralInRange<int>(-3, 4096);
  const int default_size = in.ConsumeIntegralInRange<int>(-3, 1 << 16);
  const int margin = in.ConsumeIntegralInRange<int>(0, INT_MAX);

  // A grid has one boundary per tile column and row: keep those vectors
  // within a few hundred MiB (an image wider than 2^24 pixels must come with
  // tiles big enough for at most 2^20 columns).
  const int64_t side = std::max(width, height);
  if (side > (1 << 24) && (o.tile_size <= 0 || o.tile_size < side >> 20)) return 0;

  absl::StatusOr<eoscale::TileGrid> grid = eoscale::MakeTileGrid(width, height, o, workers, default_size);
  const bool valid_request = width > 0 && height > 0 && workers > 0 && o.tile_size >= 0 && o.tile_max_size >= 0;
  if (!grid.ok()) {
    // A valid request may still be refused, clearly, when its grid cannot be
    // represented (more tiles than an int counts).
    Check(grid.status().code() == absl::StatusCode::kInvalidArgument && !grid.status().message().empty(),
          "a refusal that is not a clear InvalidArgument", width, height);
    return 0;
  }
  Check(valid_request, "an invalid request was accepted", width, height);
  const eoscale::TileGrid& g = *grid;
  Check(g.width() == width && g.height() == height, "grid of another size", g.width(), g.height());
  const std::vector<int>& xs = g.xs();
  const std::vector<int>& ys = g.ys();
  Check(xs.size() >= 2 && ys.size() >= 2 && xs.front() == 0 && ys.front() == 0, "bad grid start");
  for (size_t i = 1; i < xs.size(); ++i) Check(xs[i] > xs[i - 1], "column boundaries not increasing", xs[i]);
  for (size_t i = 1; i < ys.size(); ++i) Check(ys[i] > ys[i - 1], "row boundaries not increasing", ys[i]);
  if (o.mode == eoscale::TileMode::kStrips) Check(g.tiles_x() == 1, "strips are not full width", g.tiles_x());
  int tw = 0, th = 0;
  if (o.mode == eoscale::TileMode::kTiles) {
    Check(g.IsUniform(&tw, &th), "square tiles are not uniform");
    Check(tw == th || g.tiles_x() == 1 || g.tiles_y() == 1, "tiles are not square", tw, th);
  }
  const int64_t tiles = int64_t{g.tiles_x()} * g.tiles_y();
  Check(tiles <= INT_MAX, "the grid has more tiles than an int can count (num_tiles() overflows)", g.tiles_x(),
        g.tiles_y());
  Check(g.num_tiles() == tiles, "num_tiles disagrees with the grid", g.num_tiles(), tiles);

  // Exactly once: tile i is column i % tx, row i / tx of the grid (raster
  // order), and the windows of the grid's cells partition the image.
  auto check_index = [&](int i) {
    const eoscale::Window w = g.TileWindow(i);
    const int tx = i % g.tiles_x(), ty = i / g.tiles_x();
    Check(w.x == xs[tx] && w.width == xs[tx + 1] - xs[tx] && w.y == ys[ty] && w.height == ys[ty + 1] - ys[ty],
          "tile is not its grid cell", i);
    CheckTile(g, i, margin);
  };
  if (tiles <= (1 << 14)) {
    int64_t pixels = 0;
    for (int i = 0; i < tiles; ++i) {
      check_index(i);
      pixels += g.TileWindow(i).Pixels();
    }
    Check(pixels == int64_t{width} * height, "tiles do not add up to the image", pixels);
    // TilesIntersecting against a brute-force scan, for any window a Window
    // can hold (x + width and y + height within an int).
    auto upto = [](int64_t v) { return static_cast<int>(std::clamp<int64_t>(v, 0, INT_MAX)); };
    eoscale::Window q;
    q.x = in.ConsumeIntegralInRange<int>(-5, upto(int64_t{width} + 5));
    q.y = in.ConsumeIntegralInRange<int>(-5, upto(int64_t{height} + 5));
    q.width = in.ConsumeIntegralInRange<int>(0, upto(std::min<int64_t>(int64_t{width} + 10, INT_MAX - int64_t{q.x})));
    q.height = in.ConsumeIntegralInRange<int>(0, upto(std::min<int64_t>(int64_t{height} + 10, INT_MAX - int64_t{q.y})));
    std::vector<int> got;
    g.TilesIntersecting(q, &got);
    std::vector<int> want;
    for (int i = 0; i < tiles; ++i) {
      const eoscale::Window w = g.TileWindow(i);
      const int64_t x0 = std::max<int64_t>(w.x, q.x), y0 = std::max<int64_t>(w.y, q.y);
      const int64_t x1 = std::min<int64_t>(int64_t{w.x} + w.width, int64_t{q.x} + q.width);
      const int64_t y1 = std::min<int64_t>(int64_t{w.y} + w.height, int64_t{q.y} + q.height);
      if (x0 < x1 && y0 < y1) want.push_back(i);
    }
    Check(got == want, "TilesIntersecting is not the set of tiles meeting the window", got.size(), want.size());
  } else {
    for (int k = 0; k < 64 && in.remaining_bytes() > 0; ++k) {
      check_index(in.ConsumeIntegralInRange<int>(0, static_cast<int>(tiles - 1)));
    }
    check_index(0);
    check_index(static_cast<int>(tiles - 1));
  }
  return 0;
}
