// The engine against plain whole-image references: Map filters with margins,
// several inputs and outputs, chains, reductions, for every worker count,
// tile mode and tile size. Outputs must be bitwise identical to the reference.
#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "eoscale/core/array.h"
#include "eoscale/core/tiling.h"
#include "eoscale/graph/context.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::RandomArray;
using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;
using ::eoscale::testing::WriteTiff;

// ---------------------------------------------------------------------------
// Whole-image references and the same computations as tile filters.

enum class Op { kSum, kMax };

template <typename T>
T Combine(Op op, T acc, T v) {
  return op == Op::kSum ? static_cast<T>(acc + v) : std::max(acc, v);
}

// out(b, y, x) = op over the (2r+1)^2 window around (x, y) clipped to the
// image, visited row by row. The reference for BoxFilter.
template <typename T>
Array RefBox(const Array& in, int r, Op op) {
  const Profile& p = in.profile();
  Array out(p);
  auto src = in.Samples<T>();
  auto dst = out.MutableSamples<T>();
  const int64_t plane = static_cast<int64_t>(p.width) * p.height;
  for (int b = 0; b < p.bands; ++b) {
    for (int y = 0; y < p.height; ++y) {
      for (int x = 0; x < p.width; ++x) {
        const int y0 = std::max(y - r, 0), y1 = std::min(y + r, p.height - 1);
        const int x0 = std::max(x - r, 0), x1 = std::min(x + r, p.width - 1);
        T acc = src[b * plane + static_cast<int64_t>(y0) * p.width + x0];
        bool first = true;
        for (int yy = y0; yy <= y1; ++yy) {
          for (int xx = x0; xx <= x1; ++xx) {
            const T v = src[b * plane + static_cast<int64_t>(yy) * p.width + xx];
            if (first) {
              acc = op == Op::kSum ? static_cast<T>(T{0} + v) : v;
              first = false;
            } else {
              acc = Combine(op, acc, v);
            }
          }
        }
        dst[b * plane + static_cast<int64_t>(y) * p.width + x] = acc;
      }
    }
  }
  return out;
}

// Checks the MapTile contract the engine promises.
absl::Status CheckMapTile(const MapTile& t) {
  for (const ConstView& in : t.inputs) {
    if (!(in.window() == t.tile.Expanded())) {
      return absl::InternalError(absl::StrCat("input view ", DescribeWindow(in.window()),
                                              " is not the expanded tile ", DescribeWindow(t.tile.Expanded())));
    }
  }
  for (const View& out : t.outputs) {
    if (!(out.window() == t.tile.window)) {
      return absl::InternalError(absl::StrCat("output view ", DescribeWindow(out.window()),
                                              " is not the stable window ", DescribeWindow(t.tile.window)));
    }
  }
  if (t.inputs.size() != t.input_profiles.size() || t.outputs.size() != t.output_profiles.size()) {
    return absl::InternalError("views and profiles disagree in number");
  }
  return absl::OkStatus();
}

// The tile version of RefBox: the window is clipped to the input view (so a
// filter declared with a margin smaller than r sees less than the reference).
template <typename T>
MapFilter BoxFilter(int r, int declared_margin, Op op, std::string name = "box") {
  MapFilter f;
  f.name = std::move(name);
  f.margin = declared_margin;
  f.fn = [r, op, declared_margin](const MapTile& t) -> absl::Status {
    if (absl::Status s = CheckMapTile(t); !s.ok()) return s;
    if (declared_margin == r && (t.StableX() != t.tile.left || t.StableY() != t.tile.top)) {
      return absl::InternalError("stable offset disagrees with the margins");
    }
    const ConstView& in = t.inputs[0];
    const auto iv = in.As<T>();
    const auto ov = t.outputs[0].As<T>();
    const Window vw = in.window();
    const Window ow = t.tile.window;
    for (int b = 0; b < in.bands(); ++b) {
      for (int oy = 0; oy < ow.height; ++oy) {
        const int y = ow.y + oy;
        const int y0 = std::max(y - r, vw.y), y1 = std::min(y + r, vw.y + vw.height - 1);
        for (int ox = 0; ox < ow.width; ++ox) {
          const int x = ow.x + ox;
          const int x0 = std::max(x - r, vw.x), x1 = std::min(x + r, vw.x + vw.width - 1);
          T acc{};
          bool first = true;
          for (int yy = y0; yy <= y1; ++yy) {
            for (int xx = x0; xx <= x1; ++xx) {
              const T v = iv(b, yy - vw.y, xx - vw.x);
              if (first) {
                acc = op == Op::kSum ? static_cast<T>(T{0} + v) : v;
                first = false;
              } else {
                acc = Combine(op, acc, v);
              }
            }
          }
          ov(b, oy, ox) = acc;
        }
      }
    }
    return absl::OkStatus();
  };
  return f;
}

// Two inputs (a: f32, b: i16, same band count) -> two outputs:
//   0: f32, a's bands: 3x3 clipped sum of a + b at the centre;
//   1: u8, one band: over all bands and the 3x3 clipped window, how many
//      samples have a > b.
Profile TwoOutProfile0(const Profile& a) {
  Profile p = a;
  p.type = PixelType::kF32;
  return p;
}
Profile TwoOutProfile1(const Profile& a) {
  Profile p = a;
  p.type = PixelType::kU8;
  p.bands = 1;
  p.nodata.reset();
  return p;
}

MapFilter TwoInTwoOutFilter() {
  MapFilter f;
  f.name = "two_in_two_out";
  f.margin = 1;
  f.num_outputs = 2;
  f.profiles = [](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
    return std::vector<Profile>{TwoOutProfile0(in[0]), TwoOutProfile1(in[0])};
  };
  f.fn = [](const MapTile& t) -> absl::Status {
    if (absl::Status s = CheckMapTile(t); !s.ok()) return s;
    const auto a = t.inputs[0].As<float>();
    const auto bb = t.inputs[1].As<int16_t>();
    const auto o0 = t.outputs[0].As<float>();
    const auto o1 = t.outputs[1].As<uint8_t>();
    const Window vw = t.inputs[0].window();
    const Window ow = t.tile.window;
    o1.Fill(0);
    for (int b = 0; b < a.bands(); ++b) {
      for (int oy = 0; oy < ow.height; ++oy) {
        const int y = ow.y + oy;
        const int y0 = std::max(y - 1, vw.y), y1 = std::min(y + 1, vw.y + vw.height - 1);
        for (int ox = 0; ox < ow.width; ++ox) {
          const int x = ow.x + ox;
          const int x0 = std::max(x - 1, vw.x), x1 = std::min(x + 1, vw.x + vw.width - 1);
          float sum = 0.0f;
          int count = 0;
          for (int yy = y0; yy <= y1; ++yy) {
            for (int xx = x0; xx <= x1; ++xx) {
              sum += a(b, yy - vw.y, xx - vw.x);
              count += a(b, yy - vw.y, xx - vw.x) > static_cast<float>(bb(b, yy - vw.y, xx - vw.x));
            }
          }
          o0(b, oy, ox) = sum + static_cast<float>(bb(b, y - vw.y, x - vw.x));
          o1(0, oy, ox) = static_cast<uint8_t>(o1(0, oy, ox) + count);
        }
      }
    }
    return absl::OkStatus();
  };
  return f;
}

std::pair<Array, Array> RefTwoInTwoOut(const Array& a, const Array& b) {
  const Profile& p = a.profile();
  Array o0(TwoOutProfile0(p));
  Array o1(TwoOutProfile1(p));
  auto as = a.Samples<float>();
  auto bs = b.Samples<int16_t>();
  auto s0 = o0.MutableSamples<float>();
  auto s1 = o1.MutableSamples<uint8_t>();
  const int w = p.width, h = p.height;
  auto at = [&](int band, int y, int x) { return static_cast<int64_t>(band) * w * h + static_cast<int64_t>(y) * w + x; };
  for (int band = 0; band < p.bands; ++band) {
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        float sum = 0.0f;
        int count = 0;
        for (int yy = std::max(y - 1, 0); yy <= std::min(y + 1, h - 1); ++yy) {
          for (int xx = std::max(x - 1, 0); xx <= std::min(x + 1, w - 1); ++xx) {
            sum += as[at(band, yy, xx)];
            count += as[at(band, yy, xx)] > static_cast<float>(bs[at(band, yy, xx)]);
          }
        }
        s0[at(band, y, x)] = sum + static_cast<float>(bs[at(band, y, x)]);
        s1[at(0, y, x)] = static_cast<uint8_t>(s1[at(0, y, x)] + count);
      }
    }
  }
  return {std::move(o0), std::move(o1)};
}

// ---------------------------------------------------------------------------
// Configurations.

// Tile size kinds: > 0 explicit, 0 streaming default, -1 one tile per worker.
constexpr int kOnePerWorker = -1;

struct Config {
  int workers;
  TileMode mode;
  int tile;
};

ContextOptions OptionsFor(const Config& c) {
  ContextOptions o;
  o.workers = c.workers;
  o.tiling.mode = c.mode;
  if (c.tile == kOnePerWorker) {
    o.tiling.one_tile_per_worker = true;
  } else {
    o.tiling.tile_size = c.tile;
  }
  return o;
}

std::unique_ptr<Context> MakeContext(const ContextOptions& o) {
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(o);
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  return ctx.ok() ? *std::move(ctx) : nullptr;
}

Profile MakeProfile(int w, int h, int bands, PixelType type) {
  Profile p;
  p.width = w;
  p.height = h;
  p.bands = bands;
  p.type = type;
  p.geotransform = {1000.0, 0.5, 0.0, 2000.0, 0.0, -0.5};
  p.nodata = -9999.0;
  return p;
}

Image MustImage(absl::StatusOr<Image> i) {
  EXPECT_TRUE(i.ok()) << i.status();
  return i.ok() ? *i : Image();
}

std::vector<Image> MustMap(Context& ctx, std::vector<Image> inputs, MapFilter f) {
  absl::StatusOr<std::vector<Image>> out = ctx.Map(inputs, std::move(f));
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : std::vector<Image>();
}

Array MustReadAll(Context& ctx, const Image& i) {
  absl::StatusOr<Array> a = ctx.ReadAll(i);
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? *std::move(a) : Array();
}

Array Copy(const Array& a) {
  Array c(a.profile());
  std::memcpy(c.mutable_data(), a.data(), a.bytes());
  return c;
}

struct Size2 {
  int w, h;
};
const Size2 kImageSizes[] = {{97, 61}, {1, 1}, {130, 257}};

class EngineMatchesReference : public ::testing::TestWithParam<std::tuple<int, TileMode, int>> {
 protected:
  Config config() const {
    return {std::get<0>(GetParam()), std::get<1>(GetParam()), std::get<2>(GetParam())};
  }
};

TEST_P(EngineMatchesReference, BoxSumAndMaxWithMarginsZeroToThree) {
  for (const Size2 s : kImageSizes) {
    SCOPED_TRACE(absl::StrCat(s.w, "x", s.h));
    const Array f = RandomArray(MakeProfile(s.w, s.h, 2, PixelType::kF32), 1);
    const Array g = RandomArray(MakeProfile(s.w, s.h, 1, PixelType::kI16), 2);
    auto ctx = MakeContext(OptionsFor(config()));
    ASSERT_NE(ctx, nullptr);
    const Image fi = MustImage(ctx->FromArray(Copy(f)));
    const Image gi = MustImage(ctx->FromArray(Copy(g)));
    for (int m = 0; m <= 3; ++m) {
      SCOPED_TRACE(absl::StrCat("margin ", m));
      const Array sum = MustReadAll(*ctx, MustMap(*ctx, {fi}, BoxFilter<float>(m, m, Op::kSum, "sum"))[0]);
      EXPECT_TRUE(SameBytes(sum, RefBox<float>(f, m, Op::kSum)));
      EXPECT_EQ(sum.profile(), f.profile());
      const Array max = MustReadAll(*ctx, MustMap(*ctx, {gi}, BoxFilter<int16_t>(m, m, Op::kMax, "max"))[0]);
      EXPECT_TRUE(SameBytes(max, RefBox<int16_t>(g, m, Op::kMax)));
    }
  }
}

TEST_P(EngineMatchesReference, TwoInputsTwoOutputsOfDifferentTypes) {
  for (const Size2 s : kImageSizes) {
    SCOPED_TRACE(absl::StrCat(s.w, "x", s.h));
    const Array a = RandomArray(MakeProfile(s.w, s.h, 2, PixelType::kF32), 3);
    const Array b = RandomArray(MakeProfile(s.w, s.h, 2, PixelType::kI16), 4);
    auto ctx = MakeContext(OptionsFor(config()));
    ASSERT_NE(ctx, nullptr);
    const std::vector<Image> out =
        MustMap(*ctx, {MustImage(ctx->FromArray(Copy(a))), MustImage(ctx->FromArray(Copy(b)))}, TwoInTwoOutFilter());
    ASSERT_EQ(out.size(), 2u);
    const auto [want0, want1] = RefTwoInTwoOut(a, b);
    const Array got0 = MustReadAll(*ctx, out[0]);
    const Array got1 = MustReadAll(*ctx, out[1]);
    EXPECT_TRUE(SameBytes(got0, want0));
    EXPECT_TRUE(SameBytes(got1, want1));
    EXPECT_EQ(got0.profile(), want0.profile());
    EXPECT_EQ(got1.profile(), want1.profile());
  }
}

TEST_P(EngineMatchesReference, ChainOfThreeMapsWithMarginsOneTwoThree) {
  for (const Size2 s : kImageSizes) {
    SCOPED_TRACE(absl::StrCat(s.w, "x", s.h));
    const Array f = RandomArray(MakeProfile(s.w, s.h, 1, PixelType::kF32), 5);
    auto ctx = MakeContext(OptionsFor(config()));
    ASSERT_NE(ctx, nullptr);
    const Image src = MustImage(ctx->FromArray(Copy(f)));
    const Image m1 = MustMap(*ctx, {src}, BoxFilter<float>(1, 1, Op::kSum, "sum1"))[0];
    const Image m2 = MustMap(*ctx, {m1}, BoxFilter<float>(2, 2, Op::kMax, "max2"))[0];
    const Image m3 = MustMap(*ctx, {m2}, BoxFilter<float>(3, 3, Op::kSum, "sum3"))[0];
    const Array want = RefBox<float>(RefBox<float>(RefBox<float>(f, 1, Op::kSum), 2, Op::kMax), 3, Op::kSum);
    EXPECT_TRUE(SameBytes(MustReadAll(*ctx, m3), want));
  }
}

std::string ConfigName(const ::testing::TestParamInfo<std::tuple<int, TileMode, int>>& info) {
  const int tile = std::get<2>(info.param);
  return absl::StrCat("W", std::get<0>(info.param), std::get<1>(info.param) == TileMode::kTiles ? "Tiles" : "Strips",
                      tile == kOnePerWorker ? std::string("OnePerWorker")
                                            : tile == 0 ? std::string("Default") : absl::StrCat("Size", tile));
}

INSTANTIATE_TEST_SUITE_P(AllTilings, EngineMatchesReference,
                         ::testing::Combine(::testing::Values(1, 2, 4, 8),
                                            ::testing::Values(TileMode::kTiles, TileMode::kStrips),
                                            ::testing::Values(7, 16, 64, 0, kOnePerWorker)),
                         ConfigName);

// ---------------------------------------------------------------------------

TEST(MapReduceTest, GeoTiffSourceMatchesReference) {
  TempDir dir;
  const Array a = RandomArray(MakeProfile(130, 257, 2, PixelType::kF32), 6);
  for (int block : {16, 64}) {
    const std::string path = dir.File(absl::StrCat("in", block, ".tif"));
    WriteTiff(a, path, block);
    for (const Config c : {Config{2, TileMode::kTiles, 0}, Config{4, TileMode::kTiles, 64},
                           Config{3, TileMode::kTiles, 7}, Config{2, TileMode::kStrips, 16},
                           Config{2, TileMode::kStrips, kOnePerWorker}}) {
      SCOPED_TRACE(absl::StrCat("block ", block, " workers ", c.workers, " tile ", c.tile));
      auto ctx = MakeContext(OptionsFor(c));
      ASSERT_NE(ctx, nullptr);
      const Image src = MustImage(ctx->Open(path));
      EXPECT_TRUE(SameBytes(MustReadAll(*ctx, src), a));
      const Image sum = MustMap(*ctx, {src}, BoxFilter<float>(2, 2, Op::kSum))[0];
      EXPECT_TRUE(SameBytes(MustReadAll(*ctx, sum), RefBox<float>(a, 2, Op::kSum)));
    }
  }
}

// Sums a tile's samples band by band, row by row.
float TileSum(const ConstView& v) {
  const auto t = v.As<float>();
  float s = 0.0f;
  for (int b = 0; b < t.bands(); ++b)
    for (int y = 0; y < t.rows(); ++y)
      for (int x = 0; x < t.cols(); ++x) s += t(b, y, x);
  return s;
}

ReduceFilter<float> FloatSum() {
  ReduceFilter<float> r;
  r.name = "float_sum";
  r.map = [](const ReduceTile& t) -> absl::StatusOr<float> {
    if (t.inputs.size() != 1 || !(t.inputs[0].window() == t.tile.window)) {
      return absl::InternalError("reduce input is not the stable window");
    }
    return TileSum(t.inputs[0]);
  };
  r.combine = [](float a, float b) { return a + b; };
  return r;
}

// The same partials, from the whole array, folded in raster order.
float RefTileFold(const Array& a, const TileGrid& grid, bool reverse = false) {
  std::vector<float> partials;
  for (const Tile& t : TilesWithMargin(grid, 0)) partials.push_back(TileSum(a.view().Sub(t.window)));
  if (reverse) std::reverse(partials.begin(), partials.end());
  float acc = partials[0];
  for (size_t i = 1; i < partials.size(); ++i) acc = acc + partials[i];
  return acc;
}

TEST(MapReduceTest, FloatSumIsBitwiseTheSameForEveryWorkerCountAndFoldsInTileOrder) {
  const Array a = RandomArray(MakeProfile(130, 257, 2, PixelType::kF32), 7);
  for (const Config base : {Config{0, TileMode::kTiles, 16}, Config{0, TileMode::kTiles, 7},
                            Config{0, TileMode::kStrips, 5}, Config{0, TileMode::kTiles, 0}}) {
    const ContextOptions o0 = OptionsFor(base);
    absl::StatusOr<TileGrid> grid = MakeTileGrid(130, 257, o0.tiling, 1, 256);
    ASSERT_TRUE(grid.ok());
    const float want = RefTileFold(a, *grid);
    if (grid->num_tiles() > 8) {
      // The data must make the order visible, or this test proves nothing.
      ASSERT_NE(std::bit_cast<uint32_t>(want), std::bit_cast<uint32_t>(RefTileFold(a, *grid, true)));
    }
    for (int workers : {1, 2, 4, 8}) {
      SCOPED_TRACE(absl::StrCat("mode ", static_cast<int>(base.mode), " tile ", base.tile, " workers ", workers));
      Config c = base;
      c.workers = workers;
      auto ctx = MakeContext(OptionsFor(c));
      ASSERT_NE(ctx, nullptr);
      const Image src = MustImage(ctx->FromArray(Copy(a)));
      absl::StatusOr<Reduction<float>> red = ctx->Reduce<float>({src}, FloatSum());
      ASSERT_TRUE(red.ok()) << red.status();
      absl::StatusOr<float> got = red->Get();
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(std::bit_cast<uint32_t>(*got), std::bit_cast<uint32_t>(want)) << *got << " vs " << want;
    }
  }
}

TEST(MapReduceTest, MinMaxReduceEqualsWholeImageMinMaxForAnyTiling) {
  using MinMax = std::pair<int16_t, int16_t>;
  for (const Size2 s : kImageSizes) {
    const Array a = RandomArray(MakeProfile(s.w, s.h, 3, PixelType::kI16), 8);
    const auto samples = a.Samples<int16_t>();
    const MinMax want = {*std::min_element(samples.begin(), samples.end()),
                         *std::max_element(samples.begin(), samples.end())};
    for (int workers : {1, 2, 4, 8}) {
      for (TileMode mode : {TileMode::kTiles, TileMode::kStrips}) {
        for (int tile : {7, 16, 64, 0, kOnePerWorker}) {
          SCOPED_TRACE(absl::StrCat(s.w, "x", s.h, " workers ", workers, " mode ", static_cast<int>(mode),
                                    " tile ", tile));
          auto ctx = MakeContext(OptionsFor({workers, mode, tile}));
          ASSERT_NE(ctx, nullptr);
          ReduceFilter<MinMax> r;
          r.name = "minmax";
          r.map = [](const ReduceTile& t) -> absl::StatusOr<MinMax> {
            const auto v = t.inputs[0].As<int16_t>();
            MinMax mm = {std::numeric_limits<int16_t>::max(), std::numeric_limits<int16_t>::min()};
            for (int b = 0; b < v.bands(); ++b)
              for (int y = 0; y < v.rows(); ++y)
                for (int x = 0; x < v.cols(); ++x) {
                  mm.first = std::min(mm.first, v(b, y, x));
                  mm.second = std::max(mm.second, v(b, y, x));
                }
            return mm;
          };
          r.combine = [](MinMax x, MinMax y) {
            return MinMax{std::min(x.first, y.first), std::max(x.second, y.second)};
          };
          absl::StatusOr<Reduction<MinMax>> red = ctx->Reduce<MinMax>({MustImage(ctx->FromArray(Copy(a)))}, r);
          ASSERT_TRUE(red.ok()) << red.status();
          absl::StatusOr<MinMax> got = red->Get();
          ASSERT_TRUE(got.ok()) << got.status();
          EXPECT_EQ(*got, want);
        }
      }
    }
  }
}

TEST(MapReduceTest, MapOutputFeedsAWriteAndAReduceInOneRun) {
  TempDir dir;
  const std::string path = dir.File("sum.tif");
  const Array a = RandomArray(MakeProfile(97, 61, 1, PixelType::kF32), 9);
  ContextOptions o;
  o.workers = 4;
  o.tiling.tile_size = 16;
  auto ctx = MakeContext(o);
  ASSERT_NE(ctx, nullptr);
  const Image sum = MustMap(*ctx, {MustImage(ctx->FromArray(Copy(a)))}, BoxFilter<float>(1, 1, Op::kSum))[0];
  ASSERT_TRUE(ctx->Write(sum, path).ok());
  absl::StatusOr<Reduction<float>> red = ctx->Reduce<float>({sum}, FloatSum());
  ASSERT_TRUE(red.ok()) << red.status();
  ASSERT_TRUE(ctx->Run().ok());
  const int64_t run_tiles = ctx->last_run_stats().tiles;
  EXPECT_EQ(run_tiles, 7 * 4);

  const Array want = RefBox<float>(a, 1, Op::kSum);
  const Array written = ReadTiff(path);
  const Array in_memory = MustReadAll(*ctx, sum);
  EXPECT_TRUE(SameBytes(written, in_memory));
  EXPECT_TRUE(SameBytes(written, want));
  absl::StatusOr<TileGrid> grid = MakeTileGrid(97, 61, o.tiling, o.workers, 256);
  ASSERT_TRUE(grid.ok());
  absl::StatusOr<float> got = red->Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(std::bit_cast<uint32_t>(*got), std::bit_cast<uint32_t>(RefTileFold(want, *grid)));
}

TEST(MapReduceTest, CreateConstantIsAllValueAndKeepsItsProfile) {
  for (PixelType type : kAllPixelTypes) {
    for (const Config c : {Config{1, TileMode::kTiles, 0}, Config{3, TileMode::kTiles, 7},
                           Config{2, TileMode::kStrips, kOnePerWorker}}) {
      SCOPED_TRACE(absl::StrCat(PixelTypeName(type), " workers ", c.workers, " tile ", c.tile));
      Profile p = MakeProfile(53, 29, 3, type);
      p.crs_wkt = "LOCAL_CS[\"test\"]";
      p.writer_options = {"COMPRESS=LZW"};
      auto ctx = MakeContext(OptionsFor(c));
      ASSERT_NE(ctx, nullptr);
      const double value = 7.0;
      const Image img = MustImage(ctx->CreateConstant(p, value));
      absl::StatusOr<Profile> got_profile = img.profile();
      ASSERT_TRUE(got_profile.ok());
      EXPECT_EQ(*got_profile, p);
      const Array got = MustReadAll(*ctx, img);
      EXPECT_EQ(got.profile(), p);
      DispatchPixelType(type, [&]<typename T>() {
        const auto s = got.Samples<T>();
        ASSERT_EQ(s.size(), static_cast<size_t>(53 * 29 * 3));
        for (size_t i = 0; i < s.size(); ++i) ASSERT_EQ(s[i], static_cast<T>(value)) << "sample " << i;
      });
    }
  }
}

TEST(MapReduceTest, FromArrayAndWrapReadBackUnchanged) {
  for (PixelType type : kAllPixelTypes) {
    for (const Size2 s : kImageSizes) {
      SCOPED_TRACE(absl::StrCat(PixelTypeName(type), " ", s.w, "x", s.h));
      const Array a = RandomArray(MakeProfile(s.w, s.h, 2, type), 10);
      ContextOptions o;
      o.workers = 3;
      o.tiling.tile_size = 16;
      auto ctx = MakeContext(o);
      ASSERT_NE(ctx, nullptr);
      EXPECT_TRUE(SameBytes(MustReadAll(*ctx, MustImage(ctx->FromArray(Copy(a)))), a));
      const Array wrapped = Copy(a);
      const Image w = MustImage(ctx->Wrap(wrapped.profile(), wrapped.data()));
      const Array got = MustReadAll(*ctx, w);
      EXPECT_TRUE(SameBytes(got, a));
      EXPECT_EQ(got.profile(), a.profile());
      EXPECT_TRUE(SameBytes(wrapped, a));  // the wrapped memory is not written
    }
  }
}

TEST(MapReduceTest, ConstantKernelLeavesNoOtherValueAnywhere) {
  const Array a = RandomArray(MakeProfile(130, 257, 2, PixelType::kF32), 11);
  for (const Config c : {Config{1, TileMode::kTiles, 7}, Config{4, TileMode::kTiles, 16},
                         Config{8, TileMode::kStrips, 3}, Config{2, TileMode::kTiles, kOnePerWorker},
                         Config{2, TileMode::kStrips, 0}}) {
    SCOPED_TRACE(absl::StrCat("workers ", c.workers, " tile ", c.tile));
    auto ctx = MakeContext(OptionsFor(c));
    ASSERT_NE(ctx, nullptr);
    MapFilter f;
    f.name = "constant";
    f.margin = 2;
    f.profiles = [](absl::Span<const Profile> in) -> absl::StatusOr<std::vector<Profile>> {
      Profile p = in[0];
      p.type = PixelType::kU8;
      p.bands = 1;
      return std::vector<Profile>{p};
    };
    f.fn = [](const MapTile& t) -> absl::Status {
      t.outputs[0].As<uint8_t>().Fill(42);
      return absl::OkStatus();
    };
    const Array got = MustReadAll(*ctx, MustMap(*ctx, {MustImage(ctx->FromArray(Copy(a)))}, f)[0]);
    const auto s = got.Samples<uint8_t>();
    ASSERT_EQ(s.size(), static_cast<size_t>(130 * 257));
    EXPECT_EQ(std::count(s.begin(), s.end(), uint8_t{42}), static_cast<ptrdiff_t>(s.size()));
  }
}

TEST(MapReduceTest, DeclaredMarginIsWhatMakesTileBordersExact) {
  const Array a = RandomArray(MakeProfile(97, 61, 1, PixelType::kF32), 12);
  const Array want = RefBox<float>(a, 2, Op::kSum);
  ContextOptions o;
  o.workers = 2;
  o.tiling.tile_size = 16;
  auto ctx = MakeContext(o);
  ASSERT_NE(ctx, nullptr);
  const Image src = MustImage(ctx->FromArray(Copy(a)));
  const Array with_margin = MustReadAll(*ctx, MustMap(*ctx, {src}, BoxFilter<float>(2, 2, Op::kSum, "m2"))[0]);
  const Array without = MustReadAll(*ctx, MustMap(*ctx, {src}, BoxFilter<float>(2, 0, Op::kSum, "m0"))[0]);
  EXPECT_TRUE(SameBytes(with_margin, want));
  EXPECT_FALSE(SameBytes(without, want));
  // Without a margin, exactly the pixels whose clipped 5x5 window leaves
  // their tile differ.
  const auto w = want.Samples<float>();
  const auto g = without.Samples<float>();
  auto leaves_tile = [](int v, int size) {
    const int t0 = v / 16 * 16, t1 = std::min(t0 + 15, size - 1);
    return std::max(v - 2, 0) < t0 || std::min(v + 2, size - 1) > t1;
  };
  int differing = 0, expected = 0;
  for (int y = 0; y < 61; ++y) {
    for (int x = 0; x < 97; ++x) {
      const bool affected = leaves_tile(x, 97) || leaves_tile(y, 61);
      const bool same = std::bit_cast<uint32_t>(g[y * 97 + x]) == std::bit_cast<uint32_t>(w[y * 97 + x]);
      expected += affected;
      differing += !same;
      if (!affected) {
        ASSERT_TRUE(same) << "x=" << x << " y=" << y;
      }
    }
  }
  EXPECT_GT(expected, 0);
  EXPECT_EQ(differing, expected);
}

// src -> A (margin 1) and src -> B (margin 3); C = f(A, B) with margin 2;
// and D reads src twice. The source is read with the largest margin.
TEST(MapReduceTest, DiamondGraphWithDifferentMarginsMatchesReference) {
  const Array a = RandomArray(MakeProfile(97, 61, 1, PixelType::kF32), 13);
  const Array ra = RefBox<float>(a, 1, Op::kSum);
  const Array rb = RefBox<float>(a, 3, Op::kMax);
  // Reference for C: 5x5 clipped sum of A plus 5x5 clipped max of B.
  const Array rsa = RefBox<float>(ra, 2, Op::kSum);
  const Array rmb = RefBox<float>(rb, 2, Op::kMax);
  Array rc(a.profile());
  for (size_t i = 0; i < rc.MutableSamples<float>().size(); ++i) {
    rc.MutableSamples<float>()[i] = rsa.Samples<float>()[i] + rmb.Samples<float>()[i];
  }
  MapFilter c;
  c.name = "combine";
  c.margin = 2;
  c.fn = [](const MapTile& t) -> absl::Status {
    if (absl::Status s = CheckMapTile(t); !s.ok()) return s;
    const auto va = t.inputs[0].As<float>();
    const auto vb = t.inputs[1].As<float>();
    const auto o = t.outputs[0].As<float>();
    const Window vw = t.inputs[0].window();
    const Window ow = t.tile.window;
    for (int oy = 0; oy < ow.height; ++oy) {
      const int y = ow.y + oy;
      for (int ox = 0; ox < ow.width; ++ox) {
        const int x = ow.x + ox;
        float sum = 0.0f, mx = 0.0f;
        bool first = true;
        for (int yy = std::max(y - 2, vw.y); yy <= std::min(y + 2, vw.y + vw.height - 1); ++yy) {
          for (int xx = std::max(x - 2, vw.x); xx <= std::min(x + 2, vw.x + vw.width - 1); ++xx) {
            sum = first ? 0.0f + va(0, yy - vw.y, xx - vw.x) : sum + va(0, yy - vw.y, xx - vw.x);
            mx = first ? vb(0, yy - vw.y, xx - vw.x) : std::max(mx, vb(0, yy - vw.y, xx - vw.x));
            first = false;
          }
        }
        o(0, oy, ox) = sum + mx;
      }
    }
    return absl::OkStatus();
  };
  MapFilter twice;
  twice.name = "twice";
  twice.margin = 1;
  twice.fn = [](const MapTile& t) -> absl::Status {
    if (absl::Status s = CheckMapTile(t); !s.ok()) return s;
    const auto x0 = t.inputs[0].As<float>();
    const auto x1 = t.inputs[1].As<float>();
    const auto o = t.outputs[0].As<float>();
    for (int y = 0; y < o.rows(); ++y)
      for (int x = 0; x < o.cols(); ++x) o(0, y, x) = x0(0, y + t.StableY(), x + t.StableX()) - x1(0, y + t.StableY(), x + t.StableX());
    return absl::OkStatus();
  };
  for (const Config cfg : {Config{1, TileMode::kTiles, 7}, Config{4, TileMode::kTiles, 16},
                           Config{2, TileMode::kStrips, 5}, Config{8, TileMode::kTiles, kOnePerWorker}}) {
    SCOPED_TRACE(absl::StrCat("workers ", cfg.workers, " tile ", cfg.tile));
    auto ctx = MakeContext(OptionsFor(cfg));
    ASSERT_NE(ctx, nullptr);
    const Image src = MustImage(ctx->FromArray(Copy(a)));
    const Image ia = MustMap(*ctx, {src}, BoxFilter<float>(1, 1, Op::kSum, "A"))[0];
    const Image ib = MustMap(*ctx, {src}, BoxFilter<float>(3, 3, Op::kMax, "B"))[0];
    const Image ic = MustMap(*ctx, {ia, ib}, c)[0];
    const Image id = MustMap(*ctx, {src, src}, twice)[0];
    EXPECT_TRUE(SameBytes(MustReadAll(*ctx, ic), rc));
    const Array d = MustReadAll(*ctx, id);
    const auto ds = d.Samples<float>();
    EXPECT_EQ(std::count(ds.begin(), ds.end(), 0.0f), static_cast<ptrdiff_t>(ds.size()));
    EXPECT_TRUE(SameBytes(MustReadAll(*ctx, ia), ra));
    EXPECT_TRUE(SameBytes(MustReadAll(*ctx, ib), rb));
  }
}

// Two connected parts of different sizes in one Run: each gets its own
// tiling, both are right.
TEST(MapReduceTest, ImagesOfDifferentSizesRunInOnePass) {
  TempDir dir;
  const Array big = RandomArray(MakeProfile(130, 257, 1, PixelType::kF32), 14);
  const Array small = RandomArray(MakeProfile(31, 17, 1, PixelType::kF32), 15);
  ContextOptions o;
  o.workers = 2;
  o.tiling.tile_size = 16;
  auto ctx = MakeContext(o);
  ASSERT_NE(ctx, nullptr);
  const Image b = MustMap(*ctx, {MustImage(ctx->FromArray(Copy(big)))}, BoxFilter<float>(2, 2, Op::kSum))[0];
  const Image s = MustMap(*ctx, {MustImage(ctx->FromArray(Copy(small)))}, BoxFilter<float>(1, 1, Op::kMax))[0];
  ASSERT_TRUE(ctx->Write(b, dir.File("big.tif")).ok());
  ASSERT_TRUE(ctx->Write(s, dir.File("small.tif")).ok());
  absl::StatusOr<Reduction<float>> rs = ctx->Reduce<float>({s}, FloatSum());
  ASSERT_TRUE(rs.ok());
  const absl::Status st = ctx->Run();
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("big.tif")), RefBox<float>(big, 2, Op::kSum)));
  const Array want_small = RefBox<float>(small, 1, Op::kMax);
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("small.tif")), want_small));
  absl::StatusOr<TileGrid> grid = MakeTileGrid(31, 17, o.tiling, 2, 256);
  ASSERT_TRUE(grid.ok());
  absl::StatusOr<float> v = rs->Get();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(std::bit_cast<uint32_t>(*v), std::bit_cast<uint32_t>(RefTileFold(want_small, *grid)));
}

TEST(MapReduceTest, ReadAllAndGetDoNotRunPendingWritesAndNothingRunsTwice) {
  TempDir dir;
  const Array a = RandomArray(MakeProfile(40, 30, 1, PixelType::kF32), 16);
  ContextOptions o;
  o.workers = 2;
  o.tiling.tile_size = 16;  // 3 x 2 tiles
  auto ctx = MakeContext(o);
  ASSERT_NE(ctx, nullptr);
  const Image src = MustImage(ctx->FromArray(Copy(a)));
  ASSERT_TRUE(ctx->Write(src, dir.File("out.tif")).ok());
  auto reduce_calls = std::make_shared<std::atomic<int>>(0);
  ReduceFilter<float> r = FloatSum();
  r.map = [reduce_calls](const ReduceTile& t) -> absl::StatusOr<float> {
    ++*reduce_calls;
    return TileSum(t.inputs[0]);
  };
  absl::StatusOr<Reduction<float>> red = ctx->Reduce<float>({src}, r);
  ASSERT_TRUE(red.ok());

  EXPECT_TRUE(SameBytes(MustReadAll(*ctx, src), a));
  EXPECT_TRUE(dir.List().empty()) << "ReadAll ran a pending Write";
  EXPECT_EQ(reduce_calls->load(), 0) << "ReadAll ran a pending Reduce";
  absl::StatusOr<float> v1 = red->Get();
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(reduce_calls->load(), 6);
  EXPECT_TRUE(dir.List().empty()) << "Get ran a pending Write";

  ASSERT_TRUE(ctx->Run().ok());
  EXPECT_EQ(reduce_calls->load(), 6) << "Run recomputed a reduction already computed";
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("out.tif")), a));
  absl::StatusOr<float> v2 = red->Get();
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(std::bit_cast<uint32_t>(*v1), std::bit_cast<uint32_t>(*v2));
  EXPECT_EQ(reduce_calls->load(), 6);
  ASSERT_TRUE(ctx->Run().ok());  // nothing pending
  EXPECT_EQ(reduce_calls->load(), 6);
}

}  // namespace
}  // namespace eoscale
