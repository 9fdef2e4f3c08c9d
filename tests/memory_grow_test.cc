// Maps computing their tiles grown by their readers' margins
// (ContextOptions::grow_tiles): the live bytes stay flat as the image
// widens, where gathering neighbours keeps rows of tiles across the image;
// and the pixels are those of gathering.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "eoscale/graph/context.h"
#include "eoscale/graph/report.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "memory_test_util.h"

namespace eoscale {
namespace {

using memory_test::U8Profile;
using memory_test::WeightedSum;

// A value per pixel that depends on where the pixel is (margin 0).
MapFilter PatternOf() {
  MapFilter f;
  f.name = "pattern";
  f.fn = [](const MapTile& t) -> absl::Status {
    const auto in = t.In<uint8_t>(0);
    const auto out = t.Out<uint8_t>(0);
    const Window& w = t.tile.window;
    for (int y = 0; y < out.rows(); ++y) {
      for (int x = 0; x < out.cols(); ++x) {
        const int gx = w.x + x, gy = w.y + y;
        out(0, y, x) = static_cast<uint8_t>(in(0, y, x) + ((gx * 31 + gy * 17 + (gx ^ gy) % 7) & 0x7F));
      }
    }
    return absl::OkStatus();
  };
  return f;
}

// The maximum over the 3 x 3 window clipped at the image (margin 1), minus
// the pixel's own value halved: position-dependent and not idempotent.
MapFilter Max3() {
  MapFilter f;
  f.name = "max3";
  f.margin = 1;
  f.fn = [](const MapTile& t) -> absl::Status {
    const auto in = t.In<uint8_t>(0);
    const auto out = t.Out<uint8_t>(0);
    for (int y = 0; y < out.rows(); ++y) {
      for (int x = 0; x < out.cols(); ++x) {
        int m = 0;
        for (int dy = -std::min(1, t.tile.top + y); dy <= std::min(1, out.rows() - 1 - y + t.tile.bottom); ++dy) {
          for (int dx = -std::min(1, t.tile.left + x); dx <= std::min(1, out.cols() - 1 - x + t.tile.right); ++dx) {
            m = std::max<int>(m, in(0, y + dy, x + dx));
          }
        }
        out(0, y, x) = static_cast<uint8_t>(m - in(0, y, x) / 2);
      }
    }
    return absl::OkStatus();
  };
  return f;
}

struct Outcome {
  uint64_t sum = 0;
  int64_t peak_live = 0;
  int64_t min_parallel = 0;  // the replay's figure: deterministic, whatever the load
  std::vector<int> grown_by;  // per Map, in order (NodeStats::grown_by)
  std::string report;         // FormatMemoryReport
};

// constant -> pattern -> max3 -> max3 -> weighted sum, on width x 1024
// pixels in 256^2 tiles.
Outcome RunChain(int width, bool grow) {
  Outcome got;
  ContextOptions o;
  o.workers = 2;
  o.tiling.tile_size = 256;
  o.grow_tiles = grow;
  o.memory_budget_bytes = 512 * memory_test::kMiB;  // room for gathering at the widest
  auto ctx = Context::Create(o);
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  if (!ctx.ok()) return got;
  Context& c = **ctx;
  absl::StatusOr<Image> src = c.CreateConstant(U8Profile(width, 1024), 5.0);
  EXPECT_TRUE(src.ok()) << src.status();
  if (!src.ok()) return got;
  auto p = c.Map({*src}, PatternOf());
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return got;
  auto m1 = c.Map({(*p)[0]}, Max3());
  EXPECT_TRUE(m1.ok()) << m1.status();
  if (!m1.ok()) return got;
  auto m2 = c.Map({(*m1)[0]}, Max3());
  EXPECT_TRUE(m2.ok()) << m2.status();
  if (!m2.ok()) return got;
  absl::StatusOr<Reduction<uint64_t>> red = c.Reduce<uint64_t>({(*m2)[0]}, WeightedSum<uint8_t>());
  EXPECT_TRUE(red.ok()) << red.status();
  if (!red.ok()) return got;
  const absl::Status run = c.Run();
  EXPECT_TRUE(run.ok()) << run;
  absl::StatusOr<uint64_t> v = red->Get();
  EXPECT_TRUE(v.ok()) << v.status();
  if (v.ok()) got.sum = *v;
  got.peak_live = c.last_run_stats().peak_live_bytes;
  got.min_parallel = c.last_run_stats().min_parallel_budget_bytes;
  for (const NodeStats& n : c.last_run_stats().nodes) {
    if (n.kind == "map") got.grown_by.push_back(n.grown_by);
  }
  got.report = FormatMemoryReport(c.last_run_stats());
  EXPECT_LE(got.peak_live, c.last_run_stats().budget_bytes);
  return got;
}

TEST(MemoryGrowTest, GrownTilesKeepLiveBytesFlatAsTheImageWidens) {
  const Outcome grown_narrow = RunChain(2048, true), gathered_narrow = RunChain(2048, false);
  const Outcome grown_wide = RunChain(8192, true), gathered_wide = RunChain(8192, false);
  // Same pixels whichever way the margins are served.
  EXPECT_EQ(grown_narrow.sum, gathered_narrow.sum);
  EXPECT_EQ(grown_wide.sum, gathered_wide.sum);
  EXPECT_NE(grown_narrow.sum, grown_wide.sum);
  // The pattern is read 2 pixels around a tile (through both 3 x 3 maxima),
  // the first maximum 1; the figures and the report say so.
  EXPECT_EQ(grown_wide.grown_by, (std::vector<int>{2, 1, 0}));
  EXPECT_EQ(gathered_wide.grown_by, (std::vector<int>{0, 0, 0}));
  EXPECT_THAT(grown_wide.report, ::testing::HasSubstr("tiles computed grown (px)     pattern#1 by 2, max3#2 by 1"));
  EXPECT_THAT(gathered_wide.report, ::testing::Not(::testing::HasSubstr("tiles computed grown")));
  // The minimum working set (from the replay, so not subject to the
  // machine's load): gathering holds rows of tiles, 4 x the width is about
  // 4 x the bytes; grown tiles hold the same few tiles whatever the width.
  EXPECT_GT(gathered_wide.min_parallel, 3 * gathered_narrow.min_parallel)
      << "gathered: " << gathered_narrow.min_parallel << " then " << gathered_wide.min_parallel;
  EXPECT_EQ(grown_wide.min_parallel, grown_narrow.min_parallel);
  EXPECT_LT(grown_wide.min_parallel, gathered_wide.min_parallel / 8);
  // What the runs held: at most 6 waves in flight, grown; rows, gathered.
  EXPECT_LT(grown_wide.peak_live, gathered_wide.peak_live / 2)
      << "grown: " << grown_wide.peak_live << ", gathered: " << gathered_wide.peak_live;
}

}  // namespace
}  // namespace eoscale
