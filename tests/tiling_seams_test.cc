// The default grid follows a mosaic's seams (issue 16, item 4): a run
// without margins over a VRT that places files side by side restarts its
// tile columns where each file's blocks start, so that no tile cuts a file's
// blocks, and the GeoTIFF sink assembles the output blocks those tiles cut.
// Every raster is generated here; the file runs in a second or two.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "eoscale/core/array.h"
#include "eoscale/core/raster_io.h"
#include "eoscale/core/tiling.h"
#include "eoscale/graph/context.h"
#include "eoscale/io/gdal_raster.h"
#include "eoscale/io/gdal_sink.h"
#include "gdal.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;

// --- SeamedBoundaries and the grid ------------------------------------------

TEST(SeamedBoundariesTest, ColumnsRestartAtEachSeam) {
  EXPECT_EQ(SeamedBoundaries(1000, 256, {}), (std::vector<int>{0, 256, 512, 768, 1000}));
  // The 44 columns left before 300 join the tile before them.
  EXPECT_EQ(SeamedBoundaries(1000, 256, {300}), (std::vector<int>{0, 300, 556, 812, 1000}));
  // A segment narrower than half a step is still a tile when it is alone.
  EXPECT_EQ(SeamedBoundaries(1000, 256, {100}), (std::vector<int>{0, 100, 356, 612, 868, 1000}));
  // Seams outside (0, width), repeated, or on the grid change nothing.
  EXPECT_EQ(SeamedBoundaries(1000, 256, {0, 512, 512, 1000, 1200}), (std::vector<int>{0, 256, 512, 768, 1000}));
  EXPECT_EQ(SeamedBoundaries(21960, 256, {10980}).size(), 87u);  // 43 tiles a side (42 and 228 columns)
}

// Whatever the seams: boundaries from 0 to the width, strictly increasing,
// every seam one of them, no tile wider than 1.5 steps, and a tile narrower
// than half a step only when it fills the space between two seams.
TEST(SeamedBoundariesTest, AnySeamsGiveAPartitionThroughThem) {
  std::mt19937 rng(3);
  for (int i = 0; i < 3000; ++i) {
    const int width = 1 + static_cast<int>(rng() % 5000);
    const int step = 1 + static_cast<int>(rng() % 600);
    std::vector<int> seams;
    for (int k = static_cast<int>(rng() % 6); k > 0; --k) seams.push_back(static_cast<int>(rng() % (width + 10)));
    std::sort(seams.begin(), seams.end());
    const std::vector<int> xs = SeamedBoundaries(width, step, seams);
    SCOPED_TRACE(absl::StrCat("width ", width, " step ", step, " seams ", absl::StrJoin(seams, ",")));
    ASSERT_GE(xs.size(), 2u);
    ASSERT_EQ(xs.front(), 0);
    ASSERT_EQ(xs.back(), width);
    std::vector<int> cuts = {0, width};
    for (int s : seams) {
      if (s > 0 && s < width) cuts.push_back(s);
    }
    std::sort(cuts.begin(), cuts.end());
    for (int s : cuts) ASSERT_TRUE(std::binary_search(xs.begin(), xs.end(), s)) << s;
    for (size_t k = 1; k < xs.size(); ++k) {
      const int tile = xs[k] - xs[k - 1];
      ASSERT_GT(tile, 0);
      ASSERT_LE(tile, step + (step + 1) / 2 - 1);
      const bool whole_segment = std::binary_search(cuts.begin(), cuts.end(), xs[k - 1]) &&
                                 std::binary_search(cuts.begin(), cuts.end(), xs[k]);
      if (tile < (step + 1) / 2) {
        ASSERT_TRUE(whole_segment) << xs[k - 1] << ".." << xs[k];
      }
    }
  }
}

TEST(SeamedBoundariesTest, OnlyTheDefaultTilesFollowSeams) {
  absl::StatusOr<TileGrid> g = MakeTileGrid(1000, 700, TilingOptions{}, 2, DefaultTile{256, 256, 256}, {300});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->xs(), (std::vector<int>{0, 300, 556, 812, 1000}));
  EXPECT_EQ(g->ys(), (std::vector<int>{0, 256, 512, 700}));
  TilingOptions fixed;
  fixed.tile_size = 256;
  g = MakeTileGrid(1000, 700, fixed, 2, DefaultTile{256, 256, 256}, {300});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->xs(), (std::vector<int>{0, 256, 512, 768, 1000}));
  TilingOptions strips;
  strips.mode = TileMode::kStrips;
  g = MakeTileGrid(1000, 700, strips, 2, DefaultTile{256, 256, 256}, {300});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->xs(), (std::vector<int>{0, 1000}));
}

TEST(SeamedBoundariesTest, RowsRestartAtRowSeams) {
  absl::StatusOr<TileGrid> g = MakeTileGrid(1000, 700, TilingOptions{}, 2, DefaultTile{256, 256, 256}, {}, {300});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->xs(), (std::vector<int>{0, 256, 512, 768, 1000}));  // no column seam: as before
  EXPECT_EQ(g->ys(), (std::vector<int>{0, 300, 556, 700}));         // the sliver [256, 300) joins
  g = MakeTileGrid(1000, 700, TilingOptions{}, 2, DefaultTile{256, 256, 256}, {300}, {300});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->xs(), (std::vector<int>{0, 300, 556, 812, 1000}));
  EXPECT_EQ(g->ys(), (std::vector<int>{0, 300, 556, 700}));
}

// --- Through a Context, on a gdalbuildvrt mosaic -------------------------------

// A source that records the windows read through it (and passes on the
// seams of the one it wraps).
class Recording final : public RasterSource {
 public:
  explicit Recording(std::shared_ptr<RasterSource> inner) : inner_(std::move(inner)) {}
  const Profile& profile() const override { return inner_->profile(); }
  int block_width() const override { return inner_->block_width(); }
  int block_height() const override { return inner_->block_height(); }
  std::vector<int> column_seams() const override { return inner_->column_seams(); }
  std::vector<int> row_seams() const override { return inner_->row_seams(); }
  bool decodes_whole_blocks() const override { return inner_->decodes_whole_blocks(); }
  absl::Status Read(const View& dst) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      windows_.push_back(dst.window());
    }
    return inner_->Read(dst);
  }
  const std::string& description() const override { return inner_->description(); }
  // How many windows read so far cross column x.
  int Crossing(int x) {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(std::count_if(windows_.begin(), windows_.end(),
                                          [x](const Window& w) { return w.x < x && w.x + w.width > x; }));
  }
  // How many cross row y.
  int CrossingRow(int y) {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(std::count_if(windows_.begin(), windows_.end(),
                                          [y](const Window& w) { return w.y < y && w.y + w.height > y; }));
  }

 private:
  std::shared_ptr<RasterSource> inner_;
  std::mutex mu_;
  std::vector<Window> windows_;
};

// Four 300 x 200 files of 3 int16 bands in 64^2 blocks, placed 2 x 2 by
// gdalbuildvrt: a 600 x 400 mosaic whose right column of files starts at
// 300, not a multiple of 64, and whose lower row at 200, neither.
// `compressed`: the files are DEFLATE-compressed (read by decoding blocks).
std::string MakeMosaic(const TempDir& dir, bool compressed = false) {
  std::vector<std::string> files;
  for (int i = 0; i < 4; ++i) {
    Profile p;
    p.width = 300;
    p.height = 200;
    p.bands = 3;
    p.type = PixelType::kI16;
    p.geotransform = {300.0 * (i % 2), 1, 0, -200.0 * (i / 2), 0, -1};
    const std::string raw = dir.File(absl::StrCat("t", i, ".tif"));
    testing::WriteTiff(testing::RandomArray(p, 40 + i), raw, 64);
    files.push_back(raw);
    if (!compressed) continue;
    files.back() = dir.File(absl::StrCat("z", i, ".tif"));
    GDALDatasetH src = GDALOpen(raw.c_str(), GA_ReadOnly);
    EXPECT_NE(src, nullptr);
    const char* options[] = {"TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=DEFLATE", nullptr};
    GDALDatasetH z = GDALCreateCopy(GDALGetDriverByName("GTiff"), files.back().c_str(), src, FALSE,
                                    const_cast<char**>(options), nullptr, nullptr);
    EXPECT_NE(z, nullptr) << files.back();
    GDALClose(z);
    GDALClose(src);
  }
  return testing::GdalBuildVrt(dir.File(compressed ? "zmosaic.vrt" : "mosaic.vrt"), files);
}

// Copies the mosaic to `out` through a filter of margin `margin` (0: the
// tile itself) with `tile_size` (0: the default), and returns the recording.
std::shared_ptr<Recording> Copy(const std::string& vrt, const std::string& out, int margin, int tile_size = 0,
                                int64_t budget = 0) {
  absl::StatusOr<std::shared_ptr<RasterSource>> opened = DefaultRasterFormat()->Open(vrt, {});
  EXPECT_TRUE(opened.ok()) << opened.status();
  if (!opened.ok()) return nullptr;
  auto rec = std::make_shared<Recording>(*opened);
  ContextOptions o;
  o.workers = 2;
  o.tiling.tile_size = tile_size;
  o.memory_budget_bytes = budget;
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(o);
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  if (!ctx.ok()) return nullptr;
  absl::StatusOr<Image> in = (*ctx)->Open(rec);
  EXPECT_TRUE(in.ok()) << in.status();
  MapFilter copy;
  copy.name = "copy";
  copy.margin = margin;
  copy.fn = [](const MapTile& t) {
    auto a = t.In<int16_t>(0);
    auto o = t.Out<int16_t>(0);
    for (int b = 0; b < o.bands(); ++b)
      for (int y = 0; y < o.rows(); ++y)
        for (int x = 0; x < o.cols(); ++x) o(b, y, x) = a(b, y, x);
    return absl::OkStatus();
  };
  absl::StatusOr<std::vector<Image>> copied = (*ctx)->Map({*in}, copy);
  EXPECT_TRUE(copied.ok()) << copied.status();
  if (!copied.ok()) return nullptr;
  WriteOptions w;
  w.durable = false;
  EXPECT_TRUE((*ctx)->Write((*copied)[0], out, w).ok());
  const absl::Status run = (*ctx)->Run();
  EXPECT_TRUE(run.ok()) << run;
  return rec;
}

int BlockWidthOf(const std::string& path) {
  GDALDatasetH h = GDALOpen(path.c_str(), GA_ReadOnly);
  if (h == nullptr) return 0;
  int bw = 0, bh = 0;
  GDALGetBlockSize(GDALGetRasterBand(h, 1), &bw, &bh);
  GDALClose(h);
  return bw;
}

TEST(MosaicSeamsTest, AMosaicReportsWhereItsFilesBlocksStart) {
  TempDir dir;
  absl::StatusOr<std::shared_ptr<RasterSource>> src = DefaultRasterFormat()->Open(MakeMosaic(dir), {});
  ASSERT_TRUE(src.ok()) << src.status();
  EXPECT_EQ((*src)->column_seams(), (std::vector<int>{300}));
  // A file is one grid from 0.
  absl::StatusOr<std::shared_ptr<RasterSource>> file = DefaultRasterFormat()->Open(dir.File("t1.tif"), {});
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE((*file)->column_seams().empty());
  // Its files are read raw: a read takes only the rows it needs, so rows
  // are no seams. Compressed files decode whole blocks: the lower row of
  // files is one.
  EXPECT_FALSE((*src)->decodes_whole_blocks());
  EXPECT_TRUE((*src)->row_seams().empty());
  absl::StatusOr<std::shared_ptr<RasterSource>> zsrc = DefaultRasterFormat()->Open(MakeMosaic(dir, true), {});
  ASSERT_TRUE(zsrc.ok()) << zsrc.status();
  EXPECT_TRUE((*zsrc)->decodes_whole_blocks());
  EXPECT_EQ((*zsrc)->column_seams(), (std::vector<int>{300}));
  EXPECT_EQ((*zsrc)->row_seams(), (std::vector<int>{200}));
}

// On compressed files, no tile cuts a block row of the lower files either
// (each block is decoded once), and the output, whose 256-high blocks the
// rows of tiles then cut, is assembled exactly. With a small budget the
// outputs' assembly row does not fit (half its I/O share): rows stay
// uniform.
TEST(MosaicSeamsTest, TilesOfCompressedFilesDoNotCrossTheRowSeamAndTheOutputIsExact) {
  TempDir dir;
  const std::string vrt = MakeMosaic(dir, true);
  const Array expected = ReadTiff(vrt);
  std::shared_ptr<Recording> rec = Copy(vrt, dir.File("rows.tif"), 0);
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->Crossing(300), 0);
  EXPECT_EQ(rec->CrossingRow(200), 0);
  EXPECT_EQ(BlockWidthOf(dir.File("rows.tif")), 256);
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("rows.tif")), expected));
  // 600 x 256 x 3 x 2 bytes = 0.9 MiB of assembly row; a 6 MiB budget's
  // I/O share is 1 MiB (an eighth, at least 1 MiB), half of it 0.5 MiB.
  rec = Copy(vrt, dir.File("small.tif"), 0, 0, int64_t{6} << 20);
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->Crossing(300), 0);
  EXPECT_GT(rec->CrossingRow(200), 0);
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("small.tif")), expected));
}

// Without margins no tile reads across the seam, and the output (whose
// 256-wide blocks the tiles past the seam cut) is the mosaic, pixel for
// pixel, as GDAL reads it.
TEST(MosaicSeamsTest, TilesWithoutMarginsDoNotCrossTheSeamAndTheOutputIsExact) {
  TempDir dir;
  const std::string vrt = MakeMosaic(dir);
  const Array expected = ReadTiff(vrt);
  std::shared_ptr<Recording> rec = Copy(vrt, dir.File("seamed.tif"), 0);
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->Crossing(300), 0);
  EXPECT_EQ(BlockWidthOf(dir.File("seamed.tif")), 256);
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("seamed.tif")), expected));
  // An explicit tile size keeps its uniform grid, which cuts the seam.
  rec = Copy(vrt, dir.File("uniform.tif"), 0, 256);
  ASSERT_NE(rec, nullptr);
  EXPECT_GT(rec->Crossing(300), 0);
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("uniform.tif")), expected));
  // With a margin, tiles read past their window whatever the grid: uniform.
  rec = Copy(vrt, dir.File("margin.tif"), 1);
  ASSERT_NE(rec, nullptr);
  EXPECT_GT(rec->Crossing(300), 0);
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("margin.tif")), expected));
}

// --- The sink's assembly of cut blocks -----------------------------------------

Profile SinkProfile() {
  Profile p;
  p.width = 700;
  p.height = 300;
  p.bands = 2;
  p.type = PixelType::kI16;
  return p;
}

// Windows that cut 256-wide blocks, one row of blocks at a time: a block is
// written once its parts are all there, and the file holds every window.
TEST(SinkAssemblyTest, BlocksCutByWindowsAreWrittenWhenComplete) {
  TempDir dir;
  const Profile p = SinkProfile();
  const Array data = testing::RandomArray(p, 9);
  absl::StatusOr<std::unique_ptr<RasterSink>> sink = io::CreateGeoTiff(dir.File("out.tif"), p, 256, 256, {}, false);
  ASSERT_TRUE(sink.ok()) << sink.status();
  auto* tiff = dynamic_cast<io::internal::GeoTiffSink*>(sink->get());
  ASSERT_NE(tiff, nullptr);
  // Blocks: [0, 256) [256, 512) [512, 700). Windows: [0, 300) leaves the
  // second block in part, [300, 556) completes it and starts the third,
  // [556, 700) completes that.
  const int cuts[] = {0, 300, 556, 700};
  for (int row : {0, 256}) {
    const int h = std::min(256, p.height - row);
    for (int k = 0; k < 3; ++k) {
      ASSERT_TRUE((*sink)->Write(data.view().Sub({cuts[k], row, cuts[k + 1] - cuts[k], h})).ok());
      EXPECT_EQ(tiff->pending_blocks(), k < 2 ? 1u : 0u) << "after window " << k << " of row " << row;
    }
  }
  ASSERT_TRUE((*sink)->Finish().ok());
  ASSERT_TRUE((*sink)->Commit().ok());
  (*sink)->Cleanup();
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("out.tif")), data));
}

// With assemble_rows, windows that cut the blocks' rows too (a grid whose
// rows restart at a row seam) are assembled: a block row waits for the
// next row of windows.
TEST(SinkAssemblyTest, WindowsAcrossBlockRowsAreAssembled) {
  TempDir dir;
  const Profile p = SinkProfile();  // 700 x 300: blocks rows [0, 256) [256, 300)
  const Array data = testing::RandomArray(p, 11);
  absl::StatusOr<std::unique_ptr<RasterSink>> sink =
      io::CreateGeoTiff(dir.File("rows.tif"), p, 256, 256, {}, false, /*assemble_rows=*/true);
  ASSERT_TRUE(sink.ok()) << sink.status();
  auto* tiff = dynamic_cast<io::internal::GeoTiffSink*>(sink->get());
  ASSERT_NE(tiff, nullptr);
  // Rows of windows [0, 200) and [200, 300); columns [0, 300) [300, 700).
  ASSERT_TRUE((*sink)->Write(data.view().Sub({0, 0, 300, 200})).ok());
  EXPECT_EQ(tiff->pending_blocks(), 2u);  // blocks 0 and 1 of row 0, in part
  ASSERT_TRUE((*sink)->Write(data.view().Sub({300, 0, 400, 200})).ok());
  EXPECT_EQ(tiff->pending_blocks(), 3u);  // the whole row of blocks waits for the next row of windows
  ASSERT_TRUE((*sink)->Write(data.view().Sub({0, 200, 300, 100})).ok());
  // Block 0 of row 0 completed, and block 0 of row 1 written whole (the
  // window covers all of it); block 1 of row 1 started.
  EXPECT_EQ(tiff->pending_blocks(), 3u);
  ASSERT_TRUE((*sink)->Write(data.view().Sub({300, 200, 400, 100})).ok());
  EXPECT_EQ(tiff->pending_blocks(), 0u);
  ASSERT_TRUE((*sink)->Finish().ok());
  ASSERT_TRUE((*sink)->Commit().ok());
  (*sink)->Cleanup();
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("rows.tif")), data));
}

// A block whose other parts never come is written at Finish, the rest 0 (as
// GDAL leaves pixels never written); an aborted sink leaves nothing.
TEST(SinkAssemblyTest, PartsNeverCompletedAreWrittenAtFinishAndDroppedOnAbort) {
  TempDir dir;
  const Profile p = SinkProfile();
  const Array data = testing::RandomArray(p, 10);
  const Window part{0, 0, 300, 256};
  for (bool finish : {true, false}) {
    const std::string path = dir.File(finish ? "finished.tif" : "aborted.tif");
    absl::StatusOr<std::unique_ptr<RasterSink>> sink = io::CreateGeoTiff(path, p, 256, 256, {}, false);
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->Write(data.view().Sub(part)).ok());
    EXPECT_EQ(dynamic_cast<io::internal::GeoTiffSink*>(sink->get())->pending_blocks(), 1u);
    if (!finish) {
      (*sink)->Abort();
      EXPECT_EQ(dynamic_cast<io::internal::GeoTiffSink*>(sink->get())->pending_blocks(), 0u);
      EXPECT_FALSE(std::filesystem::exists(path));
      continue;
    }
    ASSERT_TRUE((*sink)->Finish().ok());
    ASSERT_TRUE((*sink)->Commit().ok());
    (*sink)->Cleanup();
    Array expected(p);
    std::memset(expected.mutable_data(), 0, expected.bytes());
    CopyPixels(data.view().Sub(part), expected.mutable_view().Sub(part));
    EXPECT_TRUE(SameBytes(ReadTiff(path), expected));
  }
}

}  // namespace
}  // namespace eoscale
