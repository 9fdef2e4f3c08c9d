// The streaming default tile follows the data (issue 12, item 8): aligned to
// the inputs' blocks (rectangular, a whole number of every input's blocks
// where the cap allows, the largest blocks first), grown for long chains of
// margins, and looking through VRTs to the blocks of their sources. Every
// raster is generated here; the whole file runs in a few seconds.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cpl_string.h"
#include "eoscale/core/array.h"
#include "eoscale/core/raster_io.h"
#include "eoscale/core/tiling.h"
#include "eoscale/graph/context.h"
#include "eoscale/io/gdal_raster.h"
#include "gdal.h"
#include "gdal_utils.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;

DefaultTile Choose(int w, int h, std::vector<BlockSize> blocks, int margin = 0) {
  return ChooseDefaultTile(w, h, blocks, margin);
}

// --- ChooseDefaultTile -------------------------------------------------------

TEST(DefaultTileTest, WithoutBlocksIsTheMinimumSquare) {
  EXPECT_EQ(Choose(10000, 10000, {}), (DefaultTile{256, 256, 1}));
  EXPECT_EQ(Choose(10000, 10000, {{0, 0}, {-1, 5}}), (DefaultTile{256, 256, 1}));
}

TEST(DefaultTileTest, SquareBlocksGiveTheirSmallestMultipleOfAtLeast256) {
  for (auto [block, side] : std::vector<std::pair<int, int>>{
           {16, 256}, {100, 300}, {128, 256}, {256, 256}, {300, 300}, {512, 512}, {1024, 1024}, {2048, 2048}}) {
    SCOPED_TRACE(block);
    EXPECT_EQ(Choose(10980, 10980, {{block, block}}), (DefaultTile{side, side, block}));
  }
}

// A block above the cap is still read once: a smaller tile would decode it
// again for each tile it holds.
TEST(DefaultTileTest, ABlockAboveTheCapIsOneTile) {
  EXPECT_EQ(Choose(10000, 10000, {{4096, 4096}}), (DefaultTile{4096, 4096, 4096}));
}

TEST(DefaultTileTest, RectangularBlocksGiveRectangularTiles) {
  EXPECT_EQ(Choose(10000, 10000, {{1024, 256}}), (DefaultTile{1024, 256, 256}));
  EXPECT_EQ(Choose(10000, 10000, {{256, 1024}}), (DefaultTile{256, 1024, 1024}));
  EXPECT_EQ(Choose(10000, 10000, {{512, 128}}), (DefaultTile{512, 128, 128}));
}

// Sentinel-2 L2A: JPEG 2000 bands in 1024^2 blocks beside 256^2 GeoTIFFs.
TEST(DefaultTileTest, JpegTwoThousandBlocksWithGeoTiffBlocksGiveTheLargerBlock) {
  EXPECT_EQ(Choose(10980, 10980, {{256, 256}, {1024, 1024}, {256, 256}}), (DefaultTile{1024, 1024, 1024}));
}

TEST(DefaultTileTest, DisagreeingBlocksTakeTheLeastCommonMultiple) {
  EXPECT_EQ(Choose(10000, 10000, {{512, 512}, {768, 768}}), (DefaultTile{1536, 1536, 1536}));
  EXPECT_EQ(Choose(10000, 10000, {{256, 512}, {512, 256}}), (DefaultTile{512, 512, 512}));
  EXPECT_EQ(Choose(10000, 10000, {{96, 96}, {128, 128}}), (DefaultTile{384, 384, 384}));
}

// lcm(768, 1024) = 3072 is beyond the cap: the 1024^2 blocks (the largest,
// the costliest to decode) are read once, whatever the inputs' order.
TEST(DefaultTileTest, LcmBeyondTheCapHonoursTheLargestBlocks) {
  EXPECT_EQ(Choose(10000, 10000, {{768, 768}, {1024, 1024}}), (DefaultTile{1024, 1024, 1024}));
  EXPECT_EQ(Choose(10000, 10000, {{1024, 1024}, {768, 768}}), (DefaultTile{1024, 1024, 1024}));
  EXPECT_EQ(Choose(10000, 10000, {{1536, 1536}, {1024, 1024}, {256, 256}}), (DefaultTile{1536, 1536, 1536}));
  // 1024 is kept, 768 is not, 256 divides 1024 and is kept.
  EXPECT_EQ(AlignmentOf({{768, 768}, {256, 256}, {1024, 1024}}, 10000, 10000), (BlockSize{1024, 1024}));
}

// Strip-organised GeoTIFFs (blocks of W x 1 or W x 16): full-width strips of
// whole block rows holding about as many pixels as a 256^2 tile.
TEST(DefaultTileTest, StripOrganisedInputsGiveFullWidthStripsOfWholeBlockRows) {
  EXPECT_EQ(Choose(10980, 10980, {{10980, 1}}), (DefaultTile{10980, 6, 1}));
  EXPECT_EQ(Choose(10980, 10980, {{10980, 16}}), (DefaultTile{10980, 16, 16}));
  EXPECT_EQ(Choose(3000, 5000, {{3000, 8}}), (DefaultTile{3000, 24, 8}));
  for (int w : {300, 1000, 3000, 10980, 40000}) {
    for (int rows : {1, 2, 7, 16, 64}) {
      SCOPED_TRACE(absl::StrCat(w, "x", rows));
      const DefaultTile t = Choose(w, 100000, {{w, rows}});
      EXPECT_EQ(t.width, w);
      EXPECT_EQ(t.height % rows, 0);
      EXPECT_GE(int64_t{t.height} * w, int64_t{256} * 256 - w);  // about 256^2 pixels, at least one block
      EXPECT_TRUE(t.height == rows || int64_t{t.height - rows} * w < int64_t{256} * 256) << t.height;
    }
  }
  // Narrower than a default tile: 256 rows, as for any image that narrow.
  EXPECT_EQ(Choose(130, 10000, {{130, 16}}), (DefaultTile{130, 256, 16}));
}

// A strip input beside a tiled one: full-width strips of 1024 rows would
// exceed the cap, so the JPEG 2000 blocks (larger) are the ones read once.
TEST(DefaultTileTest, StripsBesideLargeBlocksKeepTheLargeBlocks) {
  EXPECT_EQ(Choose(10980, 10980, {{10980, 16}, {1024, 1024}}), (DefaultTile{1024, 1024, 1024}));
  // Small enough to fit: full-width strips of 256 rows hold both.
  EXPECT_EQ(Choose(2000, 2000, {{2000, 16}, {256, 256}}), (DefaultTile{2000, 256, 256}));
}

TEST(DefaultTileTest, SmallImagesAreOneTileAcross) {
  EXPECT_EQ(Choose(130, 257, {{256, 256}}), (DefaultTile{130, 256, 256}));
  EXPECT_EQ(Choose(100, 100, {{256, 256}}), (DefaultTile{100, 100, 100}));
  EXPECT_EQ(Choose(1, 1, {{256, 256}}), (DefaultTile{1, 1, 1}));
  EXPECT_EQ(Choose(5000, 100, {{256, 256}}), (DefaultTile{256, 100, 100}));
}

// A tile of side s reads (s + 2M)^2 pixels: the side grows to 4 M (in
// whole blocks, up to the cap) so that margins stay a moderate overhead.
TEST(DefaultTileTest, LongChainsOfMarginsGrowTheTile) {
  for (int m : {0, 1, 16, 32, 64}) EXPECT_EQ(Choose(10000, 10000, {{256, 256}}, m), (DefaultTile{256, 256, 256}));
  EXPECT_EQ(Choose(10000, 10000, {}, 100), (DefaultTile{400, 400, 1}));
  EXPECT_EQ(Choose(10000, 10000, {{256, 256}}, 101), (DefaultTile{512, 512, 256}));  // EOScale's pipeline
  EXPECT_EQ(Choose(10000, 10000, {{1024, 1024}}, 200), (DefaultTile{1024, 1024, 1024}));
  EXPECT_EQ(Choose(10000, 10000, {{1024, 1024}}, 400), (DefaultTile{2048, 2048, 1024}));
  EXPECT_EQ(Choose(10000, 10000, {{256, 256}}, 100000), (DefaultTile{2048, 2048, 256}));
  EXPECT_EQ(Choose(10000, 10000, {{768, 768}}, 400), (DefaultTile{1536, 1536, 768}));  // 2304 is over the cap
  // Strips are not left thinner than 4 M rows.
  EXPECT_EQ(Choose(10980, 10980, {{10980, 16}}, 100), (DefaultTile{10980, 400, 16}));
  EXPECT_EQ(Choose(10000, 10000, {{1024, 256}}, 200), (DefaultTile{1024, 1024, 256}));
}

// Whatever the blocks: each side is a multiple of the alignment unit (or the
// whole extent), within the cap unless one unit is beyond it, and the grid
// made of it covers the image with tiles holding whole honoured blocks.
TEST(DefaultTileTest, EverySideIsAWholeNumberOfUnitsWithinTheCap) {
  std::mt19937 rng(12);
  const int kBlocks[] = {1, 16, 64, 100, 128, 256, 384, 512, 640, 768, 1024, 1536, 2048, 3000};
  for (int i = 0; i < 2000; ++i) {
    const int w = std::uniform_int_distribution<int>(1, 30000)(rng);
    const int h = std::uniform_int_distribution<int>(1, 30000)(rng);
    std::vector<BlockSize> blocks;
    const int n = std::uniform_int_distribution<int>(0, 4)(rng);
    for (int k = 0; k < n; ++k) {
      const int bw = rng() % 4 == 0 ? w : kBlocks[rng() % std::size(kBlocks)];
      const int bh = kBlocks[rng() % std::size(kBlocks)];
      blocks.push_back({bw, bh});
    }
    const int margin = rng() % 3 == 0 ? static_cast<int>(rng() % 400) : 0;
    SCOPED_TRACE(absl::StrCat(w, "x", h, " margin ", margin, " blocks ", blocks.size()));
    const BlockSize unit = AlignmentOf(blocks, w, h);
    const DefaultTile t = ChooseDefaultTile(w, h, blocks, margin);
    ASSERT_TRUE(t.width == w || (t.width % unit.width == 0 && t.width < w)) << t.width << " " << unit.width;
    ASSERT_TRUE(t.height == h || (t.height % unit.height == 0 && t.height < h)) << t.height << " " << unit.height;
    ASSERT_TRUE(t.width <= kMaxDefaultTileSide || t.width == unit.width || t.width == w) << t.width;
    ASSERT_TRUE(t.height <= kMaxDefaultTileSide || t.height == unit.height) << t.height;
    // Not smaller than needed: at least 256 a side unless the other side
    // is long or the extent is shorter.
    if (t.width < std::min(w, kMinDefaultTileSide)) {
      ASSERT_GT(t.height, kMinDefaultTileSide);
    }
    if (t.height < std::min(h, kMinDefaultTileSide)) {
      ASSERT_GT(t.width, kMinDefaultTileSide);
    }
    // The largest block is always honoured.
    if (!blocks.empty()) {
      BlockSize big{0, 0};  // ties: the wider, then the taller
      auto key = [](const BlockSize& b) { return std::make_tuple(int64_t{b.width} * b.height, b.width, b.height); };
      for (const BlockSize& b : blocks) {
        const BlockSize c{std::min(b.width, w), std::min(b.height, h)};
        if (key(c) > key(big)) big = c;
      }
      ASSERT_TRUE(unit.width == w || unit.width % big.width == 0) << unit.width << " " << big.width;
      ASSERT_TRUE(unit.height == h || unit.height % big.height == 0) << unit.height << " " << big.height;
    }
  }
}

TEST(DefaultTileTest, MakeTileGridUsesTheDefaultTileAndItsRowStepForStrips) {
  absl::StatusOr<TileGrid> g = MakeTileGrid(3000, 2500, TilingOptions{}, 2, DefaultTile{1024, 512, 512});
  ASSERT_TRUE(g.ok()) << g.status();
  int tw = 0, th = 0;
  ASSERT_TRUE(g->IsUniform(&tw, &th));
  EXPECT_EQ(tw, 1024);
  EXPECT_EQ(th, 512);
  EXPECT_EQ(g->tiles_x(), 3);
  EXPECT_EQ(g->tiles_y(), 5);
  // Strips hold about one default tile of pixels, in whole block rows.
  TilingOptions strips;
  strips.mode = TileMode::kStrips;
  g = MakeTileGrid(3000, 2500, strips, 2, DefaultTile{1024, 1024, 1024});
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(g->IsUniform(&tw, &th));
  EXPECT_EQ(tw, 3000);
  EXPECT_EQ(th, 1024);  // 1024^2 / 3000 = 349 rows, rounded up to a block row
  g = MakeTileGrid(3000, 2500, strips, 2, DefaultTile{256, 256, 1});
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(g->IsUniform(&tw, &th));
  EXPECT_EQ(th, 21);
  // An explicit size keeps its meaning.
  TilingOptions fixed;
  fixed.tile_size = 300;
  g = MakeTileGrid(3000, 2500, fixed, 2, DefaultTile{1024, 512, 512});
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(g->IsUniform(&tw, &th));
  EXPECT_EQ(tw, 300);
  EXPECT_EQ(th, 300);
}

// --- Through a Context -------------------------------------------------------

// A u16 image with pixel (x, y) = (x + 7 y) mod 65521, reporting any block.
class PatternSource final : public RasterSource {
 public:
  PatternSource(int w, int h, int bw, int bh) : bw_(bw), bh_(bh) {
    profile_.width = w;
    profile_.height = h;
    profile_.bands = 1;
    profile_.type = PixelType::kU16;
  }
  const Profile& profile() const override { return profile_; }
  int block_width() const override { return bw_; }
  int block_height() const override { return bh_; }
  absl::Status Read(const View& dst) override {
    auto v = dst.As<uint16_t>();
    const Window& w = dst.window();
    for (int y = 0; y < w.height; ++y)
      for (int x = 0; x < w.width; ++x) v(0, y, x) = static_cast<uint16_t>((w.x + x + 7 * (w.y + y)) % 65521);
    return absl::OkStatus();
  }
  const std::string& description() const override { return name_; }

 private:
  Profile profile_;
  int bw_, bh_;
  std::string name_ = "pattern";
};

// Counts the reads that touch each `block` x `block` block of `inner`.
class CountingSource final : public RasterSource {
 public:
  CountingSource(std::shared_ptr<RasterSource> inner, int block)
      : inner_(std::move(inner)), block_(block),
        cols_((inner_->profile().width + block - 1) / block),
        counts_(static_cast<size_t>(cols_) * ((inner_->profile().height + block - 1) / block)) {}
  const Profile& profile() const override { return inner_->profile(); }
  int block_width() const override { return inner_->block_width(); }
  int block_height() const override { return inner_->block_height(); }
  absl::Status Read(const View& dst) override {
    const Window& w = dst.window();
    for (int by = w.y / block_; by <= (w.y + w.height - 1) / block_; ++by)
      for (int bx = w.x / block_; bx <= (w.x + w.width - 1) / block_; ++bx)
        counts_[static_cast<size_t>(by) * cols_ + bx].fetch_add(1, std::memory_order_relaxed);
    return inner_->Read(dst);
  }
  const std::string& description() const override { return inner_->description(); }
  std::vector<int> Counts() const {
    std::vector<int> c;
    for (const auto& n : counts_) c.push_back(n.load());
    return c;
  }

 private:
  std::shared_ptr<RasterSource> inner_;
  int block_, cols_;
  std::vector<std::atomic<int>> counts_;
};

// out = a + b + (a at distance `margin` above, where the tile holds it): a
// filter whose tiles read their margin, exact for any tiling.
MapFilter SumWithNeighbour(int inputs, int margin) {
  MapFilter f;
  f.name = "sum_with_neighbour";
  f.margin = margin;
  f.profiles = [](auto in) -> absl::StatusOr<std::vector<Profile>> {
    Profile p = in[0];
    p.bands = 1;
    p.type = PixelType::kU32;
    return std::vector<Profile>{p};
  };
  f.fn = [inputs, margin](const MapTile& t) {
    auto out = t.Out<uint32_t>(0);
    auto a = t.In<uint16_t>(0);
    auto b = t.In<uint16_t>(inputs > 1 ? 1 : 0);
    for (int y = 0; y < out.rows(); ++y) {
      uint32_t* o = out.Row(0, y);
      for (int x = 0; x < out.cols(); ++x) {
        uint32_t v = a(0, y, x);
        if (inputs > 1) v += b(0, y, x);
        if (a.Contains(y - margin, x)) v += 3u * a(0, y - margin, x);
        o[x] = v;
      }
    }
    return absl::OkStatus();
  };
  return f;
}

struct RunResult {
  Array out;
  int tile_width = 0, tile_height = 0;
};

// Runs SumWithNeighbour chained `chain` times over `sources` with `tile_size`
// (0: the default) and returns the output in memory (only `window` of it
// when given: a region run).
RunResult RunSum(const std::vector<std::shared_ptr<RasterSource>>& sources, int tile_size, int margin = 0,
                 int chain = 1, std::optional<Window> window = std::nullopt) {
  ContextOptions o;
  o.workers = 2;
  o.tiling.tile_size = tile_size;
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(o);
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  if (!ctx.ok()) return {};
  std::vector<Image> in;
  for (const auto& s : sources) {
    absl::StatusOr<Image> img = (*ctx)->Open(s);
    EXPECT_TRUE(img.ok()) << img.status();
    if (!img.ok()) return {};
    in.push_back(*img);
  }
  absl::StatusOr<std::vector<Image>> out = (*ctx)->Map(in, SumWithNeighbour(static_cast<int>(in.size()), margin));
  for (int i = 1; i < chain && out.ok(); ++i) {
    MapFilter pass;
    pass.name = "pass";
    pass.margin = margin;
    pass.fn = [](const MapTile& t) {
      auto a = t.In<uint32_t>(0);
      auto o = t.Out<uint32_t>(0);
      for (int y = 0; y < o.rows(); ++y)
        for (int x = 0; x < o.cols(); ++x) o(0, y, x) = a(0, y, x) + 1;
      return absl::OkStatus();
    };
    out = (*ctx)->Map({(*out)[0]}, pass);
  }
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return {};
  absl::StatusOr<Array> a = (*ctx)->ReadAll((*out)[0], window);
  EXPECT_TRUE(a.ok()) << a.status();
  if (!a.ok()) return {};
  return {*std::move(a), (*ctx)->last_run_stats().tile_width, (*ctx)->last_run_stats().tile_height};
}

TEST(DefaultTileTest, TheEngineAlignsItsTilesToTheBlocksOfItsSources) {
  auto jp2_like = std::make_shared<PatternSource>(2100, 1100, 1024, 1024);
  auto tiff_like = std::make_shared<PatternSource>(2100, 1100, 256, 256);
  RunResult r = RunSum({tiff_like, jp2_like}, 0);
  EXPECT_EQ(r.tile_width, 1024);
  EXPECT_EQ(r.tile_height, 1024);
  r = RunSum({tiff_like}, 0);
  EXPECT_EQ(r.tile_width, 256);
  EXPECT_EQ(r.tile_height, 256);
  auto strips = std::make_shared<PatternSource>(2100, 1100, 2100, 16);
  r = RunSum({strips}, 0);
  EXPECT_EQ(r.tile_width, 2100);
  EXPECT_EQ(r.tile_height, 32);  // 65536 / 2100 = 32 rows, in whole blocks of 16
}

// Chains of 3 filters of margin 40: 120 pixels around each tile, so 512^2
// tiles (4 x 120 = 480, in whole 256^2 blocks), not 256^2.
TEST(DefaultTileTest, TheEngineGrowsItsTilesForLongChainsOfMargins) {
  auto tiff_like = std::make_shared<PatternSource>(1100, 800, 256, 256);
  const RunResult r = RunSum({tiff_like}, 0, 40, 3);
  EXPECT_EQ(r.tile_width, 512);
  EXPECT_EQ(r.tile_height, 512);
  const RunResult explicit_tiles = RunSum({tiff_like}, 256, 40, 3);
  EXPECT_EQ(explicit_tiles.tile_width, 256);
  EXPECT_TRUE(SameBytes(r.out, explicit_tiles.out));
}

// --- GDAL files --------------------------------------------------------------

// Writes a u16 raster of `bands` bands (pixel-interleaved) with pixel
// (x, y) of band b = (x + 7 y + seed + b) mod 251 (few bit planes: a JPEG
// 2000 file codes and decodes fast) through `driver`'s
// CreateCopy with creation `options`.
void WriteRaster(const std::string& path, const char* driver, int w, int h, int seed,
                 std::vector<std::string> options, double x0 = 0, double y0 = 0, int bands = 1) {
  io::EnsureGdalInitialized();
  GDALDatasetH mem = GDALCreate(GDALGetDriverByName("MEM"), "", w, h, bands, GDT_UInt16, nullptr);
  ASSERT_NE(mem, nullptr);
  std::vector<uint16_t> px(static_cast<size_t>(w) * h);
  for (int b = 1; b <= bands; ++b) {
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        px[static_cast<size_t>(y) * w + x] = static_cast<uint16_t>((x + 7 * y + seed + b) % 251);
    ASSERT_EQ(GDALRasterIO(GDALGetRasterBand(mem, b), GF_Write, 0, 0, w, h, px.data(), w, h, GDT_UInt16, 0, 0),
              CE_None);
  }
  double gt[6] = {x0, 1, 0, y0, 0, -1};
  GDALSetGeoTransform(mem, gt);
  char** opts = nullptr;
  for (const std::string& o : options) opts = CSLAddString(opts, o.c_str());
  GDALDatasetH out = GDALCreateCopy(GDALGetDriverByName(driver), path.c_str(), mem, FALSE, opts, nullptr, nullptr);
  CSLDestroy(opts);
  GDALClose(mem);
  ASSERT_NE(out, nullptr) << path;
  GDALClose(out);
}

void WriteTiled(const std::string& path, int w, int h, int bw, int bh, int seed, double x0 = 0, double y0 = 0,
                int bands = 1) {
  WriteRaster(path, "GTiff", w, h, seed,
              {"TILED=YES", absl::StrCat("BLOCKXSIZE=", bw), absl::StrCat("BLOCKYSIZE=", bh)}, x0, y0, bands);
}

// Lossless JPEG 2000 in `block`^2 blocks (Sentinel-2 L2A's layout, smaller).
void WriteJp2(const std::string& path, int w, int h, int block, int seed) {
  WriteRaster(path, "JP2OpenJPEG", w, h, seed,
              {absl::StrCat("BLOCKXSIZE=", block), absl::StrCat("BLOCKYSIZE=", block), "REVERSIBLE=YES",
               "QUALITY=100", "RESOLUTIONS=1"});
}

// gdalbuildvrt over `files` (-separate: one band per file).
std::string BuildVrt(const TempDir& dir, const std::string& name, const std::vector<std::string>& files,
                     bool separate) {
  return testing::GdalBuildVrt(dir.File(name), files,
                               separate ? std::vector<std::string>{"-separate"} : std::vector<std::string>{});
}

std::shared_ptr<RasterSource> MustOpen(const std::string& path, std::vector<int> bands = {}) {
  absl::StatusOr<std::shared_ptr<RasterSource>> s = DefaultRasterFormat()->Open(path, std::move(bands));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : nullptr;
}

// gdalbuildvrt gives a mosaic's bands 128^2 blocks: the default tile is
// aligned to the 256^2 blocks of the GeoTIFFs behind them.
TEST(DefaultTileTest, VrtMosaicOf256TiledGeoTiffsGivesA256AlignedDefault) {
  TempDir dir;
  std::vector<std::string> tiles;
  for (int i = 0; i < 4; ++i) {
    tiles.push_back(dir.File(absl::StrCat("t", i, ".tif")));
    WriteTiled(tiles.back(), 512, 512, 256, 256, i, 512.0 * (i % 2), -512.0 * (i / 2));
  }
  const std::string vrt = BuildVrt(dir, "mosaic.vrt", tiles, false);
  std::shared_ptr<RasterSource> src = MustOpen(vrt);
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(src->profile().width, 1024);
  EXPECT_EQ(src->block_width(), 256);
  EXPECT_EQ(src->block_height(), 256);
  const RunResult r = RunSum({src}, 0);
  EXPECT_EQ(r.tile_width, 256);
  EXPECT_EQ(r.tile_height, 256);
  // A VRT of that VRT: looked through twice.
  std::shared_ptr<RasterSource> nested = MustOpen(BuildVrt(dir, "nested.vrt", {vrt}, false));
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->block_width(), 256);
}

// Reading a mosaic of pixel-interleaved GeoTIFFs drops the blocks its
// sources brought into GDAL's cache (flushing a VRT band leaves some of its
// sources' blocks there: a 7000^2 mosaic water mask grew the cache to
// 508 MiB of RSS under a 48 MiB budget).
TEST(DefaultTileTest, ReadingAVrtMosaicLeavesNoSourceBlockInGdalsCache) {
  TempDir dir;
  std::vector<std::string> tiles;
  for (int i = 0; i < 4; ++i) {
    tiles.push_back(dir.File(absl::StrCat("t", i, ".tif")));
    WriteTiled(tiles.back(), 500, 500, 256, 256, i, 500.0 * (i % 2), -500.0 * (i / 2), 4);
  }
  std::shared_ptr<RasterSource> src = MustOpen(BuildVrt(dir, "mosaic.vrt", tiles, false), {2, 4});
  ASSERT_NE(src, nullptr);
  const GIntBig before = GDALGetCacheUsed64();
  Array a(src->profile());
  for (int y = 0; y < 1000; y += 256) {
    for (int x = 0; x < 1000; x += 256) {
      const Window w{x, y, std::min(256, 1000 - x), std::min(256, 1000 - y)};
      ASSERT_TRUE(src->Read(a.mutable_view().Sub(w)).ok());
      EXPECT_LE(GDALGetCacheUsed64(), before) << DescribeWindow(w);
    }
  }
}

// A -separate VRT whose sources disagree reports the lcm-style unit: every
// source's blocks whole where the cap allows, the largest first.
TEST(DefaultTileTest, VrtWhoseSourcesDisagreeReportsTheirCommonUnit) {
  TempDir dir;
  const std::string a = dir.File("a.tif"), b = dir.File("b.tif"), c = dir.File("c.tif");
  WriteTiled(a, 1600, 1600, 512, 512, 1);
  WriteTiled(b, 1600, 1600, 768, 768, 2);
  WriteTiled(c, 1600, 1600, 256, 256, 3);
  std::shared_ptr<RasterSource> ab = MustOpen(BuildVrt(dir, "ab.vrt", {a, b}, true));
  ASSERT_NE(ab, nullptr);
  EXPECT_EQ(ab->block_width(), 1536);
  EXPECT_EQ(ab->block_height(), 1536);
  // Only the selected bands count.
  std::shared_ptr<RasterSource> ac = MustOpen(BuildVrt(dir, "abc.vrt", {a, b, c}, true), {1, 3});
  ASSERT_NE(ac, nullptr);
  EXPECT_EQ(ac->block_width(), 512);
  // Strips and tiles in one VRT: full-width strips of whole tiles.
  const std::string s = dir.File("s.tif");
  WriteRaster(s, "GTiff", 1600, 1600, 4, {"TILED=NO", "BLOCKYSIZE=16"});
  std::shared_ptr<RasterSource> sc = MustOpen(BuildVrt(dir, "sc.vrt", {s, c}, true));
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(sc->block_width(), 1600);
  EXPECT_EQ(sc->block_height(), 256);
}

// A strip-organised GeoTIFF is read in full-width strips of whole block rows,
// and the result does not depend on the tiling.
TEST(DefaultTileTest, StripOrganisedGeoTiffIsReadInFullWidthStrips) {
  TempDir dir;
  const std::string s = dir.File("s.tif");
  WriteRaster(s, "GTiff", 1500, 700, 5, {"TILED=NO", "BLOCKYSIZE=16"});
  std::shared_ptr<RasterSource> src = MustOpen(s);
  ASSERT_NE(src, nullptr);
  ASSERT_EQ(src->block_width(), 1500);
  const RunResult r = RunSum({src}, 0, 2);
  EXPECT_EQ(r.tile_width, 1500);
  EXPECT_EQ(r.tile_height, 48);  // 65536 / 1500 = 44 rows, in whole blocks of 16
  for (int size : {100, 256}) {
    SCOPED_TRACE(size);
    EXPECT_TRUE(SameBytes(r.out, RunSum({src}, size, 2).out));
  }
}

// The point of it all: with the default tile each 1024^2 block of a lossless
// JPEG 2000 band is read (decoded) once; 256^2 tiles touch it 16 times (run
// on the first block only, to keep the test short). The outputs are bitwise
// the same, beside a 256^2-tiled GeoTIFF.
TEST(DefaultTileTest, EachJpegTwoThousandBlockIsReadOnceWithTheDefaultTile) {
  TempDir dir;
  const std::string jp2 = dir.File("b.jp2"), tif = dir.File("g.tif");
  WriteJp2(jp2, 2048, 1024, 1024, 11);
  WriteTiled(tif, 2048, 1024, 256, 256, 12);
  std::shared_ptr<RasterSource> inner = MustOpen(jp2);
  ASSERT_NE(inner, nullptr);
  ASSERT_EQ(inner->block_width(), 1024);
  std::shared_ptr<RasterSource> gtiff = MustOpen(tif);
  ASSERT_NE(gtiff, nullptr);

  auto counted = std::make_shared<CountingSource>(inner, 1024);
  const RunResult by_default = RunSum({counted, gtiff}, 0);
  EXPECT_EQ(by_default.tile_width, 1024);
  EXPECT_EQ(by_default.tile_height, 1024);
  EXPECT_EQ(counted->Counts(), (std::vector<int>{1, 1}));

  auto counted256 = std::make_shared<CountingSource>(inner, 1024);
  const Window first_block{0, 0, 1024, 1024};
  const RunResult small = RunSum({counted256, gtiff}, 256, 0, 1, first_block);
  EXPECT_EQ(small.tile_width, 256);
  EXPECT_EQ(counted256->Counts(), (std::vector<int>{16, 0}));
  Profile p = by_default.out.profile();
  p.width = p.height = 1024;
  Array want(p);
  CopyPixels(by_default.out.view().Sub(first_block), want.mutable_view());
  EXPECT_TRUE(SameBytes(want, small.out));
}

}  // namespace
}  // namespace eoscale
