// core/tiling.h against EOScale's compute_mp_tiles / compute_mp_strips,
// re-implemented plainly here from their specification.
#include "eoscale/core/tiling.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace eoscale {
namespace {

using ::testing::HasSubstr;

// One tile as EOScale describes it: inclusive ends and clamped margins.
struct RefTile {
  int start_x, start_y, end_x, end_y;
  int top, right, bottom, left;
};

// EOScale's margin rule for a tile with inclusive ends.
RefTile WithMargins(int w, int h, int start_x, int start_y, int end_x, int end_y, int m) {
  RefTile t{start_x, start_y, end_x, end_y, 0, 0, 0, 0};
  t.top = start_y - m >= 0 ? m : start_y;
  t.left = start_x - m >= 0 ? m : start_x;
  t.bottom = end_y + m <= h - 1 ? m : h - 1 - end_y;
  t.right = end_x + m <= w - 1 ? m : w - 1 - end_x;
  return t;
}

int CeilDiv(int a, int b) { return (a + b - 1) / b; }

// Square tiles of side `tile_size`, ty outer, tx inner.
std::vector<RefTile> RefSquareTiles(int w, int h, int tile_size, int m) {
  std::vector<RefTile> out;
  const int nx = CeilDiv(w, tile_size);
  const int ny = CeilDiv(h, tile_size);
  for (int ty = 0; ty < ny; ++ty) {
    for (int tx = 0; tx < nx; ++tx) {
      const int sx = tx * tile_size;
      const int sy = ty * tile_size;
      const int ex = std::min((tx + 1) * tile_size - 1, w - 1);
      const int ey = std::min((ty + 1) * tile_size - 1, h - 1);
      out.push_back(WithMargins(w, h, sx, sy, ex, ey, m));
    }
  }
  return out;
}

// EOScale compute_mp_tiles: one tile per worker.
int RefOneTilePerWorkerSize(int w, int h, int workers, int tile_max_size) {
  const int64_t per_worker = (static_cast<int64_t>(w) * h) / workers;  // integer division
  int size = static_cast<int>(std::sqrt(static_cast<double>(per_worker)));
  if (tile_max_size > 0) size = std::min(size, tile_max_size);
  return size;
}

// EOScale compute_mp_strips: `workers` full-width strips.
std::vector<RefTile> RefStripsPerWorker(int w, int h, int workers, int m) {
  std::vector<RefTile> out;
  const int strip_height = h / workers;
  for (int k = 0; k < workers; ++k) {
    const int sy = k * strip_height;
    const int ey = k == workers - 1 ? h - 1 : (k + 1) * strip_height - 1;
    RefTile t = WithMargins(w, h, 0, sy, w - 1, ey, m);
    t.left = t.right = 0;
    out.push_back(t);
  }
  return out;
}

// EOScale compute_mp_strips with the context manager's tile_max_size > 0
// (eoscale/eo_executors.py): strip_height = tile_max_size, still one strip
// per worker, the last one running to the bottom of the image. As in
// EOScale, taken literally: callers keep (workers - 1) * tile_max_size <
// h, where every strip is non-empty.
std::vector<RefTile> RefStripsPerWorkerWithMaxSize(int w, int h, int workers, int tile_max_size, int m) {
  std::vector<RefTile> out;
  const int strip_height = tile_max_size;
  for (int k = 0; k < workers; ++k) {
    const int sy = k * strip_height;
    const int ey = k == workers - 1 ? h - 1 : (k + 1) * strip_height - 1;
    RefTile t = WithMargins(w, h, 0, sy, w - 1, ey, m);
    t.left = t.right = 0;
    out.push_back(t);
  }
  return out;
}

// Strips of `rows` rows, the last one smaller.
std::vector<RefTile> RefStripsOfRows(int w, int h, int rows, int m) {
  std::vector<RefTile> out;
  for (int sy = 0; sy < h; sy += rows) {
    const int ey = std::min(sy + rows - 1, h - 1);
    RefTile t = WithMargins(w, h, 0, sy, w - 1, ey, m);
    t.left = t.right = 0;
    out.push_back(t);
  }
  return out;
}

void ExpectSameTiles(const std::vector<Tile>& got, const std::vector<RefTile>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("tile ", i));
    const Tile& g = got[i];
    const RefTile& r = want[i];
    EXPECT_EQ(g.index, static_cast<int>(i));
    EXPECT_EQ(g.window.x, r.start_x);
    EXPECT_EQ(g.window.y, r.start_y);
    EXPECT_EQ(g.window.width, r.end_x - r.start_x + 1);
    EXPECT_EQ(g.window.height, r.end_y - r.start_y + 1);
    EXPECT_EQ(g.top, r.top);
    EXPECT_EQ(g.right, r.right);
    EXPECT_EQ(g.bottom, r.bottom);
    EXPECT_EQ(g.left, r.left);
  }
}

// Every pixel belongs to exactly one tile; every tile is non-empty.
void ExpectCoversOnce(const TileGrid& grid, int w, int h) {
  ASSERT_EQ(grid.width(), w);
  ASSERT_EQ(grid.height(), h);
  std::vector<int> count(static_cast<size_t>(w) * h, 0);
  for (int i = 0; i < grid.num_tiles(); ++i) {
    const Window t = grid.TileWindow(i);
    ASSERT_FALSE(t.Empty()) << "tile " << i;
    ASSERT_TRUE((Window{0, 0, w, h}).Contains(t)) << "tile " << i << " " << DescribeWindow(t);
    for (int y = t.y; y < t.y + t.height; ++y)
      for (int x = t.x; x < t.x + t.width; ++x) ++count[static_cast<size_t>(y) * w + x];
  }
  for (size_t p = 0; p < count.size(); ++p) {
    ASSERT_EQ(count[p], 1) << "pixel x=" << p % w << " y=" << p / w;
  }
}

TileGrid MustGrid(int w, int h, const TilingOptions& o, int workers, int default_size) {
  absl::StatusOr<TileGrid> g = MakeTileGrid(w, h, o, workers, default_size);
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? *g : TileGrid();
}

struct Size2 {
  int w, h;
};
const Size2 kSizes[] = {{1, 1}, {2, 3}, {7, 5}, {13, 17}, {97, 61}, {61, 97}, {100, 100},
                        {101, 1}, {1, 101}, {130, 257}, {256, 256}, {257, 255}};
const int kWorkers[] = {1, 2, 3, 4, 7, 8};

TEST(TilingTest, OneTilePerWorkerMatchesComputeMpTiles) {
  for (const Size2 s : kSizes) {
    for (int workers : kWorkers) {
      for (int cap : {0, 5, 16, 1000}) {
        const int size = RefOneTilePerWorkerSize(s.w, s.h, workers, cap);
        if (size == 0) continue;  // EOScale divides by zero: not specified
        for (int m = 0; m <= 5; ++m) {
          SCOPED_TRACE(absl::StrCat(s.w, "x", s.h, " workers=", workers, " cap=", cap, " margin=", m));
          TilingOptions o;
          o.mode = TileMode::kTiles;
          o.one_tile_per_worker = true;
          o.tile_max_size = cap;
          const TileGrid grid = MustGrid(s.w, s.h, o, workers, 256);
          ExpectSameTiles(TilesWithMargin(grid, m), RefSquareTiles(s.w, s.h, size, m));
        }
      }
    }
  }
}

TEST(TilingTest, OneStripPerWorkerMatchesComputeMpStrips) {
  for (const Size2 s : kSizes) {
    for (int workers : kWorkers) {
      if (workers > s.h) continue;  // EOScale would make empty strips
      for (int m = 0; m <= 5; ++m) {
        SCOPED_TRACE(absl::StrCat(s.w, "x", s.h, " workers=", workers, " margin=", m));
        TilingOptions o;
        o.mode = TileMode::kStrips;
        o.one_tile_per_worker = true;
        const TileGrid grid = MustGrid(s.w, s.h, o, workers, 256);
        ExpectSameTiles(TilesWithMargin(grid, m), RefStripsPerWorker(s.w, s.h, workers, m));
      }
    }
  }
}

TEST(TilingTest, StripTileMaxSizeIsTheStripHeightAsInComputeMpStrips) {
  int cases = 0;
  for (const Size2 s : kSizes) {
    for (int workers : kWorkers) {
      for (int cap : {1, 2, 5, 16, 60, 1000}) {
        if (int64_t{workers - 1} * cap >= s.h) continue;  // EOScale makes empty strips: below
        for (int m = 0; m <= 5; ++m) {
          SCOPED_TRACE(absl::StrCat(s.w, "x", s.h, " workers=", workers, " tile_max_size=", cap, " margin=", m));
          TilingOptions o;
          o.mode = TileMode::kStrips;
          o.one_tile_per_worker = true;
          o.tile_max_size = cap;
          const TileGrid grid = MustGrid(s.w, s.h, o, workers, 256);
          ExpectSameTiles(TilesWithMargin(grid, m), RefStripsPerWorkerWithMaxSize(s.w, s.h, workers, cap, m));
          ++cases;
        }
      }
    }
  }
  EXPECT_GT(cases, 500);
  // The case that was ignored before: 4 workers, 512 rows, tile_max_size 100
  // gives strips of 100, 100, 100 and 212 rows (not 4 x 128).
  TilingOptions o;
  o.mode = TileMode::kStrips;
  o.one_tile_per_worker = true;
  o.tile_max_size = 100;
  EXPECT_EQ(MustGrid(300, 512, o, 4, 256).ys(), (std::vector<int>{0, 100, 200, 300, 512}));
}

TEST(TilingTest, StripTileMaxSizeDropsStripsThatWouldStartBelowTheImage) {
  // EOScale would make strips past the last row (empty slices); here they
  // are dropped and the image is still covered once by strips of
  // tile_max_size rows, the last one the remainder.
  TilingOptions o;
  o.mode = TileMode::kStrips;
  o.one_tile_per_worker = true;
  o.tile_max_size = 40;
  const TileGrid grid = MustGrid(50, 100, o, 8, 256);
  EXPECT_EQ(grid.ys(), (std::vector<int>{0, 40, 80, 100}));
  ExpectCoversOnce(grid, 50, 100);
  o.tile_max_size = 1000;
  EXPECT_EQ(MustGrid(50, 100, o, 8, 256).ys(), (std::vector<int>{0, 100}));
}

TEST(TilingTest, MoreStripWorkersThanRowsStillCoversTheImageOnce) {
  TilingOptions o;
  o.mode = TileMode::kStrips;
  o.one_tile_per_worker = true;
  for (const Size2 s : {Size2{5, 1}, Size2{3, 2}, Size2{9, 7}}) {
    SCOPED_TRACE(absl::StrCat(s.w, "x", s.h));
    const TileGrid grid = MustGrid(s.w, s.h, o, 8, 256);
    ExpectCoversOnce(grid, s.w, s.h);
    EXPECT_EQ(grid.tiles_x(), 1);
  }
}

TEST(TilingTest, ExplicitTileSizeGivesSquareTilesWithEOScaleMargins) {
  for (const Size2 s : kSizes) {
    for (int size : {1, 3, 4, 7, 16, 64, 100, 1000}) {
      for (int m = 0; m <= 5; ++m) {
        SCOPED_TRACE(absl::StrCat(s.w, "x", s.h, " size=", size, " margin=", m));
        TilingOptions o;
        o.mode = TileMode::kTiles;
        o.tile_size = size;
        o.one_tile_per_worker = true;  // ignored when tile_size is set
        o.tile_max_size = 2;           // likewise
        const TileGrid grid = MustGrid(s.w, s.h, o, 3, 256);
        ExpectSameTiles(TilesWithMargin(grid, m), RefSquareTiles(s.w, s.h, size, m));
      }
    }
  }
}

TEST(TilingTest, ExplicitTileSizeGivesStripsOfThatManyRows) {
  for (const Size2 s : kSizes) {
    for (int rows : {1, 3, 7, 16, 64, 1000}) {
      for (int m = 0; m <= 5; ++m) {
        SCOPED_TRACE(absl::StrCat(s.w, "x", s.h, " rows=", rows, " margin=", m));
        TilingOptions o;
        o.mode = TileMode::kStrips;
        o.tile_size = rows;
        const TileGrid grid = MustGrid(s.w, s.h, o, 4, 256);
        ExpectSameTiles(TilesWithMargin(grid, m), RefStripsOfRows(s.w, s.h, rows, m));
      }
    }
  }
}

TEST(TilingTest, DefaultStreamingTilesUseDefaultSize) {
  for (const Size2 s : kSizes) {
    for (int def : {1, 5, 16, 64, 256}) {
      for (int workers : {1, 4}) {
        SCOPED_TRACE(absl::StrCat(s.w, "x", s.h, " default=", def, " workers=", workers));
        const TileGrid grid = MustGrid(s.w, s.h, TilingOptions{}, workers, def);
        ExpectSameTiles(TilesWithMargin(grid, 2), RefSquareTiles(s.w, s.h, def, 2));
      }
    }
  }
}

TEST(TilingTest, DefaultStreamingStripsAreFullWidthAndAboutOneDefaultTileOfPixels) {
  for (const Size2 s : kSizes) {
    for (int def : {1, 5, 16, 64, 256}) {
      SCOPED_TRACE(absl::StrCat(s.w, "x", s.h, " default=", def));
      TilingOptions o;
      o.mode = TileMode::kStrips;
      const TileGrid grid = MustGrid(s.w, s.h, o, 2, def);
      ExpectCoversOnce(grid, s.w, s.h);
      ASSERT_EQ(grid.tiles_x(), 1);
      int tw = 0, th = 0;
      ASSERT_TRUE(grid.IsUniform(&tw, &th));
      EXPECT_EQ(tw, s.w);
      // Not more pixels than one default tile, unless a single row already is.
      const int64_t target = static_cast<int64_t>(def) * def;
      EXPECT_TRUE(static_cast<int64_t>(th) * s.w <= target || th == 1) << "rows=" << th;
      // And not needlessly thin.
      EXPECT_TRUE(static_cast<int64_t>(th + 1) * s.w > target || th == s.h) << "rows=" << th;
    }
  }
}

TEST(TilingTest, OnePixelImageIsOneTileWithoutMargins) {
  for (TileMode mode : {TileMode::kTiles, TileMode::kStrips}) {
    for (bool per_worker : {false, true}) {
      for (int size : {0, 1, 5}) {
        for (int workers : {1, 2, 8}) {
          SCOPED_TRACE(absl::StrCat("mode=", static_cast<int>(mode), " per_worker=", per_worker,
                                    " size=", size, " workers=", workers));
          TilingOptions o;
          o.mode = mode;
          o.one_tile_per_worker = per_worker;
          o.tile_size = size;
          const TileGrid grid = MustGrid(1, 1, o, workers, 256);
          const std::vector<Tile> tiles = TilesWithMargin(grid, 3);
          ASSERT_EQ(tiles.size(), 1u);
          EXPECT_EQ(tiles[0].window, (Window{0, 0, 1, 1}));
          EXPECT_EQ(tiles[0].top + tiles[0].right + tiles[0].bottom + tiles[0].left, 0);
        }
      }
    }
  }
}

TEST(TilingTest, TileLargerThanImageIsOneTile) {
  TilingOptions o;
  o.tile_size = 500;
  const TileGrid grid = MustGrid(97, 61, o, 2, 256);
  ASSERT_EQ(grid.num_tiles(), 1);
  const Tile t = grid.TileWithMargin(0, 4);
  EXPECT_EQ(t.window, (Window{0, 0, 97, 61}));
  EXPECT_EQ(t.Expanded(), (Window{0, 0, 97, 61}));
}

TEST(TilingTest, MarginLargerThanTileIsClampedAtImageBorder) {
  TilingOptions o;
  o.tile_size = 3;
  const int w = 11, h = 8, m = 5;
  const TileGrid grid = MustGrid(w, h, o, 2, 256);
  const std::vector<Tile> tiles = TilesWithMargin(grid, m);
  ExpectSameTiles(tiles, RefSquareTiles(w, h, 3, m));
  // Tile (1, 1) starts at 3 < 5: its top and left margins are clamped to 3.
  const Tile& t = tiles[1 * grid.tiles_x() + 1];
  EXPECT_EQ(t.top, 3);
  EXPECT_EQ(t.left, 3);
  EXPECT_EQ(t.right, m);   // end_x 5 + 5 <= 10
  EXPECT_EQ(t.bottom, 2);  // end_y 5 + 5 > 7: 7 - 5
}

TEST(TilingTest, MarginIsClampedAtImageBorder) {
  TilingOptions o;
  o.tile_size = 16;
  const TileGrid grid = MustGrid(40, 40, o, 1, 256);
  const Tile first = grid.TileWithMargin(0, 2);
  EXPECT_EQ(first.top, 0);
  EXPECT_EQ(first.left, 0);
  EXPECT_EQ(first.right, 2);
  EXPECT_EQ(first.bottom, 2);
  const Tile last = grid.TileWithMargin(grid.num_tiles() - 1, 2);
  EXPECT_EQ(last.window, (Window{32, 32, 8, 8}));
  EXPECT_EQ(last.top, 2);
  EXPECT_EQ(last.left, 2);
  EXPECT_EQ(last.right, 0);
  EXPECT_EQ(last.bottom, 0);
}

TEST(TilingTest, TilesCoverTheImageExactlyOnceInRasterOrder) {
  for (const Size2 s : kSizes) {
    for (TileMode mode : {TileMode::kTiles, TileMode::kStrips}) {
      for (int size : {0, 1, 7, 16, 64}) {
        for (bool per_worker : {false, true}) {
          for (int workers : {1, 3, 8}) {
            SCOPED_TRACE(absl::StrCat(s.w, "x", s.h, " mode=", static_cast<int>(mode), " size=", size,
                                      " per_worker=", per_worker, " workers=", workers));
            TilingOptions o;
            o.mode = mode;
            o.tile_size = size;
            o.one_tile_per_worker = per_worker;
            const TileGrid grid = MustGrid(s.w, s.h, o, workers, 16);
            ExpectCoversOnce(grid, s.w, s.h);
            // Raster order: index i is row i / tiles_x, column i % tiles_x.
            for (int i = 0; i < grid.num_tiles(); ++i) {
              const Window t = grid.TileWindow(i);
              EXPECT_EQ(t.x, grid.xs()[i % grid.tiles_x()]);
              EXPECT_EQ(t.y, grid.ys()[i / grid.tiles_x()]);
            }
          }
        }
      }
    }
  }
}

TEST(TilingTest, ExpandedStaysInsideTheImageAndHoldsTheStableWindow) {
  for (const Size2 s : kSizes) {
    for (int size : {1, 4, 7, 64}) {
      for (int m = 0; m <= 9; ++m) {
        TilingOptions o;
        o.tile_size = size;
        const TileGrid grid = MustGrid(s.w, s.h, o, 2, 256);
        const Window image{0, 0, s.w, s.h};
        for (const Tile& t : TilesWithMargin(grid, m)) {
          SCOPED_TRACE(absl::StrCat(s.w, "x", s.h, " size=", size, " m=", m, " tile ", t.index));
          const Window e = t.Expanded();
          EXPECT_TRUE(image.Contains(e)) << DescribeWindow(e);
          EXPECT_TRUE(e.Contains(t.window));
          for (int side : {t.top, t.right, t.bottom, t.left}) {
            EXPECT_GE(side, 0);
            EXPECT_LE(side, m);
          }
          // The margin is whole where the image allows it.
          EXPECT_EQ(t.left, std::min(m, t.window.x));
          EXPECT_EQ(t.top, std::min(m, t.window.y));
          EXPECT_EQ(t.right, std::min(m, s.w - (t.window.x + t.window.width)));
          EXPECT_EQ(t.bottom, std::min(m, s.h - (t.window.y + t.window.height)));
        }
      }
    }
  }
}

bool Intersects(const Window& a, const Window& b) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

TEST(TilingTest, TilesIntersectingReturnsExactlyTheTilesMeetingAWindow) {
  std::mt19937 rng(42);
  for (const Size2 s : kSizes) {
    for (int size : {1, 3, 7, 16}) {
      TilingOptions o;
      o.tile_size = size;
      const TileGrid grid = MustGrid(s.w, s.h, o, 2, 256);
      std::uniform_int_distribution<int> px(-10, s.w + 10), py(-10, s.h + 10), extent(0, 30);
      for (int k = 0; k < 60; ++k) {
        Window w{px(rng), py(rng), extent(rng), extent(rng)};
        if (k == 0) w = {0, 0, s.w, s.h};
        if (k == 1) w = {-5, -5, s.w + 10, s.h + 10};
        if (k == 2) w = {s.w, 0, 4, s.h};  // just outside on the right
        SCOPED_TRACE(absl::StrCat(s.w, "x", s.h, " size=", size, " window ", DescribeWindow(w)));
        std::vector<int> want;
        for (int i = 0; i < grid.num_tiles(); ++i) {
          if (!w.Empty() && Intersects(grid.TileWindow(i), w)) want.push_back(i);
        }
        std::vector<int> got;
        grid.TilesIntersecting(w, &got);
        EXPECT_EQ(got, want);
      }
    }
  }
}

TEST(TilingTest, TilesIntersectingAppends) {
  TilingOptions o;
  o.tile_size = 4;
  const TileGrid grid = MustGrid(8, 8, o, 1, 256);
  std::vector<int> out = {99};
  grid.TilesIntersecting({0, 0, 1, 1}, &out);
  EXPECT_EQ(out, (std::vector<int>{99, 0}));
}

TEST(TilingTest, IsUniformReportsTheTileSize) {
  int tw = 0, th = 0;
  EXPECT_TRUE(TileGrid::Uniform(100, 50, 16, 8).IsUniform(&tw, &th));
  EXPECT_EQ(tw, 16);
  EXPECT_EQ(th, 8);
  EXPECT_FALSE(TileGrid({0, 10, 15, 30}, {0, 5}).IsUniform(&tw, &th));
}

TEST(TilingTest, RejectsNonPositiveImageSizes) {
  for (const Size2 s : {Size2{0, 5}, Size2{5, 0}, Size2{-1, 5}, Size2{5, -3}, Size2{0, 0}}) {
    absl::StatusOr<TileGrid> g = MakeTileGrid(s.w, s.h, TilingOptions{}, 2, 256);
    ASSERT_FALSE(g.ok()) << s.w << "x" << s.h;
    EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(TilingTest, RejectsZeroOrNegativeWorkers) {
  for (TileMode mode : {TileMode::kTiles, TileMode::kStrips}) {
    for (bool per_worker : {false, true}) {
      for (int workers : {0, -1}) {
        TilingOptions o;
        o.mode = mode;
        o.one_tile_per_worker = per_worker;
        absl::StatusOr<TileGrid> g = MakeTileGrid(10, 10, o, workers, 256);
        ASSERT_FALSE(g.ok());
        EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
        EXPECT_THAT(std::string(g.status().message()), HasSubstr("workers"));
      }
    }
  }
}

TEST(TilingTest, RejectsNegativeTileSizes) {
  TilingOptions a;
  a.tile_size = -4;
  TilingOptions b;
  b.one_tile_per_worker = true;
  b.tile_max_size = -1;
  for (const TilingOptions& o : {a, b}) {
    absl::StatusOr<TileGrid> g = MakeTileGrid(10, 10, o, 2, 256);
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace eoscale
