// Uncompressed GeoTIFFs read around GDAL (io/raw_tiff.h): every window of
// every layout reads the bytes GDAL's RasterIO reads, the raw path is taken
// where it should be and only there.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eoscale/core/view.h"
#include "eoscale/io/gdal_raster.h"
#include "eoscale/io/raw_tiff.h"
#include "cpl_string.h"
#include "gdal.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using io::internal::RawTiffReadCount;

struct Layout {
  const char* name;
  std::vector<std::string> options;  // GTiff creation options
};

// A w x h file of `bands` bands of `type`, random bytes (NaNs included for
// floats: compared as bytes), created with `options`.
std::string MakeFile(const std::string& dir, const std::string& name, int w, int h, int bands, GDALDataType type,
                     const std::vector<std::string>& options, uint32_t seed, bool write = true) {
  GDALAllRegister();
  const std::string path = dir + "/" + name + ".tif";
  CPLStringList opts;
  for (const std::string& o : options) opts.AddString(o.c_str());
  GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), path.c_str(), w, h, bands, type, opts.List());
  EXPECT_NE(ds, nullptr) << path;
  if (ds == nullptr) return path;
  if (write) {
    const int psize = GDALGetDataTypeSizeBytes(type);
    std::vector<unsigned char> data(static_cast<size_t>(w) * h * bands * psize);
    std::mt19937 rng(seed);
    for (unsigned char& c : data) c = static_cast<unsigned char>(rng());
    EXPECT_EQ(GDALDatasetRasterIO(ds, GF_Write, 0, 0, w, h, data.data(), w, h, type, bands, nullptr, 0, 0, 0),
              CE_None);
  }
  GDALClose(ds);
  return path;
}

// The window of `bands` as GDAL reads it, band-sequential.
std::vector<unsigned char> GdalRead(const std::string& path, const Window& win, const std::vector<int>& bands) {
  GDALDatasetH ds = GDALOpen(path.c_str(), GA_ReadOnly);
  EXPECT_NE(ds, nullptr);
  const GDALDataType type = GDALGetRasterDataType(GDALGetRasterBand(ds, 1));
  const int psize = GDALGetDataTypeSizeBytes(type);
  std::vector<unsigned char> out(static_cast<size_t>(win.Pixels()) * bands.size() * psize);
  EXPECT_EQ(GDALDatasetRasterIO(ds, GF_Read, win.x, win.y, win.width, win.height, out.data(), win.width,
                                win.height, type, static_cast<int>(bands.size()), const_cast<int*>(bands.data()), 0,
                                0, 0),
            CE_None);
  GDALClose(ds);
  return out;
}

// Reads windows (edges, whole, random) through the engine's source and
// compares with GDAL; returns how many raw reads served them.
int64_t CheckWindows(const std::string& path, const std::vector<int>& bands, int w, int h) {
  absl::StatusOr<std::unique_ptr<RasterSource>> src = io::OpenRaster(path, bands);
  EXPECT_TRUE(src.ok()) << src.status();
  if (!src.ok()) return 0;
  const Profile& p = (*src)->profile();
  std::vector<Window> windows = {{0, 0, w, h}, {0, 0, 1, 1}, {w - 1, h - 1, 1, 1}, {w - 37, h - 23, 37, 23},
                                 {3, 5, w - 6, 9},  {64, 32, 64, 32}};
  std::erase_if(windows, [&](const Window& v) { return v.x + v.width > w || v.y + v.height > h; });
  std::mt19937 rng(7);
  for (int i = 0; i < 30; ++i) {
    const int x = static_cast<int>(rng() % w), y = static_cast<int>(rng() % h);
    windows.push_back({x, y, 1 + static_cast<int>(rng() % (w - x)), 1 + static_cast<int>(rng() % (h - y))});
  }
  const int64_t before = RawTiffReadCount();
  const size_t psize = PixelSize(p.type);
  for (const Window& win : windows) {
    // A strided destination (a tile inside a larger buffer), as tiles are.
    const int pad = 3;
    std::vector<unsigned char> buf((static_cast<size_t>(win.width) + pad) * win.height * bands.size() * psize + 16,
                                   0xEE);
    const View dst(buf.data(), p.type, static_cast<int>(bands.size()), win, win.width + pad,
                   static_cast<int64_t>(win.width + pad) * win.height);
    const absl::Status st = (*src)->Read(dst);
    EXPECT_TRUE(st.ok()) << st;
    const std::vector<unsigned char> want = GdalRead(path, win, bands);
    bool same = true;
    for (size_t b = 0; b < bands.size() && same; ++b) {
      for (int y = 0; y < win.height && same; ++y) {
        same = std::memcmp(dst.RowPtr(static_cast<int>(b), y),
                           want.data() + ((b * win.height + y) * static_cast<size_t>(win.width)) * psize,
                           static_cast<size_t>(win.width) * psize) == 0;
        // The padding between rows is left alone.
        const unsigned char* after = static_cast<const unsigned char*>(dst.RowPtr(static_cast<int>(b), y)) +
                                     static_cast<size_t>(win.width) * psize;
        for (size_t k = 0; k < pad * psize && same; ++k) same = after[k] == 0xEE;
      }
    }
    EXPECT_TRUE(same) << path << " window " << DescribeWindow(win);
  }
  return RawTiffReadCount() - before;
}

using Param = std::tuple<int, int, GDALDataType>;  // layout, interleave (0 band, 1 pixel), type

class RawTiffTest : public ::testing::TestWithParam<Param> {};

const std::vector<Layout>& Layouts() {
  static const std::vector<Layout> layouts = {
      {"tiled64x32", {"TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=32"}},
      {"tiled256", {"TILED=YES"}},
      {"strips7", {"BLOCKYSIZE=7"}},
      {"strips1", {"BLOCKYSIZE=1"}},
      {"bigtiff_tiled64x32", {"TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=32", "BIGTIFF=YES"}},
      {"bigtiff_strips7", {"BLOCKYSIZE=7", "BIGTIFF=YES"}},
  };
  return layouts;
}

TEST_P(RawTiffTest, EveryWindowReadsWhatGdalReads) {
  const auto [layout, pixel, type] = GetParam();
  testing::TempDir dir;
  const int w = 203, h = 149;
  std::vector<std::string> options = Layouts()[layout].options;
  options.push_back(pixel ? "INTERLEAVE=PIXEL" : "INTERLEAVE=BAND");
  const std::string path = MakeFile(dir.path(), "in", w, h, 4, type, options, 11 + layout * 10 + pixel);
  for (const std::vector<int>& bands : std::vector<std::vector<int>>{{1, 2, 3, 4}, {4, 2}, {3}}) {
    const int64_t raw = CheckWindows(path, bands, w, h);
    EXPECT_GT(raw, 0) << "the raw path was not taken for bands " << bands.size();
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, RawTiffTest,
                         ::testing::Combine(::testing::Range(0, 6), ::testing::Values(0, 1),
                                            ::testing::Values(GDT_Byte, GDT_UInt16, GDT_Float32, GDT_Float64)));

TEST(RawTiffWideTest, NarrowWindowsOfWideStripsReadRowByRow) {
  // Rows of 4 x 5000 bytes: a narrow window's gaps are too long for the
  // junk buffer, so each row is read on its own.
  testing::TempDir dir;
  const int w = 5000, h = 40;
  const std::string path = MakeFile(dir.path(), "wide", w, h, 2, GDT_Float32, {"BLOCKYSIZE=16"}, 21);
  EXPECT_GT(CheckWindows(path, {2, 1}, w, h), 0);
}

TEST(RawTiffPixelTest, TwoAndEightSamplePixelsOfEveryWidth) {
  // Pixels of 2, 4, 8 and 16 bytes: each de-interleaving loop.
  testing::TempDir dir;
  const int w = 97, h = 61;
  int i = 0;
  for (const int bands : {2, 8}) {
    for (const GDALDataType type : {GDT_Byte, GDT_UInt16}) {
      const std::string path = MakeFile(dir.path(), absl::StrCat("p", i), w, h, bands, type,
                                        {"TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=16", "INTERLEAVE=PIXEL"},
                                        30 + static_cast<uint32_t>(i));
      ++i;
      EXPECT_GT(CheckWindows(path, {bands, 1}, w, h), 0) << path;
    }
  }
}

TEST(RawTiffFallBackTest, CompressedBigEndianAndNbitsFilesAreReadByGdal) {
  testing::TempDir dir;
  const int w = 150, h = 90;
  const std::vector<std::vector<std::string>> cases = {
      {"TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=DEFLATE"},
      {"TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "ENDIANNESS=BIG"},
      {"BLOCKYSIZE=8", "NBITS=12"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string path =
        MakeFile(dir.path(), absl::StrCat("f", i), w, h, 2, GDT_UInt16, cases[i], 3 + static_cast<uint32_t>(i));
    EXPECT_EQ(CheckWindows(path, {2, 1}, w, h), 0) << cases[i].back();
  }
}

int OpenGdalDatasets() {
  GDALDatasetH* list = nullptr;
  int count = 0;
  GDALGetOpenDatasets(&list, &count);
  return count;
}

// A file read raw holds no GDAL handle, opened or pooled: only descriptors
// (a handle on a large GeoTIFF holds its whole directory). A compressed
// file, read through GDAL, keeps its handles in the pool.
TEST(RawTiffHandlesTest, ARawReadFileKeepsNoGdalHandle) {
  testing::TempDir dir;
  const int w = 300, h = 200;
  const std::string raw = MakeFile(dir.path(), "raw", w, h, 4, GDT_UInt16, {"TILED=YES"}, 3);
  const std::string packed = MakeFile(dir.path(), "packed", w, h, 4, GDT_UInt16, {"TILED=YES", "COMPRESS=DEFLATE"}, 4);
  const int before = OpenGdalDatasets();
  std::vector<uint16_t> buf(static_cast<size_t>(w) * h * 2);
  const View all = View::Contiguous(buf.data(), PixelType::kU16, 2, Window{0, 0, w, h});
  {
    absl::StatusOr<std::unique_ptr<RasterSource>> src = io::OpenRaster(raw, {2, 4});
    ASSERT_TRUE(src.ok()) << src.status();
    const int64_t reads = RawTiffReadCount();
    ASSERT_TRUE((*src)->Read(all).ok());
    EXPECT_EQ(RawTiffReadCount(), reads + 1);
    EXPECT_EQ(OpenGdalDatasets(), before);
  }
  absl::StatusOr<std::unique_ptr<RasterSource>> src = io::OpenRaster(packed, {2, 4});
  ASSERT_TRUE(src.ok()) << src.status();
  ASSERT_TRUE((*src)->Read(all).ok());
  EXPECT_GT(OpenGdalDatasets(), before);
}

TEST(RawTiffFallBackTest, ASparseFileReadsItsMissingBlocksThroughGdal) {
  testing::TempDir dir;
  const int w = 130, h = 70;
  // No block written: GDAL reports no offsets and fills with zeros (nodata).
  const std::string path = MakeFile(dir.path(), "sparse", w, h, 1, GDT_Float32,
                                    {"TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32", "SPARSE_OK=TRUE"}, 5, false);
  EXPECT_EQ(CheckWindows(path, {1}, w, h), 0);
}

// The reader for `bands` of `path`, as a source would probe it.
std::unique_ptr<io::internal::RawTiffReader> ProbeFile(const std::string& path, const std::vector<int>& bands,
                                                       PixelType type) {
  GDALDatasetH h = GDALOpen(path.c_str(), GA_ReadOnly);
  EXPECT_NE(h, nullptr) << path;
  if (h == nullptr) return nullptr;
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  std::unique_ptr<io::internal::RawTiffReader> r =
      io::internal::RawTiffReader::Probe(h, path, st.st_dev, st.st_ino, bands, type);
  GDALClose(h);
  return r;
}

TEST(RawTiffTableTest, AGdalWrittenFileKeepsNoOffsetPerBlock) {
  testing::TempDir dir;
  for (const char* blocks : {"BLOCKYSIZE=7", "TILED=YES"}) {
    for (const char* interleave : {"INTERLEAVE=BAND", "INTERLEAVE=PIXEL"}) {
      const std::string path =
          MakeFile(dir.path(), absl::StrCat("affine_", blocks[0] == 'T' ? "tiled_" : "strips_", interleave + 11), 300,
                   200, 4, GDT_Int16, {blocks, "BLOCKXSIZE=64", interleave}, 2);
      std::unique_ptr<io::internal::RawTiffReader> r = ProbeFile(path, {2, 4}, PixelType::kI16);
      ASSERT_NE(r, nullptr) << path;
      EXPECT_EQ(r->kept_offsets(), 0u) << path;
      EXPECT_GT(CheckWindows(path, {2, 4}, 300, 200), 0) << path;
    }
  }
}

TEST(RawTiffTableTest, BlocksWrittenOutOfOrderWithOneMissingReadWhatGdalReads) {
  testing::TempDir dir;
  const int w = 130, h = 70, bs = 32;  // 5 x 3 blocks per band
  const std::string path = MakeFile(dir.path(), "shuffled", w, h, 2, GDT_UInt16,
                                    {"TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32", "SPARSE_OK=TRUE", "INTERLEAVE=BAND"}, 0,
                                    false);
  {
    GDALDatasetH ds = GDALOpen(path.c_str(), GA_Update);
    ASSERT_NE(ds, nullptr);
    std::vector<std::pair<int, int>> blocks;  // (band, block index)
    for (int b = 1; b <= 2; ++b) {
      for (int i = 0; i < 15; ++i) blocks.emplace_back(b, i);
    }
    std::mt19937 rng(11);
    std::shuffle(blocks.begin(), blocks.end(), rng);
    std::vector<uint16_t> block(bs * bs);
    for (const auto& [b, i] : blocks) {
      if (b == 2 && i == 7) continue;  // never written: the file has no bytes for it
      for (uint16_t& v : block) v = static_cast<uint16_t>(rng());
      ASSERT_EQ(GDALWriteBlock(GDALGetRasterBand(ds, b), i % 5, i / 5, block.data()), CE_None);
      GDALFlushCache(ds);  // on disk in this order
    }
    GDALClose(ds);
  }
  std::unique_ptr<io::internal::RawTiffReader> r = ProbeFile(path, {1, 2}, PixelType::kU16);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->kept_offsets(), 30u);  // both planes irregular: one offset per block
  // Windows clear of the missing block are read raw; every window reads
  // what GDAL reads (the missing block as GDAL fills it).
  EXPECT_GT(CheckWindows(path, {1, 2}, w, h), 0);
  EXPECT_GT(CheckWindows(path, {1}, w, h), 0);
}

TEST(RawTiffFallBackTest, ATruncatedFileIsAnErrorNamingIt) {
  testing::TempDir dir;
  const int w = 256, h = 256;
  const std::string path = MakeFile(dir.path(), "cut", w, h, 1, GDT_Float32,
                                    {"TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64"}, 9);
  absl::StatusOr<std::unique_ptr<RasterSource>> src = io::OpenRaster(path, {1});
  ASSERT_TRUE(src.ok()) << src.status();
  // Cut the pixels off (the header and offsets stay at the front: GDAL
  // writes the IFD first for a new file... or last: cut to just past it).
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  ASSERT_EQ(::truncate(path.c_str(), st.st_size / 2), 0);
  std::vector<float> buf(static_cast<size_t>(w) * h);
  const absl::Status s = (*src)->Read(View::Contiguous(buf.data(), PixelType::kF32, 1, Window{0, 0, w, h}));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path), std::string::npos) << s;
}

}  // namespace
}  // namespace eoscale
