// Inputs of another resolution, extent or CRS read onto a reference grid
// (pipeline `read --align-to`, calc `--resampling`): equal to GDAL's
// gdalwarp (GDALWarp, with -et 0) to the same grid with the same method,
// whatever the tiling.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli_program.h"
#include "eoscale/core/array.h"
#include "gdal.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale::cli_test {
namespace {

class CliAlignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A 10 m grid, and a 20 m image offset by half a 10 m pixel that
    // overhangs it, in the same CRS; then the 20 m image in geographic
    // coordinates (a reprojection).
    const Profile ten = Utm10m(200, 150, 1, PixelType::kI16);
    WriteTiff(testing::RandomArray(ten, 1), dir_.File("ten.tif"), 64);
    Profile twenty = ten;
    twenty.width = 110;
    twenty.height = 80;
    twenty.type = PixelType::kF32;
    twenty.geotransform = {599955.0, 20.0, 0.0, 5000045.0, 0.0, -20.0};
    WriteTiff(testing::RandomArray(twenty, 2), dir_.File("twenty.tif"), 64);
    GdalWarp(dir_.File("twenty.tif"), dir_.File("geo.tif"), {"-t_srs", "EPSG:4326", "-r", "bilinear"});
  }
  // gdalwarp of `in` onto the 10 m grid.
  std::string Reference(const std::string& in, const std::string& method) {
    const std::string out = dir_.File(absl::StrCat("ref_", method, ".tif"));
    std::filesystem::remove(out);
    GdalWarp(
        in, out,
        {"-t_srs", "EPSG:32631", "-te", "600000", "4998500", "602000", "5000000", "-tr", "10", "10", "-r", method});
    return out;
  }
  TempDir dir_;
};

TEST_F(CliAlignTest, ReadAlignedEqualsGdalwarpForEveryMethodAndTiling) {
  for (const std::string source : {"twenty.tif", "geo.tif"}) {
    for (const std::string method : {"nearest", "bilinear", "cubic", "average", "mode"}) {
      const Array want = ReadTiff(Reference(dir_.File(source), method));
      // Tiles that cut the kernels everywhere; the default tiling once.
      std::vector<std::string> tiles = {"23"};
      if (method == "cubic") tiles.push_back("0");
      for (const std::string& tile : tiles) {
        SCOPED_TRACE(absl::StrCat(source, " ", method, " tiles ", tile));
        const std::string out = dir_.File("out.tif");
        std::vector<std::string> args = {"pipeline", "--overwrite"};
        if (tile != "0") args.insert(args.end(), {"--tile-size", tile});
        for (const std::string& a :
             {std::string("read"), dir_.File("ten.tif"), std::string("--as"), std::string("t"), std::string("!"),
              std::string("read"), dir_.File(source), std::string("--align-to"), std::string("t"),
              std::string("--resampling"), method, std::string("!"), std::string("write"), out}) {
          args.push_back(a);
        }
        auto r = RunCli(args);
        ASSERT_EQ(r.code, 0) << r.err;
        const Array got = ReadTiff(out);
        EXPECT_TRUE(SameBytes(got, want));
        EXPECT_EQ(got.profile().geotransform, want.profile().geotransform);
      }
    }
  }
}

TEST_F(CliAlignTest, CalcAlignsInputsOntoTheFirstInputsGrid) {
  // Downsampling too: the 10 m image onto the 20 m grid by average.
  auto r = RunCli({"calc", "-i", "W=" + dir_.File("twenty.tif"), "-i", "T=" + dir_.File("ten.tif"), "-r", "average",
                   "--calc", "T", "--ot", "Int16", "-o", dir_.File("down.tif"), "--tile-size", "16"});
  ASSERT_EQ(r.code, 0) << r.err;
  GdalWarp(dir_.File("ten.tif"), dir_.File("ref_down.tif"),
           {"-te", "599955", "4998445", "602155", "5000045", "-tr", "20", "20", "-r", "average"});
  EXPECT_TRUE(SameBytes(ReadTiff(dir_.File("down.tif")), ReadTiff(dir_.File("ref_down.tif"))));
  // Band math on the 10 m grid with a reprojected input: equals the
  // pipeline's aligned read fed to the same formula.
  r = RunCli({"calc", "-i", "T=" + dir_.File("ten.tif"), "-i", "G=" + dir_.File("geo.tif"), "--resampling", "cubic",
              "--calc", "T - G", "-o", dir_.File("calc.tif")});
  ASSERT_EQ(r.code, 0) << r.err;
  r = RunCli({"pipeline",
              "read",
              dir_.File("ten.tif"),
              "--as",
              "t",
              "!",
              "read",
              dir_.File("geo.tif"),
              "--align-to",
              "t",
              "--resampling",
              "cubic",
              "--as",
              "g",
              "!",
              "calc",
              "--calc",
              "t - g",
              "!",
              "write",
              dir_.File("pipe.tif")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(SameBytes(ReadTiff(dir_.File("calc.tif")), ReadTiff(dir_.File("pipe.tif"))));
}

TEST_F(CliAlignTest, GridGivenByExtentAndResolutionEqualsGdalwarp) {
  // 15 m pixels over part of the images (1237.5 / 15: gdalwarp's rounding),
  // both inputs read onto it; then the pipeline's read onto the same grid.
  GdalWarp(dir_.File("twenty.tif"), dir_.File("ref15.tif"),
           {"-te", "600105", "4998830", "601342.5", "4999820", "-tr", "15", "15", "-r", "bilinear"});
  GdalWarp(dir_.File("ten.tif"), dir_.File("ref15_ten.tif"),
           {"-te", "600105", "4998830", "601342.5", "4999820", "-tr", "15", "15", "-r", "bilinear"});
  const Array want = ReadTiff(dir_.File("ref15.tif"));
  const Array want_ten = ReadTiff(dir_.File("ref15_ten.tif"));
  ASSERT_EQ(want.profile().width, 83);
  auto r = RunCli({"calc", "-i", "T=" + dir_.File("ten.tif"), "-i", "W=" + dir_.File("twenty.tif"), "-r", "bilinear",
                   "--te", "600105,4998830,601342.5,4999820", "--tr", "15", "--calc", "W", "-o", dir_.File("w15.tif"),
                   "--tile-size", "16"});
  ASSERT_EQ(r.code, 0) << r.err;
  const Array got = ReadTiff(dir_.File("w15.tif"));
  EXPECT_EQ(got.profile().geotransform, want.profile().geotransform);
  EXPECT_TRUE(SameBytes(got, want));
  r = RunCli({"calc", "-i", "T=" + dir_.File("ten.tif"), "-i", "W=" + dir_.File("twenty.tif"), "-r", "bilinear", "--te",
              "600105,4998830,601342.5,4999820", "--tr", "15,15", "--t-srs", "EPSG:32631", "--calc", "T", "--ot",
              "Int16", "-o", dir_.File("t15.tif")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(SameBytes(ReadTiff(dir_.File("t15.tif")), want_ten));
  r = RunCli({"pipeline", "--tile-size", "20", "read", dir_.File("twenty.tif"), "--te",
              "600105,4998830,601342.5,4999820", "--tr", "15", "--resampling", "bilinear", "!", "write",
              dir_.File("p15.tif")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(SameBytes(ReadTiff(dir_.File("p15.tif")), want));
  // Usage errors, naming the option.
  r = RunCli({"calc", "-i", dir_.File("ten.tif"), "--te", "600105,4998830,601342.5,4999820", "--calc", "im1b1", "-o",
              dir_.File("x.tif")});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--te and --tr go together"));
  r = RunCli({"calc", "-i", dir_.File("ten.tif"), "--te", "600105,4998830,601342.5,4999820", "--tr", "15", "--t-srs",
              "EPSG:999999", "--calc", "im1b1", "-o", dir_.File("x.tif")});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--t-srs"));
  EXPECT_FALSE(std::filesystem::exists(dir_.File("x.tif")));
}

TEST_F(CliAlignTest, MisalignedInputsWithoutResamplingAndBadMethodsAreUsageErrors) {
  auto r = RunCli({"calc", "-i", dir_.File("ten.tif"), "-i", dir_.File("twenty.tif"), "--calc", "im1b1 + im2b1", "-o",
                   dir_.File("x.tif")});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("is not on the grid of input 1"));
  EXPECT_THAT(r.err, HasSubstr("add --resampling METHOD"));
  r = RunCli({"calc", "-i", dir_.File("ten.tif"), "-i", dir_.File("twenty.tif"), "-r", "cubc", "--calc", "1", "-o",
              dir_.File("x.tif")});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown resampling 'cubc'"));
  r = RunCli({"pipeline", "read", dir_.File("twenty.tif"), "--align-to", "nobody", "!", "write", dir_.File("x.tif")});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("no image is named 'nobody'"));
  r = RunCli({"pipeline", "read", dir_.File("twenty.tif"), "--resampling", "cubic", "!", "write", dir_.File("x.tif")});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--resampling needs --align-to NAME or --te/--tr"));
  EXPECT_FALSE(std::filesystem::exists(dir_.File("x.tif")));
}

}  // namespace
}  // namespace eoscale::cli_test
