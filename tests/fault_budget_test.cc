// Fault injection: the memory budget at the edge. For graphs of several
// shapes (chains with margins, a diamond, fan-out to writes and a reduction,
// two image sizes in one run, tiles and strips, EOScale's one tile per
// worker, 1 to 8 workers), the smallest total budget whose tile part is the
// graph's minimum working set (RunStats::min_budget_bytes):
//  - completes, with outputs bitwise equal to an unconstrained run's, and
//    the store's high-water mark within its budget;
// and one byte less:
//  - fails before anything runs with ResourceExhausted, "too small", the
//    minimum stated, and no file written.
// Every run goes through a watchdog: a hang fails the test instead of
// blocking CI.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <filesystem>
#include <regex>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "eoscale/core/array.h"
#include "eoscale/graph/context.h"
#include "fault_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::GdalCacheFor;
using ::eoscale::testing::LiveBytesProbe;
using ::eoscale::testing::MinTotalBudgetFor;
using ::eoscale::testing::RandomArray;
using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;
using ::eoscale::testing::WithWatchdog;
using ::eoscale::testing::WriteTiff;
using ::testing::HasSubstr;

Profile MakeProfile(int w, int h, int bands, PixelType type) {
  Profile p;
  p.width = w;
  p.height = h;
  p.bands = bands;
  p.type = type;
  return p;
}

// out(b, y, x) = the largest of the four corners of the (2m+1)^2 square
// around (x, y), clamped to the image: reads exactly to its declared margin.
MapFilter Corners(std::string name, int margin) {
  MapFilter f;
  f.name = std::move(name);
  f.margin = margin;
  f.fn = [margin](const MapTile& t) -> absl::Status {
    const ConstView in = t.inputs[0];
    const Window e = t.tile.Expanded();
    const Window& w = t.tile.window;
    const int width = t.input_profiles[0].width, height = t.input_profiles[0].height;
    DispatchPixelType(in.type(), [&]<typename T>() {
      const auto src = in.As<T>();
      const auto dst = t.outputs[0].As<T>();
      for (int b = 0; b < dst.bands(); ++b)
        for (int y = 0; y < w.height; ++y)
          for (int x = 0; x < w.width; ++x) {
            const int gy = w.y + y, gx = w.x + x;
            const int y0 = std::max(gy - margin, 0) - e.y, y1 = std::min(gy + margin, height - 1) - e.y;
            const int x0 = std::max(gx - margin, 0) - e.x, x1 = std::min(gx + margin, width - 1) - e.x;
            dst(b, y, x) = std::max(std::max(src(b, y0, x0), src(b, y0, x1)), std::max(src(b, y1, x0), src(b, y1, x1)));
          }
    });
    return absl::OkStatus();
  };
  return f;
}

// Elementwise a + b (wrapping for integers through int64, exact for floats).
MapFilter Add(std::string name) {
  MapFilter f;
  f.name = std::move(name);
  f.fn = [](const MapTile& t) -> absl::Status {
    const Window& w = t.tile.window;
    const ConstView a = t.inputs[0].Sub(w), b = t.inputs[1].Sub(w);
    DispatchPixelType(a.type(), [&]<typename T>() {
      const auto va = a.As<T>(), vb = b.As<T>();
      const auto dst = t.outputs[0].As<T>();
      for (int band = 0; band < dst.bands(); ++band)
        for (int y = 0; y < w.height; ++y)
          for (int x = 0; x < w.width; ++x) {
            if constexpr (std::is_floating_point_v<T>) {
              dst(band, y, x) = va(band, y, x) + vb(band, y, x);
            } else {
              dst(band, y, x) = static_cast<T>(static_cast<uint64_t>(va(band, y, x)) + static_cast<uint64_t>(vb(band, y, x)));
            }
          }
    });
    return absl::OkStatus();
  };
  return f;
}

ReduceFilter<int64_t> CountPixels() {
  ReduceFilter<int64_t> r;
  r.name = "count";
  r.map = [](const ReduceTile& t) -> absl::StatusOr<int64_t> { return t.tile.window.Pixels(); };
  r.combine = [](int64_t a, int64_t b) { return a + b; };
  return r;
}

// Builds a graph in `ctx` that writes files named out_*.tif into `dir`.
using Builder = std::function<absl::Status(Context&, const std::string& dir)>;

struct Shape {
  std::string name;
  int workers;
  TilingOptions tiling;
  std::vector<std::string> outputs;
  Builder build;
};

#define RETURN_IF_ERROR_(expr)            \
  do {                                    \
    absl::Status s_ = (expr);             \
    if (!s_.ok()) return s_;              \
  } while (0)

std::vector<Shape> Shapes() {
  std::vector<Shape> shapes;
  {
    Shape s{"ChainOfMarginsOneTwoThree", 2, {}, {"out_chain.tif"}, nullptr};
    s.tiling.tile_size = 32;
    s.build = [](Context& ctx, const std::string& dir) -> absl::Status {
      absl::StatusOr<Image> src = ctx.FromArray(RandomArray(MakeProfile(200, 150, 1, PixelType::kF32), 1));
      if (!src.ok()) return src.status();
      Image cur = *src;
      for (int m : {1, 2, 3}) {
        absl::StatusOr<std::vector<Image>> o = ctx.Map({cur}, Corners(absl::StrCat("corners", m), m));
        if (!o.ok()) return o.status();
        cur = (*o)[0];
      }
      return ctx.Write(cur, dir + "/out_chain.tif");
    };
    shapes.push_back(std::move(s));
  }
  {
    Shape s{"DiamondWithReduceAndTwoWrites", 3, {}, {"out_left.tif", "out_join.tif"}, nullptr};
    s.tiling.tile_size = 16;
    s.build = [](Context& ctx, const std::string& dir) -> absl::Status {
      absl::StatusOr<Image> src = ctx.FromArray(RandomArray(MakeProfile(97, 61, 2, PixelType::kI16), 2));
      if (!src.ok()) return src.status();
      absl::StatusOr<std::vector<Image>> left = ctx.Map({*src}, Corners("left", 2));
      absl::StatusOr<std::vector<Image>> right = ctx.Map({*src}, Corners("right", 0));
      if (!left.ok() || !right.ok()) return absl::InternalError("map");
      absl::StatusOr<std::vector<Image>> join = ctx.Map({(*left)[0], (*right)[0]}, Add("join"));
      if (!join.ok()) return join.status();
      absl::StatusOr<std::vector<Image>> smooth = ctx.Map({(*join)[0]}, Corners("smooth", 1));
      if (!smooth.ok()) return smooth.status();
      RETURN_IF_ERROR_(ctx.Reduce<int64_t>({(*left)[0]}, CountPixels()).status());
      RETURN_IF_ERROR_(ctx.Write((*left)[0], dir + "/out_left.tif"));
      return ctx.Write((*smooth)[0], dir + "/out_join.tif");
    };
    shapes.push_back(std::move(s));
  }
  {
    Shape s{"TwoImageSizesInOneRun", 2, {}, {"out_big.tif", "out_small.tif"}, nullptr};
    s.tiling.tile_size = 16;
    s.build = [](Context& ctx, const std::string& dir) -> absl::Status {
      absl::StatusOr<Image> big = ctx.FromArray(RandomArray(MakeProfile(131, 67, 1, PixelType::kU16), 3));
      absl::StatusOr<Image> small = ctx.FromArray(RandomArray(MakeProfile(41, 43, 3, PixelType::kF64), 4));
      if (!big.ok() || !small.ok()) return absl::InternalError("source");
      absl::StatusOr<std::vector<Image>> b = ctx.Map({*big}, Corners("big", 4));
      absl::StatusOr<std::vector<Image>> sm = ctx.Map({*small}, Corners("small", 1));
      if (!b.ok() || !sm.ok()) return absl::InternalError("map");
      RETURN_IF_ERROR_(ctx.Write((*b)[0], dir + "/out_big.tif"));
      return ctx.Write((*sm)[0], dir + "/out_small.tif");
    };
    shapes.push_back(std::move(s));
  }
  {
    Shape s{"StripsEightWorkersMarginFour", 8, {}, {"out_strips.tif"}, nullptr};
    s.tiling.mode = TileMode::kStrips;
    s.tiling.tile_size = 7;
    s.build = [](Context& ctx, const std::string& dir) -> absl::Status {
      absl::StatusOr<Image> src = ctx.FromArray(RandomArray(MakeProfile(53, 101, 4, PixelType::kU8), 5));
      if (!src.ok()) return src.status();
      absl::StatusOr<std::vector<Image>> a = ctx.Map({*src}, Corners("a", 4));
      if (!a.ok()) return a.status();
      absl::StatusOr<std::vector<Image>> b = ctx.Map({(*a)[0]}, Corners("b", 4));
      if (!b.ok()) return b.status();
      return ctx.Write((*b)[0], dir + "/out_strips.tif");
    };
    shapes.push_back(std::move(s));
  }
  {
    Shape s{"OneTilePerWorkerFromAFile", 4, {}, {"out_file.tif"}, nullptr};
    s.tiling.one_tile_per_worker = true;
    s.build = [](Context& ctx, const std::string& dir) -> absl::Status {
      const std::string in = dir + "/../in_budget.tif";
      absl::StatusOr<Image> src = ctx.Open(in);
      if (!src.ok()) return src.status();
      absl::StatusOr<std::vector<Image>> a = ctx.Map({*src}, Corners("a", 3));
      if (!a.ok()) return a.status();
      absl::StatusOr<std::vector<Image>> b = ctx.Map({*src, (*a)[0]}, Add("b"));
      if (!b.ok()) return b.status();
      return ctx.Write((*b)[0], dir + "/out_file.tif");
    };
    shapes.push_back(std::move(s));
  }
  {
    // Tiles of 4 MiB: the budget lands where GDAL's cache share (an eighth)
    // grows with the budget.
    Shape s{"LargeTilesChain", 2, {}, {"out_large.tif"}, nullptr};
    s.tiling.tile_size = 1024;
    s.build = [](Context& ctx, const std::string& dir) -> absl::Status {
      absl::StatusOr<Image> src = ctx.CreateConstant(MakeProfile(1024, 1024, 1, PixelType::kF32), 3.5);
      if (!src.ok()) return src.status();
      Image cur = *src;
      for (int i = 0; i < 3; ++i) {
        absl::StatusOr<std::vector<Image>> o = ctx.Map({cur}, Corners(absl::StrCat("step", i), 1));
        if (!o.ok()) return o.status();
        cur = (*o)[0];
      }
      return ctx.Write(cur, dir + "/out_large.tif");
    };
    shapes.push_back(std::move(s));
  }
  {
    Shape s{"SingleWorkerSmallTiles", 1, {}, {"out_one.tif"}, nullptr};
    s.tiling.tile_size = 5;
    s.build = [](Context& ctx, const std::string& dir) -> absl::Status {
      absl::StatusOr<Image> src = ctx.FromArray(RandomArray(MakeProfile(37, 29, 1, PixelType::kI32), 6));
      if (!src.ok()) return src.status();
      absl::StatusOr<std::vector<Image>> a = ctx.Map({*src}, Corners("a", 2));
      if (!a.ok()) return a.status();
      return ctx.Write((*a)[0], dir + "/out_one.tif");
    };
    shapes.push_back(std::move(s));
  }
  return shapes;
}

class BudgetEdgeTest : public ::testing::TestWithParam<Shape> {};

absl::Status RunShape(const Shape& shape, int64_t budget, const std::string& dir, RunStats* stats) {
  ContextOptions o;
  o.workers = shape.workers;
  o.tiling = shape.tiling;
  o.memory_budget_bytes = budget;
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(o);
  if (!ctx.ok()) return ctx.status();
  if (absl::Status s = shape.build(**ctx, dir); !s.ok()) return s;
  const absl::Status st = WithWatchdog<absl::Status>(std::chrono::seconds(120),
                                                     absl::StrCat(shape.name, " with a budget of ", budget, " bytes"),
                                                     [&] { return (*ctx)->Run(); });
  *stats = (*ctx)->last_run_stats();
  if (st.ok() && LiveBytesProbe(**ctx) != 1) return absl::InternalError("tile bytes still live after the run");
  return st;
}

TEST_P(BudgetEdgeTest, ExactMinimumCompletesAndOneByteLessIsTooSmall) {
  const Shape& shape = GetParam();
  TempDir root;
  WriteTiff(RandomArray(MakeProfile(150, 90, 2, PixelType::kF32), 7), root.File("in_budget.tif"), 16);
  const std::string ref_dir = root.File("ref"), min_dir = root.File("min"), less_dir = root.File("less");
  for (const std::string& d : {ref_dir, min_dir, less_dir}) std::filesystem::create_directory(d);

  RunStats ref;
  const absl::Status st_ref = RunShape(shape, int64_t{1} << 30, ref_dir, &ref);
  ASSERT_TRUE(st_ref.ok()) << st_ref;
  const int64_t min_ws = ref.min_budget_bytes;
  ASSERT_GT(min_ws, 0);
  const int64_t total = MinTotalBudgetFor(min_ws);

  RunStats at_min;
  const absl::Status st_min = RunShape(shape, total, min_dir, &at_min);
  ASSERT_TRUE(st_min.ok()) << "a budget of exactly the minimum failed: " << st_min;
  EXPECT_EQ(at_min.min_budget_bytes, min_ws);
  EXPECT_EQ(at_min.budget_bytes, total - GdalCacheFor(total));
  EXPECT_GE(at_min.budget_bytes, min_ws);
  EXPECT_LE(at_min.peak_live_bytes, at_min.budget_bytes) << "the store went over its budget";
  for (const std::string& name : shape.outputs) {
    EXPECT_TRUE(SameBytes(ReadTiff(min_dir + "/" + name), ReadTiff(ref_dir + "/" + name))) << name;
  }

  RunStats less;
  const absl::Status st_less = RunShape(shape, total - 1, less_dir, &less);
  ASSERT_FALSE(st_less.ok()) << "one byte below the minimum ran";
  ::testing::Test::RecordProperty("error", st_less.ToString());
  EXPECT_EQ(st_less.code(), absl::StatusCode::kResourceExhausted) << st_less;
  const std::string msg(st_less.message());
  EXPECT_THAT(msg, HasSubstr("too small"));
  EXPECT_THAT(msg, HasSubstr(absl::StrCat("memory budget of ", total - 1, " bytes")));
  EXPECT_THAT(msg, HasSubstr(absl::StrCat("needs ", min_ws, " bytes of tiles")));
  EXPECT_TRUE(std::filesystem::is_empty(less_dir)) << "a refused run wrote something";
}

INSTANTIATE_TEST_SUITE_P(Shapes, BudgetEdgeTest, ::testing::ValuesIn(Shapes()),
                         [](const auto& info) { return info.param.name; });

// The error states a total ("... (N bytes) ..."): a user who sets exactly
// that budget must not be refused again.
TEST(BudgetEdgeTest, TheBudgetTheErrorStatesIsEnough) {
  for (const Shape& shape : Shapes()) {
    SCOPED_TRACE(shape.name);
    TempDir root;
    WriteTiff(RandomArray(MakeProfile(150, 90, 2, PixelType::kF32), 7), root.File("in_budget.tif"), 16);
    const std::string run_dir = root.File("run");
    std::filesystem::create_directory(run_dir);
    RunStats stats;
    const absl::Status st_ref = RunShape(shape, int64_t{1} << 30, run_dir, &stats);
    ASSERT_TRUE(st_ref.ok()) << st_ref;
    const int64_t total = MinTotalBudgetFor(stats.min_budget_bytes);
    for (int64_t budget : {total - 1, total / 2, int64_t{10} << 20, int64_t{1} << 20, int64_t{1}}) {
      if (budget >= total) continue;
      const absl::Status st = RunShape(shape, budget, run_dir, &stats);
      ASSERT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
      std::smatch m;
      const std::string msg(st.message());
      ASSERT_TRUE(std::regex_search(msg, m, std::regex(R"(\((\d+) bytes\))"))) << msg;
      const int64_t stated = std::stoll(m[1]);
      const absl::Status again = RunShape(shape, stated, run_dir, &stats);
      EXPECT_TRUE(again.ok()) << "budget " << budget << " was refused with \"" << msg
                              << "\"; the stated total " << stated << " is refused too: " << again;
    }
  }
}

}  // namespace
}  // namespace eoscale
