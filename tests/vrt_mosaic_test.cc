// A VRT that places files side by side is read from the files themselves
// (io/vrt_mosaic.h): every window reads the bytes GDAL's own RasterIO on the
// VRT gives (seams, gaps filled with nodata or 0, overlaps where the last
// source wins, band subsets); a VRT that does more than place files is left
// to GDAL, with the same bytes; a source changed during a run fails it.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <ostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cpl_string.h"
#include "eoscale/core/view.h"
#include "eoscale/graph/context.h"
#include "eoscale/io/gdal_raster.h"
#include "eoscale/io/vrt_mosaic.h"
#include "gdal.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using io::internal::VrtMosaicReads;
using ::testing::HasSubstr;

// A w x h tiled GeoTIFF of `bands` bands of `type`, random bytes; every
// 5th pixel `nodata` when set.
std::string MakeFile(const std::string& path, int w, int h, int bands, GDALDataType type, uint32_t seed,
                     const char* interleave = "BAND", std::optional<double> nodata = std::nullopt) {
  GDALAllRegister();
  CPLStringList opts;
  opts.AddString("TILED=YES");
  opts.AddString("BLOCKXSIZE=32");
  opts.AddString("BLOCKYSIZE=32");
  opts.AddString(absl::StrCat("INTERLEAVE=", interleave).c_str());
  GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), path.c_str(), w, h, bands, type, opts.List());
  EXPECT_NE(ds, nullptr) << path;
  if (ds == nullptr) return path;
  std::vector<unsigned char> data(static_cast<size_t>(w) * h * bands * GDALGetDataTypeSizeBytes(type));
  std::mt19937 rng(seed);
  for (unsigned char& c : data) c = static_cast<unsigned char>(rng());
  if (nodata) {
    const int psize = GDALGetDataTypeSizeBytes(type);
    std::vector<unsigned char> v(psize);
    GDALCopyWords(&*nodata, GDT_Float64, 0, v.data(), type, 0, 1);
    for (size_t i = 0; i < data.size() / psize; i += 5) std::memcpy(&data[i * psize], v.data(), psize);
  }
  EXPECT_EQ(GDALDatasetRasterIO(ds, GF_Write, 0, 0, w, h, data.data(), w, h, type, bands, nullptr, 0, 0, 0),
            CE_None);
  GDALClose(ds);
  return path;
}

struct Source {
  Source(std::string f, Window s, Window d, std::string e = "SimpleSource", std::string x = "")
      : file(std::move(f)), src(s), dst(d), element(std::move(e)), extra(std::move(x)) {}
  std::string file;  // relative to the VRT's folder
  Window src, dst;
  std::string element;
  std::string extra;  // more XML inside the source element
};

std::string Rect(const char* name, const Window& w) {
  return absl::StrCat("<", name, " xOff=\"", w.x, "\" yOff=\"", w.y, "\" xSize=\"", w.width, "\" ySize=\"",
                      w.height, "\"/>");
}

// A VRT of `bands` bands of `type`, band b reading band `source_band(b)` of
// every source (b by default), with `nodata` when not empty.
std::string MakeVrt(const std::string& path, int w, int h, int bands, const char* type,
                    const std::vector<Source>& sources, const std::string& nodata = "",
                    const std::vector<int>& source_bands = {}) {
  std::string xml = absl::StrCat("<VRTDataset rasterXSize=\"", w, "\" rasterYSize=\"", h, "\">\n");
  for (int b = 1; b <= bands; ++b) {
    absl::StrAppend(&xml, "  <VRTRasterBand dataType=\"", type, "\" band=\"", b, "\">\n");
    if (!nodata.empty()) absl::StrAppend(&xml, "    <NoDataValue>", nodata, "</NoDataValue>\n");
    for (const Source& s : sources) {
      const int sb = source_bands.empty() ? b : source_bands[b - 1];
      absl::StrAppend(&xml, "    <", s.element, "><SourceFilename relativeToVRT=\"1\">", s.file,
                      "</SourceFilename><SourceBand>", sb, "</SourceBand>", Rect("SrcRect", s.src),
                      Rect("DstRect", s.dst), s.extra, "</", s.element, ">\n");
    }
    absl::StrAppend(&xml, "  </VRTRasterBand>\n");
  }
  absl::StrAppend(&xml, "</VRTDataset>\n");
  std::ofstream(path) << xml;
  return path;
}

// The window of `bands` as GDAL's RasterIO on the file gives it, band-sequential.
std::vector<unsigned char> GdalRead(const std::string& path, const Window& win, const std::vector<int>& bands) {
  GDALDatasetH ds = GDALOpen(path.c_str(), GA_ReadOnly);
  EXPECT_NE(ds, nullptr);
  if (ds == nullptr) return {};
  const GDALDataType type = GDALGetRasterDataType(GDALGetRasterBand(ds, 1));
  std::vector<unsigned char> out(win.Pixels() * static_cast<int64_t>(bands.size()) * GDALGetDataTypeSizeBytes(type));
  EXPECT_EQ(GDALDatasetRasterIO(ds, GF_Read, win.x, win.y, win.width, win.height, out.data(), win.width, win.height,
                                type, static_cast<int>(bands.size()), const_cast<int*>(bands.data()), 0, 0, 0),
            CE_None);
  GDALClose(ds);
  return out;
}

// The window read through the engine's source, band-sequential.
std::vector<unsigned char> EngineRead(RasterSource& src, const Window& win) {
  const Profile& p = src.profile();
  std::vector<unsigned char> out(win.Pixels() * p.bands * PixelSize(p.type));
  const View v(out.data(), p.type, p.bands, win, win.width, win.Pixels());
  const absl::Status s = src.Read(v);
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

// Windows across the image: whole, corners, seams, random.
std::vector<Window> WindowsOf(int w, int h) {
  std::vector<Window> ws = {{0, 0, w, h}, {0, 0, 64, 64}, {w - 7, h - 5, 7, 5}, {99, 0, 2, h}};
  if (h >= 100) ws.push_back({90, 60, 40, 40});
  std::mt19937 rng(5);
  for (int i = 0; i < 40; ++i) {
    const int ww = 1 + static_cast<int>(rng() % std::min(w, 80)), hh = 1 + static_cast<int>(rng() % std::min(h, 80));
    ws.push_back({static_cast<int>(rng() % (w - ww + 1)), static_cast<int>(rng() % (h - hh + 1)), ww, hh});
  }
  return ws;
}

// Four 100 x 70 files placed 2 x 2 in a 210 x 150 VRT (a strip of gap on
// the right and at the bottom), and a 30 x 30 piece of the first file placed
// again across the middle seams (an overlap: it wins).
std::vector<Source> Mosaic() {
  return {{"t0.tif", {0, 0, 100, 70}, {0, 0, 100, 70}},
          {"t1.tif", {0, 0, 100, 70}, {100, 0, 100, 70}},
          {"t2.tif", {0, 0, 100, 70}, {0, 70, 100, 70}},
          {"t3.tif", {0, 0, 100, 70}, {100, 70, 100, 70}},
          {"t0.tif", {1, 2, 30, 30}, {90, 60, 30, 30}}};
}

// The same four files as gdalbuildvrt places files with a nodata value:
// <ComplexSource>s with that <NODATA>, no overlap.
std::vector<Source> NodataMosaic(const std::string& nodata) {
  std::vector<Source> s = Mosaic();
  s.pop_back();
  for (Source& x : s) {
    x.element = "ComplexSource";
    x.extra = absl::StrCat("<NODATA>", nodata, "</NODATA>");
  }
  return s;
}

struct Case {
  const char* name;
  GDALDataType type;
  const char* vrt_type;
  std::string nodata;
  const char* interleave;
  bool complex = false;  // gdalbuildvrt's sources for files with nodata
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class VrtMosaicTest : public ::testing::TestWithParam<Case> {};

TEST_P(VrtMosaicTest, EveryWindowReadsWhatGdalReadsThroughTheVrt) {
  const Case& c = GetParam();
  testing::TempDir dir;
  std::optional<double> poke;
  if (c.complex) poke = std::stod(c.nodata);
  for (int i = 0; i < 4; ++i) {
    MakeFile(dir.File(absl::StrCat("t", i, ".tif")), 100, 70, 3, c.type, 10 + i, c.interleave, poke);
  }
  const std::string vrt =
      MakeVrt(dir.File("m.vrt"), 210, 150, 3, c.vrt_type, c.complex ? NodataMosaic(c.nodata) : Mosaic(), c.nodata);
  for (const std::vector<int>& bands : {std::vector<int>{3, 1}, std::vector<int>{1, 2, 3}, std::vector<int>{2}}) {
    absl::StatusOr<std::unique_ptr<RasterSource>> src = io::OpenRaster(vrt, bands);
    ASSERT_TRUE(src.ok()) << src.status();
    const int64_t before = VrtMosaicReads();
    const std::vector<Window> windows = WindowsOf(210, 150);
    for (const Window& w : windows) {
      ASSERT_EQ(EngineRead(**src, w), GdalRead(vrt, w, bands)) << c.name << " " << DescribeWindow(w);
    }
    EXPECT_EQ(VrtMosaicReads() - before, static_cast<int64_t>(windows.size())) << "read from the files";
    EXPECT_TRUE((*src)->CheckUnchanged().ok());
    EXPECT_EQ((*src)->files().size(), c.complex ? 5u : 6u) << "the VRT and its four files (one twice)";
  }
}

INSTANTIATE_TEST_SUITE_P(Types, VrtMosaicTest,
                         ::testing::Values(Case{"int16_nodata", GDT_Int16, "Int16", "-9999", "BAND"},
                                           Case{"byte_no_nodata", GDT_Byte, "Byte", "", "PIXEL"},
                                           Case{"float32_nan", GDT_Float32, "Float32", "nan", "BAND"},
                                           Case{"uint16_zero", GDT_UInt16, "UInt16", "0", "PIXEL"},
                                           Case{"int16_gdalbuildvrt_nodata", GDT_Int16, "Int16", "-9999", "BAND", true},
                                           Case{"float32_gdalbuildvrt_nodata", GDT_Float32, "Float32", "-32768", "BAND",
                                                true},
                                           Case{"uint16_gdalbuildvrt_zero", GDT_UInt16, "UInt16", "0", "PIXEL", true}),
                         [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

// A run through the engine: the same pixels as GDAL's read of the VRT, and
// the mosaic path taken.
TEST(VrtMosaicRunTest, ARunOnAMosaicGivesGdalsPixels) {
  testing::TempDir dir;
  for (int i = 0; i < 4; ++i) MakeFile(dir.File(absl::StrCat("t", i, ".tif")), 100, 70, 2, GDT_Int16, 20 + i);
  const std::string vrt = MakeVrt(dir.File("m.vrt"), 210, 150, 2, "Int16", Mosaic(), "-1");
  ContextOptions o;
  o.tiling.tile_size = 48;
  auto c = Context::Create(o);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<Image> img = (*c)->Open(vrt, std::vector<int>{2, 1});
  ASSERT_TRUE(img.ok()) << img.status();
  const int64_t before = VrtMosaicReads();
  absl::StatusOr<Array> a = (*c)->ReadAll(*img);
  ASSERT_TRUE(a.ok()) << a.status();
  const std::vector<unsigned char> expected = GdalRead(vrt, {0, 0, 210, 150}, {2, 1});
  ASSERT_EQ(a->profile().bands, 2);
  EXPECT_EQ(std::memcmp(a->data(), expected.data(), expected.size()), 0);
  EXPECT_GT(VrtMosaicReads(), before);
  // A source of the VRT is an input: never an output of the run.
  absl::Status w = (*c)->Write(*img, dir.File("t1.tif"));
  if (w.ok()) w = (*c)->Run();
  EXPECT_FALSE(w.ok());
  EXPECT_THAT(std::string(w.message()), HasSubstr("t1.tif"));
}

// What the mosaic path does not take: GDAL reads those, with the same bytes.
TEST(VrtMosaicFallbackTest, VrtsThatDoMoreThanPlaceFilesAreLeftToGdal) {
  testing::TempDir dir;
  for (int i = 0; i < 2; ++i) {
    MakeFile(dir.File(absl::StrCat("t", i, ".tif")), 100, 70, 2, GDT_Byte, 30 + i, "BAND", 7.0);
  }
  const Window a{0, 0, 100, 70}, right{100, 0, 100, 70};
  struct Fallback {
    const char* name;
    std::vector<Source> sources;
    std::string nodata;
    std::vector<int> source_bands;
  };
  const std::vector<Fallback> cases = {
      {"scaled", {{"t0.tif", a, a, "ComplexSource", "<ScaleOffset>3</ScaleOffset><ScaleRatio>2</ScaleRatio>"}}, "", {}},
      {"resampled", {{"t0.tif", {0, 0, 50, 35}, a}}, "", {}},
      {"nodata not a byte", {{"t0.tif", a, a}, {"t1.tif", a, right}}, "300", {}},
      {"bands from other places", {{"t0.tif", a, a}}, "", {1, 2}},
      {"nodata source under another",
       {{"t1.tif", a, a}, {"t0.tif", a, {50, 0, 100, 70}, "ComplexSource", "<NODATA>7</NODATA>"}}, "7", {}},
      {"source nodata not the band's", {{"t0.tif", a, a, "ComplexSource", "<NODATA>7</NODATA>"}}, "8", {}},
      {"masked source", {{"t0.tif", a, a, "ComplexSource", "<UseMaskBand>true</UseMaskBand>"}}, "", {}},
  };
  for (const Fallback& f : cases) {
    std::string vrt = MakeVrt(dir.File("f.vrt"), 200, 70, 2, "Byte", f.sources, f.nodata, f.source_bands);
    if (std::string(f.name) == "bands from other places") {
      // Band 2 places t1 where band 1 places t0.
      std::ofstream(vrt) << "<VRTDataset rasterXSize=\"200\" rasterYSize=\"70\">"
                            "<VRTRasterBand dataType=\"Byte\" band=\"1\"><SimpleSource>"
                            "<SourceFilename relativeToVRT=\"1\">t0.tif</SourceFilename><SourceBand>1</SourceBand>"
                         << Rect("SrcRect", a) << Rect("DstRect", a)
                         << "</SimpleSource></VRTRasterBand>"
                            "<VRTRasterBand dataType=\"Byte\" band=\"2\"><SimpleSource>"
                            "<SourceFilename relativeToVRT=\"1\">t1.tif</SourceFilename><SourceBand>1</SourceBand>"
                         << Rect("SrcRect", a) << Rect("DstRect", right) << "</SimpleSource></VRTRasterBand>"
                         << "</VRTDataset>";
    }
    absl::StatusOr<std::unique_ptr<RasterSource>> src = io::OpenRaster(vrt, {1, 2});
    ASSERT_TRUE(src.ok()) << f.name << ": " << src.status();
    const int64_t before = VrtMosaicReads();
    for (const Window& w : WindowsOf(200, 70)) {
      ASSERT_EQ(EngineRead(**src, w), GdalRead(vrt, w, {1, 2})) << f.name << " " << DescribeWindow(w);
    }
    EXPECT_EQ(VrtMosaicReads(), before) << f.name << ": GDAL read it";
  }
}

TEST(VrtMosaicRunTest, AMissingSourceIsNotFoundAtOpenNamingTheVrtAndTheFile) {
  testing::TempDir dir;
  for (int i = 0; i < 4; ++i) MakeFile(dir.File(absl::StrCat("t", i, ".tif")), 100, 70, 1, GDT_Int16, 50 + i);
  const std::string vrt = MakeVrt(dir.File("m.vrt"), 200, 140, 1, "Int16", Mosaic());
  ASSERT_EQ(::unlink(dir.File("t3.tif").c_str()), 0);
  absl::StatusOr<std::unique_ptr<RasterSource>> src = io::OpenRaster(vrt, {1});
  EXPECT_EQ(src.status().code(), absl::StatusCode::kNotFound) << src.status();
  EXPECT_THAT(std::string(src.status().message()), HasSubstr("m.vrt"));
  EXPECT_THAT(std::string(src.status().message()), HasSubstr("t3.tif' does not exist"));
}

TEST(VrtMosaicRunTest, ASourceChangedDuringTheRunFailsItNamingTheFile) {
  testing::TempDir dir;
  for (int i = 0; i < 4; ++i) MakeFile(dir.File(absl::StrCat("t", i, ".tif")), 100, 70, 1, GDT_Int16, 40 + i);
  const std::string vrt = MakeVrt(dir.File("m.vrt"), 200, 140, 1, "Int16", Mosaic());
  absl::StatusOr<std::unique_ptr<RasterSource>> src = io::OpenRaster(vrt, {1});
  ASSERT_TRUE(src.ok()) << src.status();
  EngineRead(**src, {0, 0, 200, 140});
  // Another file under t2's name (the same size, other bytes).
  MakeFile(dir.File("t2.new.tif"), 100, 70, 1, GDT_Int16, 99);
  ASSERT_EQ(::rename(dir.File("t2.new.tif").c_str(), dir.File("t2.tif").c_str()), 0);
  const absl::Status s = (*src)->CheckUnchanged();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("t2.tif"));
}

}  // namespace
}  // namespace eoscale
