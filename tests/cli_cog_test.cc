// --cog: a valid Cloud Optimized GeoTIFF (GDAL's own validator when
// python3-gdal is installed; the layout GDAL reports otherwise), with
// overviews, compressed by default, the same pixels as a plain output.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "cli_program.h"
#include "cpl_string.h"
#include "eoscale/core/array.h"
#include "gdal.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale::cli_test {
namespace {

// Debian's python3-gdal (scripts/deps.sh installs it).
const char kValidator[] = "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_cloud_optimized_geotiff.py";

struct Layout {
  std::string layout, compression;
  int overviews = 0;
  int block = 0;
};

Layout Describe(const std::string& path) {
  GDALAllRegister();
  Layout l;
  GDALDatasetH d = GDALOpen(path.c_str(), GA_ReadOnly);
  if (d == nullptr) return l;
  const char* v = GDALGetMetadataItem(d, "LAYOUT", "IMAGE_STRUCTURE");
  l.layout = v ? v : "";
  v = GDALGetMetadataItem(d, "COMPRESSION", "IMAGE_STRUCTURE");
  l.compression = v ? v : "";
  GDALRasterBandH b = GDALGetRasterBand(d, 1);
  l.overviews = GDALGetOverviewCount(b);
  int bx = 0, by = 0;
  GDALGetBlockSize(b, &bx, &by);
  l.block = bx;
  GDALClose(d);
  return l;
}

TEST(CliCogTest, CogOutputIsValidWithOverviewsCompressedAndHasThePlainOutputsPixels) {
  TempDir dir;
  const Profile p = Utm10m(1500, 1100, 2, PixelType::kI16);
  testing::WriteTiff(testing::RandomArray(p, 9), dir.File("in.tif"));
  const std::string calc = "(im1b1 - im1b2) / 3";
  auto r = RunCli({"calc", "-i", dir.File("in.tif"), "--calc", calc, "--ot", "Int16", "-o", dir.File("plain.tif")});
  ASSERT_EQ(r.code, 0) << r.err;
  r = RunCli({"calc", "-i", dir.File("in.tif"), "--calc", calc, "--ot", "Int16", "-o", dir.File("cog.tif"), "--cog",
              "--tile-size", "100"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(dir.List().size(), 3u) << "a temporary was left";
  EXPECT_TRUE(SameBytes(ReadTiff(dir.File("cog.tif")), ReadTiff(dir.File("plain.tif"))));
  const Layout l = Describe(dir.File("cog.tif"));
  EXPECT_EQ(l.layout, "COG");
  EXPECT_EQ(l.compression, "DEFLATE");
  EXPECT_GE(l.overviews, 2);
  EXPECT_EQ(l.block, 512);
  if (!std::filesystem::exists(kValidator) || !std::filesystem::exists("/usr/bin/python3")) {
    GTEST_SKIP() << "no " << kValidator << " (python3-gdal): checked GDAL's layout only";
  }
  const std::string cmd = std::string("/usr/bin/python3 ") + kValidator + " " + dir.File("cog.tif") + " > " +
                          dir.File("validator.log") + " 2>&1";
  const int status = std::system(cmd.c_str());
  EXPECT_EQ(status, 0) << testing::Slurp(dir.File("validator.log"));
  std::filesystem::remove(dir.File("validator.log"));

  // The pipeline's write step, with --co passed to the COG driver.
  r = RunCli({"pipeline", "read", dir.File("in.tif"), "!", "uniform", "--size", "3", "!", "write", dir.File("u.tif"),
              "--cog", "--co", "COMPRESS=ZSTD", "--co", "BLOCKSIZE=256"});
  ASSERT_EQ(r.code, 0) << r.err;
  const Layout u = Describe(dir.File("u.tif"));
  EXPECT_EQ(u.layout, "COG");
  EXPECT_EQ(u.compression, "ZSTD");
  EXPECT_EQ(u.block, 256);
  EXPECT_EQ(std::system((std::string("/usr/bin/python3 ") + kValidator + " -q " + dir.File("u.tif")).c_str()), 0);
}

TEST(CliCogTest, ABadCreationOptionIsAUsageErrorAndNothingIsWritten) {
  TempDir dir;
  Profile p;
  p.width = 50;
  p.height = 40;
  testing::WriteTiff(testing::RandomArray(p, 9), dir.File("in.tif"));
  auto r = RunCli(
      {"calc", "-i", dir.File("in.tif"), "--calc", "im1b1", "-o", dir.File("cog.tif"), "--cog", "--co", "ZLEVEL=9"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--co with --cog: driver COG does not support creation option ZLEVEL"));
  r = RunCli({"calc", "-i", dir.File("in.tif"), "--calc", "im1b1", "-o", dir.File("cog.tif"), "--cog", "--co",
              "COMPRESS=NOPE"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("COMPRESS"));
  EXPECT_EQ(dir.List(), std::vector<std::string>{"in.tif"});
}

}  // namespace
}  // namespace eoscale::cli_test
