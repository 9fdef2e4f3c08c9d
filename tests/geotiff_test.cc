// GeoTIFF in and out through the engine: georeferencing and pixels survive a
// round trip, writer options reach GDAL, outputs are tiled like the engine's
// tiles, band subsets read only what they select, inputs are never touched
// and no temporary file is left behind.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eoscale/core/array.h"
#include "eoscale/graph/context.h"
#include "gdal.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::DsmPath;
using ::eoscale::testing::RandomArray;
using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;
using ::eoscale::testing::WriteTiff;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

std::string FileBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// A dataset opened with GDAL directly, closed on scope exit.
class GdalFile {
 public:
  explicit GdalFile(const std::string& path) : h_(GDALOpen(path.c_str(), GA_ReadOnly)) {}
  ~GdalFile() {
    if (h_ != nullptr) GDALClose(h_);
  }
  GdalFile(const GdalFile&) = delete;
  GdalFile& operator=(const GdalFile&) = delete;
  GDALDatasetH get() const { return h_; }
  GDALRasterBandH band(int b) const { return GDALGetRasterBand(h_, b); }
  std::string Wkt() const { return GDALGetProjectionRef(h_); }
  std::array<double, 6> Geotransform() const {
    std::array<double, 6> gt{};
    GDALGetGeoTransform(h_, gt.data());
    return gt;
  }
  std::string Compression() const {
    const char* c = GDALGetMetadataItem(h_, "COMPRESSION", "IMAGE_STRUCTURE");
    return c == nullptr ? std::string() : std::string(c);
  }
  std::pair<int, int> BlockSize() const {
    int bw = 0, bh = 0;
    GDALGetBlockSize(band(1), &bw, &bh);
    return {bw, bh};
  }

 private:
  GDALDatasetH h_;
};

std::unique_ptr<Context> MakeContext(ContextOptions o = {}) {
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(std::move(o));
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  return ctx.ok() ? *std::move(ctx) : nullptr;
}

// A Map copying its single input (declared with a margin, so that the input
// view is larger than the output and the copy must pick the stable part).
MapFilter CopyWithMargin(int margin) {
  MapFilter f;
  f.name = "copy";
  f.margin = margin;
  f.fn = [](const MapTile& t) -> absl::Status {
    CopyPixels(t.inputs[0].Sub(t.tile.window), t.outputs[0]);
    return absl::OkStatus();
  };
  return f;
}

TEST(GeoTiffTest, DsmRoundTripKeepsCrsGeotransformNodataAndPixels) {
  ASSERT_EQ(FileBytes(DsmPath()).empty(), false) << "missing " << DsmPath();
  TempDir dir;
  for (bool through_map : {false, true}) {
    SCOPED_TRACE(through_map ? "through a Map" : "source written directly");
    const std::string out = dir.File(through_map ? "mapped.tif" : "direct.tif");
    ContextOptions o;
    o.workers = 2;
    o.tiling.tile_size = 96;  // not a divisor of 512: edge tiles are partial
    auto ctx = MakeContext(o);
    ASSERT_NE(ctx, nullptr);
    absl::StatusOr<Image> in = ctx->Open(DsmPath());
    ASSERT_TRUE(in.ok()) << in.status();
    Image img = *in;
    if (through_map) {
      auto m = ctx->Map({img}, CopyWithMargin(3));
      ASSERT_TRUE(m.ok()) << m.status();
      img = (*m)[0];
    }
    ASSERT_TRUE(ctx->Write(img, out).ok());
    const absl::Status run = ctx->Run();
    ASSERT_TRUE(run.ok()) << run;

    GdalFile src(DsmPath());
    GdalFile dst(out);
    ASSERT_NE(dst.get(), nullptr);
    EXPECT_FALSE(src.Wkt().empty());
    EXPECT_EQ(dst.Wkt(), src.Wkt());
    EXPECT_EQ(dst.Geotransform(), src.Geotransform());
    int has_nodata = 0;
    const double nodata = GDALGetRasterNoDataValue(dst.band(1), &has_nodata);
    EXPECT_TRUE(has_nodata);
    EXPECT_EQ(nodata, -32768.0);
    EXPECT_EQ(GDALGetRasterDataType(dst.band(1)), GDT_Float32);
    EXPECT_EQ(GDALGetRasterXSize(dst.get()), 512);
    EXPECT_EQ(GDALGetRasterYSize(dst.get()), 512);
    EXPECT_TRUE(SameBytes(ReadTiff(out), ReadTiff(DsmPath())));

    // And through the engine again: the same profile.
    absl::StatusOr<Image> back = ctx->Open(out);
    ASSERT_TRUE(back.ok()) << back.status();
    absl::StatusOr<Profile> pb = back->profile();
    absl::StatusOr<Profile> pa = in->profile();
    ASSERT_TRUE(pa.ok() && pb.ok());
    EXPECT_EQ(pb->crs_wkt, pa->crs_wkt);
    EXPECT_EQ(pb->geotransform, pa->geotransform);
    EXPECT_EQ(pb->nodata, pa->nodata);
    ASSERT_TRUE(pb->nodata.has_value());
    EXPECT_EQ(*pb->nodata, -32768.0);
    absl::StatusOr<Array> pixels = ctx->ReadAll(*back);
    ASSERT_TRUE(pixels.ok()) << pixels.status();
    EXPECT_TRUE(SameBytes(*pixels, ReadTiff(DsmPath())));
  }
}

TEST(GeoTiffTest, WriterOptionsReachGdal) {
  TempDir dir;
  auto ctx = MakeContext();
  ASSERT_NE(ctx, nullptr);
  absl::StatusOr<Image> in = ctx->Open(DsmPath());
  ASSERT_TRUE(in.ok()) << in.status();
  // Options of the Write call.
  ASSERT_TRUE(ctx->Write(*in, dir.File("deflate.tif"), {"COMPRESS=DEFLATE"}).ok());
  // Options carried by the profile (a Map's profile function sets them).
  MapFilter f = CopyWithMargin(0);
  f.profiles = [](absl::Span<const Profile> p) -> absl::StatusOr<std::vector<Profile>> {
    Profile out = p[0];
    out.writer_options = {"COMPRESS=LZW"};
    return std::vector<Profile>{out};
  };
  auto lzw = ctx->Map({*in}, f);
  ASSERT_TRUE(lzw.ok()) << lzw.status();
  ASSERT_TRUE(ctx->Write((*lzw)[0], dir.File("lzw.tif")).ok());
  // The Write call's options come after (and override) the profile's.
  ASSERT_TRUE(ctx->Write((*lzw)[0], dir.File("override.tif"), {"COMPRESS=DEFLATE"}).ok());
  ASSERT_TRUE(ctx->Write(*in, dir.File("plain.tif")).ok());
  const absl::Status run = ctx->Run();
  ASSERT_TRUE(run.ok()) << run;

  EXPECT_EQ(GdalFile(dir.File("deflate.tif")).Compression(), "DEFLATE");
  EXPECT_EQ(GdalFile(dir.File("lzw.tif")).Compression(), "LZW");
  EXPECT_EQ(GdalFile(dir.File("override.tif")).Compression(), "DEFLATE");
  EXPECT_EQ(GdalFile(dir.File("plain.tif")).Compression(), "");
  const Array want = ReadTiff(DsmPath());
  for (const char* name : {"deflate.tif", "lzw.tif", "override.tif", "plain.tif"}) {
    EXPECT_TRUE(SameBytes(ReadTiff(dir.File(name)), want)) << name;
  }
}

TEST(GeoTiffTest, OutputBlocksMatchTheTileSize) {
  TempDir dir;
  const Array a = RandomArray([] {
    Profile p;
    p.width = 300;
    p.height = 200;
    p.bands = 2;
    p.type = PixelType::kU16;
    return p;
  }(), 31);
  struct Case {
    TileMode mode;
    int tile;
    int want_bw, want_bh;
  };
  for (const Case c : {Case{TileMode::kTiles, 128, 128, 128}, Case{TileMode::kTiles, 64, 64, 64},
                       Case{TileMode::kStrips, 32, 300, 32}}) {
    SCOPED_TRACE(absl::StrCat("mode ", static_cast<int>(c.mode), " tile ", c.tile));
    ContextOptions o;
    o.workers = 2;
    o.tiling.mode = c.mode;
    o.tiling.tile_size = c.tile;
    auto ctx = MakeContext(o);
    ASSERT_NE(ctx, nullptr);
    Array copy(a.profile());
    std::memcpy(copy.mutable_data(), a.data(), a.bytes());
    absl::StatusOr<Image> img = ctx->FromArray(std::move(copy));
    ASSERT_TRUE(img.ok());
    const std::string out = dir.File(absl::StrCat("blocks", c.tile, ".tif"));
    ASSERT_TRUE(ctx->Write(*img, out).ok());
    ASSERT_TRUE(ctx->Run().ok());
    GdalFile f(out);
    ASSERT_NE(f.get(), nullptr);
    EXPECT_EQ(f.BlockSize(), std::make_pair(c.want_bw, c.want_bh));
    EXPECT_TRUE(SameBytes(ReadTiff(out), a));
  }
}

Profile Small3Band() {
  Profile p;
  p.width = 70;
  p.height = 45;
  p.bands = 3;
  p.type = PixelType::kI16;
  p.geotransform = {10.0, 2.0, 0.0, 20.0, 0.0, -2.0};
  return p;
}

// The band `b` (0-based) of `a` as a one-band array.
Array BandOf(const Array& a, int b) {
  Profile p = a.profile();
  p.bands = 1;
  Array out(p);
  const size_t plane = static_cast<size_t>(p.width) * p.height * PixelSize(p.type);
  std::memcpy(out.mutable_data(), static_cast<const std::byte*>(a.data()) + b * plane, plane);
  return out;
}

TEST(GeoTiffTest, BandSubsetSelectsBandsInTheGivenOrder) {
  TempDir dir;
  const Array a = RandomArray(Small3Band(), 32);
  const std::string path = dir.File("three.tif");
  WriteTiff(a, path, 16);
  auto ctx = MakeContext();
  ASSERT_NE(ctx, nullptr);
  absl::StatusOr<Image> b2 = ctx->Open(path, {2});
  ASSERT_TRUE(b2.ok()) << b2.status();
  ASSERT_EQ(b2->profile()->bands, 1);
  absl::StatusOr<Array> got = ctx->ReadAll(*b2);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(SameBytes(*got, BandOf(a, 1)));

  absl::StatusOr<Image> b31 = ctx->Open(path, {3, 1});
  ASSERT_TRUE(b31.ok()) << b31.status();
  absl::StatusOr<Array> got31 = ctx->ReadAll(*b31);
  ASSERT_TRUE(got31.ok()) << got31.status();
  ASSERT_EQ(got31->profile().bands, 2);
  const size_t plane = 70 * 45 * sizeof(int16_t);
  const auto* g = static_cast<const std::byte*>(got31->data());
  EXPECT_EQ(std::memcmp(g, BandOf(a, 2).data(), plane), 0);
  EXPECT_EQ(std::memcmp(g + plane, BandOf(a, 0).data(), plane), 0);
}

// A VRT whose bands 1 and 3 point to files that no longer exist: reading
// them fails, so a run that succeeds on band 2 has read band 2 only.
TEST(GeoTiffTest, BandSubsetReadsOnlyTheSelectedBand) {
  TempDir dir;
  const Array a = RandomArray(Small3Band(), 33);
  std::string vrt = "<VRTDataset rasterXSize=\"70\" rasterYSize=\"45\">\n";
  for (int b = 0; b < 3; ++b) {
    const std::string file = dir.File(absl::StrCat("band", b + 1, ".tif"));
    WriteTiff(BandOf(a, b), file, 16);
    absl::StrAppend(&vrt, "  <VRTRasterBand dataType=\"Int16\" band=\"", b + 1, "\">\n",
                    "    <SimpleSource>\n      <SourceFilename relativeToVRT=\"0\">", file,
                    "</SourceFilename>\n      <SourceBand>1</SourceBand>\n",
                    "      <SourceProperties RasterXSize=\"70\" RasterYSize=\"45\" DataType=\"Int16\" "
                    "BlockXSize=\"16\" BlockYSize=\"16\"/>\n",
                    "    </SimpleSource>\n  </VRTRasterBand>\n");
  }
  vrt += "</VRTDataset>\n";
  const std::string vrt_path = dir.File("three.vrt");
  std::ofstream(vrt_path) << vrt;
  {
    // Sanity: with every band present, the VRT reads as the array.
    auto ctx = MakeContext();
    ASSERT_NE(ctx, nullptr);
    absl::StatusOr<Image> all = ctx->Open(vrt_path);
    ASSERT_TRUE(all.ok()) << all.status();
    absl::StatusOr<Array> got = ctx->ReadAll(*all);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameBytes(*got, a));
  }
  ASSERT_EQ(std::remove(dir.File("band1.tif").c_str()), 0);
  ASSERT_EQ(std::remove(dir.File("band3.tif").c_str()), 0);

  auto ctx = MakeContext();
  ASSERT_NE(ctx, nullptr);
  absl::StatusOr<Image> b2 = ctx->Open(vrt_path, {2});
  ASSERT_TRUE(b2.ok()) << b2.status();
  absl::StatusOr<Array> got = ctx->ReadAll(*b2);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(SameBytes(*got, BandOf(a, 1)));

  // Control: asking for every band does touch the missing files.
  absl::StatusOr<Image> all = ctx->Open(vrt_path);
  const bool all_failed = !all.ok() || !ctx->ReadAll(*all).ok();
  EXPECT_TRUE(all_failed) << "the missing bands were never read: this test proves nothing";
}

TEST(GeoTiffTest, InputFileIsByteForByteUnchangedAfterARun) {
  TempDir dir;
  // A copy beside the output (same folder), and the shared original.
  const std::string copy = dir.File("dsm.tif");
  {
    std::ofstream(copy, std::ios::binary) << FileBytes(DsmPath());
  }
  const std::string original_before = FileBytes(DsmPath());
  const std::string copy_before = FileBytes(copy);
  ASSERT_EQ(copy_before, original_before);
  ASSERT_FALSE(copy_before.empty());

  ContextOptions o;
  o.workers = 2;
  o.tiling.tile_size = 128;
  auto ctx = MakeContext(o);
  ASSERT_NE(ctx, nullptr);
  for (const std::string& path : {copy, DsmPath()}) {
    absl::StatusOr<Image> in = ctx->Open(path);
    ASSERT_TRUE(in.ok()) << in.status();
    auto m = ctx->Map({*in}, CopyWithMargin(2));
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE(ctx->Write((*m)[0], dir.File(path == copy ? "out_copy.tif" : "out_orig.tif")).ok());
  }
  ASSERT_TRUE(ctx->Run().ok());
  EXPECT_EQ(FileBytes(copy), copy_before);
  EXPECT_EQ(FileBytes(DsmPath()), original_before);
}

TEST(GeoTiffTest, NoTemporaryFileIsLeftAfterSuccess) {
  TempDir dir;
  const Array a = RandomArray(Small3Band(), 34);
  const std::string in = dir.File("in.tif");
  WriteTiff(a, in, 16);
  auto ctx = MakeContext();
  ASSERT_NE(ctx, nullptr);
  absl::StatusOr<Image> img = ctx->Open(in);
  ASSERT_TRUE(img.ok());
  auto m = ctx->Map({*img}, CopyWithMargin(1));
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(ctx->Write((*m)[0], dir.File("a.tif")).ok());
  ASSERT_TRUE(ctx->Write(*img, dir.File("b.tif")).ok());
  ASSERT_TRUE(ctx->Run().ok());
  EXPECT_THAT(dir.List(), UnorderedElementsAre("in.tif", "a.tif", "b.tif"));
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("a.tif")), a));
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("b.tif")), a));
}

TEST(GeoTiffTest, WritingOverAnExistingFileReplacesIt) {
  TempDir dir;
  const std::string out = dir.File("out.tif");
  Profile p = Small3Band();
  p.bands = 1;
  for (double value : {5.0, 9.0}) {
    auto ctx = MakeContext();
    ASSERT_NE(ctx, nullptr);
    absl::StatusOr<Image> img = ctx->CreateConstant(p, value);
    ASSERT_TRUE(img.ok());
    ASSERT_TRUE(ctx->Write(*img, out).ok());
    ASSERT_TRUE(ctx->Run().ok());
    const Array got = ReadTiff(out);
    const auto s = got.Samples<int16_t>();
    EXPECT_EQ(std::count(s.begin(), s.end(), static_cast<int16_t>(value)), static_cast<ptrdiff_t>(s.size()));
  }
  EXPECT_THAT(dir.List(), ElementsAre("out.tif"));
}

TEST(GeoTiffTest, EveryPixelTypeRoundTripsThroughAFile) {
  TempDir dir;
  for (PixelType type : kAllPixelTypes) {
    SCOPED_TRACE(PixelTypeName(type));
    Profile p = Small3Band();
    p.type = type;
    p.crs_wkt = "";
    const Array a = RandomArray(p, 35);
    const std::string out = dir.File(absl::StrCat("t_", PixelTypeName(type), ".tif"));
    {
      ContextOptions o;
      o.tiling.tile_size = 32;
      auto ctx = MakeContext(o);
      ASSERT_NE(ctx, nullptr);
      Array copy(a.profile());
      std::memcpy(copy.mutable_data(), a.data(), a.bytes());
      absl::StatusOr<Image> img = ctx->FromArray(std::move(copy));
      ASSERT_TRUE(img.ok());
      ASSERT_TRUE(ctx->Write(*img, out).ok());
      const absl::Status st = ctx->Run();
      ASSERT_TRUE(st.ok()) << st;
    }
    auto ctx = MakeContext();
    ASSERT_NE(ctx, nullptr);
    absl::StatusOr<Image> back = ctx->Open(out);
    ASSERT_TRUE(back.ok()) << back.status();
    absl::StatusOr<Profile> bp = back->profile();
    ASSERT_TRUE(bp.ok());
    EXPECT_EQ(bp->type, type);
    EXPECT_EQ(bp->bands, 3);
    EXPECT_EQ(bp->geotransform, p.geotransform);
    absl::StatusOr<Array> got = ctx->ReadAll(*back);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameBytes(*got, a));
  }
}

// Tiles that are not block-aligned (written through GDAL's cache, made
// small by a small budget so blocks are evicted half-written), compressed
// or not, in every tiling: the file holds exactly the image.
TEST(GeoTiffTest, WrittenFileIsExactForEveryTiling) {
  TempDir dir;
  Profile p;
  p.width = 700;
  p.height = 530;
  p.bands = 2;
  p.type = PixelType::kF32;
  const Array a = RandomArray(p, 36);
  struct Case {
    TileMode mode;
    int tile;
    bool per_worker;
    const char* compress;
  };
  int k = 0;
  for (const Case c : {Case{TileMode::kTiles, 40, false, nullptr}, Case{TileMode::kTiles, 40, false, "DEFLATE"},
                       Case{TileMode::kTiles, 7 * 16, false, "LZW"}, Case{TileMode::kStrips, 13, false, nullptr},
                       Case{TileMode::kStrips, 0, true, "DEFLATE"}, Case{TileMode::kTiles, 0, true, nullptr},
                       Case{TileMode::kTiles, 0, false, nullptr}}) {
    SCOPED_TRACE(absl::StrCat("mode ", static_cast<int>(c.mode), " tile ", c.tile, " per_worker ", c.per_worker,
                              " compress ", c.compress ? c.compress : "none"));
    ContextOptions o;
    o.workers = 3;
    o.tiling.mode = c.mode;
    o.tiling.tile_size = c.tile;
    o.tiling.one_tile_per_worker = c.per_worker;
    o.memory_budget_bytes = 8 << 20;  // GDAL cache part: 1 MiB < one band of the image
    auto ctx = MakeContext(o);
    ASSERT_NE(ctx, nullptr);
    Array copy(a.profile());
    std::memcpy(copy.mutable_data(), a.data(), a.bytes());
    absl::StatusOr<Image> img = ctx->FromArray(std::move(copy));
    ASSERT_TRUE(img.ok());
    auto m = ctx->Map({*img}, CopyWithMargin(2));
    ASSERT_TRUE(m.ok());
    const std::string out = dir.File(absl::StrCat("w", k++, ".tif"));
    std::vector<std::string> opts;
    if (c.compress != nullptr) opts.push_back(absl::StrCat("COMPRESS=", c.compress));
    ASSERT_TRUE(ctx->Write((*m)[0], out, opts).ok());
    const absl::Status st = ctx->Run();
    ASSERT_TRUE(st.ok()) << st;
    EXPECT_TRUE(SameBytes(ReadTiff(out), a));
  }
}

}  // namespace
}  // namespace eoscale
