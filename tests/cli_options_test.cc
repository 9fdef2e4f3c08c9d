// The options every subcommand shares: values in both spellings, bad
// values as usage errors naming the argument, --overwrite, --window and
// --bbox equal to the same window of a whole run, inputs never written,
// --dot/--trace/--report.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "cli_program.h"
#include "eoscale/core/array.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale::cli_test {
namespace {

// Window `w` of `a`, with the geotransform moved to its corner.
Array Crop(const Array& a, const Window& w) {
  Array out(CropProfile(a.profile(), w));
  const size_t px = PixelSize(a.profile().type);
  const auto* src = static_cast<const std::byte*>(a.data());
  auto* dst = static_cast<std::byte*>(out.mutable_data());
  for (int b = 0; b < a.profile().bands; ++b) {
    for (int y = 0; y < w.height; ++y) {
      const size_t from = ((static_cast<size_t>(b) * a.profile().height + y + w.y) * a.profile().width + w.x) * px;
      const size_t to = ((static_cast<size_t>(b) * w.height + y) * w.width) * px;
      std::copy(src + from, src + from + w.width * px, dst + to);
    }
  }
  return out;
}

class CliOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Profile p = Utm10m(230, 170, 4, PixelType::kI16);
    p.nodata = -32768.0;
    in_ = testing::RandomArray(p, 11);
    auto s = in_.MutableSamples<int16_t>();
    for (size_t i = 0; i < s.size(); i += 7) s[i] = -32768;  // nodata to fill
    WriteTiff(in_, dir_.File("in.tif"), 64);
  }
  TempDir dir_;
  Array in_;
};

TEST_F(CliOptionsTest, BadValuesAreUsageErrorsNamingTheArgument) {
  const std::vector<std::string> calc = {"calc",  "-i", dir_.File("in.tif"), "--calc",
                                         "im1b1", "-o", dir_.File("out.tif")};
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--workers", "abc"}, "--workers takes an integer, got 'abc'"},
      {{"--workers", "0"}, "--workers must be between 1 and 1024, got 0"},
      {{"--workers"}, "--workers needs a value"},
      {{"--memory", "-3"}, "--memory must be positive, got '-3'"},
      {{"--memory", "12"}, "--memory takes a size with a unit"},
      {{"--memory", "2XB"}, "--memory takes a size with a unit"},
      {{"--tile-size", "0"}, "--tile-size must be between 1 and 1048576, got 0"},
      {{"--tile-size=-5"}, "--tile-size must be between 1 and 1048576, got -5"},
      {{"--window", "1,2,3"}, "--window takes col,row,width,height, got '1,2,3'"},
      {{"--window", "0,0,0,5"}, "--window width must be between 1"},
      {{"--window", "200,0,100,10"}, "--window 200,0,100,10 is not inside"},
      {{"--bbox", "1,2"}, "--bbox takes xmin,ymin,xmax,ymax"},
      {{"--bbox", "3,0,1,5"}, "--bbox needs xmin < xmax"},
      {{"--bbox", "0,0,10,10"}, "does not intersect"},
      {{"--window", "0,0,5,5", "--bbox", "0,0,1,1"}, "--window and --bbox are exclusive"},
      {{"--co", "COMPRESS"}, "--co takes KEY=VALUE, got 'COMPRESS'"},
      {{"--co", "NOT_AN_OPTION=1"}, "NOT_AN_OPTION"},
      {{"--overwrite=yes"}, "--overwrite takes no value"},
      {{"--nope"}, "unknown option --nope"},
      {{"stray"}, "unexpected argument 'stray'"},
  };
  for (const auto& [extra, message] : cases) {
    std::vector<std::string> args = calc;
    args.insert(args.end(), extra.begin(), extra.end());
    SCOPED_TRACE(absl::StrJoin(extra, " "));
    auto r = RunCli(args);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr(message));
    EXPECT_FALSE(std::filesystem::exists(dir_.File("out.tif")));
    EXPECT_EQ(dir_.List().size(), 1u) << "a temporary was left";
  }
  // A budget below the graph's minimum fails the run (exit 1), stating the minimum.
  std::vector<std::string> tiny = calc;
  tiny.insert(tiny.end(), {"--memory", "1KiB"});
  auto t = RunCli(tiny);
  EXPECT_EQ(t.code, 1);
  EXPECT_THAT(t.err, HasSubstr("raise the budget to at least"));
  // Both spellings of a valid value run.
  std::vector<std::string> args = calc;
  for (const char* o : {"--workers=2", "--memory", "64MiB", "--memory=2GiB", "--tile-size=33", "--co",
                        "COMPRESS=DEFLATE", "--co=PREDICTOR=2"}) {
    args.push_back(o);
  }
  auto r = RunCli(args);
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(CliOptionsTest, AnExistingOutputIsRefusedWithoutOverwriteAndKeepsItsBytes) {
  const std::string out = dir_.File("out.tif");
  WriteFile(out, "previous bytes");
  auto r = RunCli({"calc", "-i", dir_.File("in.tif"), "--calc", "im1b1", "-o", out});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("output '" + out + "' exists; add --overwrite to replace it"));
  EXPECT_EQ(Slurp(out), "previous bytes");
  r = RunCli({"pipeline", "read", dir_.File("in.tif"), "!", "write", out});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("output '" + out + "' exists; add --overwrite to replace it"));
  EXPECT_EQ(Slurp(out), "previous bytes");
  r = RunCli({"calc", "-i", dir_.File("in.tif"), "--calc", "im1b1", "-o", out, "--overwrite"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadTiff(out).profile().width, 230);
  // The pipeline's write step takes its own --overwrite.
  r = RunCli({"pipeline", "read", dir_.File("in.tif"), "!", "write", out, "--overwrite"});
  EXPECT_EQ(r.code, 0) << r.err;
}

// --no-sync only changes when the bytes reach the disk (tests/durable_outputs_test.cc
// counts the fsyncs): same files, same refusals.
TEST_F(CliOptionsTest, NoSyncWritesTheSameFilesAndTakesNoValue) {
  auto r = RunCli({"calc", "-i", dir_.File("in.tif"), "--calc", "im1b2 * 2", "-o", dir_.File("synced.tif")});
  ASSERT_EQ(r.code, 0) << r.err;
  r = RunCli({"calc", "-i", dir_.File("in.tif"), "--calc", "im1b2 * 2", "-o", dir_.File("nosync.tif"), "--no-sync"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(SameBytes(ReadTiff(dir_.File("synced.tif")), ReadTiff(dir_.File("nosync.tif"))));
  r = RunCli({"pipeline", "--no-sync", "read", dir_.File("in.tif"), "!", "uniform", "--size", "3", "!", "write",
              dir_.File("nosync.tif"), "--overwrite"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadTiff(dir_.File("nosync.tif")).profile().type, PixelType::kI16);
  EXPECT_EQ(dir_.List().size(), 3u) << "no temporary left";
  r = RunCli({"calc", "-i", dir_.File("in.tif"), "--calc", "im1b1", "-o", dir_.File("x.tif"), "--no-sync=yes"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--no-sync takes no value"));
  r = RunCli({"calc", "--help"});
  EXPECT_THAT(r.out + r.err, HasSubstr("--no-sync"));
}

TEST_F(CliOptionsTest, AnInputIsNeverWrittenAndAFailedRunLeavesEveryOutputAsItWas) {
  const std::string in = dir_.File("in.tif");
  const std::string before = Slurp(in);
  const std::string other = dir_.File("other.tif");
  WriteFile(other, "previous other");
  auto r = RunCli({"calc", "-i", in, "--calc", "im1b1 * 2", "-o", in, "--overwrite"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("a run never writes one of its inputs"));
  // Two outputs, the second an input: neither is written.
  r = RunCli({"pipeline", "--overwrite", "read", in, "!", "uniform", "--size", "3", "!", "write", other, "!", "write",
              dir_.File("./in.tif")});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("a run never writes one of its inputs"));
  EXPECT_EQ(Slurp(in), before);
  EXPECT_EQ(Slurp(other), "previous other");
  EXPECT_EQ(dir_.List().size(), 2u);
}

TEST_F(CliOptionsTest, WindowAndBboxOutputsEqualThatWindowOfAWholeRun) {
  const std::string in = dir_.File("in.tif");
  // A graph with margins (fill-nodata reaches 4 pixels, uniform 2 more) and band math.
  auto pipeline = [&](const std::string& out, std::vector<std::string> region) {
    std::vector<std::string> args = {"pipeline", "--tile-size", "32"};
    args.insert(args.end(), region.begin(), region.end());
    const std::vector<std::string> steps = {"read",
                                            in,
                                            "--bands",
                                            "2,4",
                                            "!",
                                            "fill-nodata",
                                            "--max-distance",
                                            "4",
                                            "!",
                                            "uniform",
                                            "--size",
                                            "5",
                                            "--as",
                                            "smooth",
                                            "!",
                                            "write",
                                            out + "_smooth.tif",
                                            "!",
                                            "ndwi",
                                            "!",
                                            "write",
                                            out + "_ndwi.tif"};
    args.insert(args.end(), steps.begin(), steps.end());
    return RunCli(args);
  };
  auto r = pipeline(dir_.File("full"), {});
  ASSERT_EQ(r.code, 0) << r.err;
  const Array full_smooth = ReadTiff(dir_.File("full_smooth.tif"));
  const Array full_ndwi = ReadTiff(dir_.File("full_ndwi.tif"));
  const Window w{37, 21, 101, 77};
  r = pipeline(dir_.File("win"), {"--window", "37,21,101,77"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(SameBytes(ReadTiff(dir_.File("win_smooth.tif")), Crop(full_smooth, w)));
  EXPECT_TRUE(SameBytes(ReadTiff(dir_.File("win_ndwi.tif")), Crop(full_ndwi, w)));
  EXPECT_EQ(ReadTiff(dir_.File("win_ndwi.tif")).profile().geotransform, Crop(full_ndwi, w).profile().geotransform);
  // The same window as a box in the image's coordinates, a little inside the
  // pixel edges (snapped outward).
  r = pipeline(dir_.File("box"), {"--bbox", "600370.5,4999020.1,601379.9,4999789"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(SameBytes(ReadTiff(dir_.File("box_smooth.tif")), Crop(full_smooth, w)));
  EXPECT_TRUE(SameBytes(ReadTiff(dir_.File("box_ndwi.tif")), Crop(full_ndwi, w)));
  // calc: a box partly outside the image is clipped to it.
  r = RunCli({"calc", "-i", in, "--calc", "im1b3 - im1b1", "-o", dir_.File("calc_full.tif")});
  ASSERT_EQ(r.code, 0) << r.err;
  r = RunCli({"calc", "-i", in, "--calc", "im1b3 - im1b1", "-o", dir_.File("calc_box.tif"), "--bbox",
              "599000,4998300,600500,5001000"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(SameBytes(ReadTiff(dir_.File("calc_box.tif")),
                        Crop(ReadTiff(dir_.File("calc_full.tif")), Window{0, 0, 50, 170})));
}

TEST_F(CliOptionsTest, BboxCrsTransformsTheBoxIntoTheImagesCrs) {
  const std::string in = dir_.File("in.tif");
  auto window_of = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"stats", in, "--bands", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunCli(args);
  };
  auto plain = window_of({"--bbox", "600500,4999000,601000,4999500"});
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_THAT(plain.out, HasSubstr("\"window\": [50, 50, 50, 50]"));
  auto same = window_of({"--bbox", "600500,4999000,601000,4999500", "--bbox-crs", "EPSG:32631"});
  EXPECT_EQ(same.out, plain.out) << same.err;
  // The same corners in longitude, latitude (UTM 31N, computed with PROJ):
  // the envelope of the transformed outline holds the window, a pixel or
  // two wider (the UTM grid is rotated against meridians).
  auto geo = window_of(
      {"--bbox", "4.278190404415874,45.13732240906526,4.284649018657037,45.14175078902277", "--bbox-crs=EPSG:4326"});
  ASSERT_EQ(geo.code, 0) << geo.err;
  EXPECT_THAT(geo.out, HasSubstr("\"window\": [49, 50, 52, 50]"));
  auto bad = window_of({"--bbox", "1,2,3,4", "--bbox-crs", "EPSG:99999"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--bbox-crs: unknown CRS 'EPSG:99999'"));
  EXPECT_THAT(bad.err, Not(HasSubstr("ERROR")));
  bad = window_of({"--bbox-crs", "EPSG:4326"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--bbox-crs needs --bbox"));
}

TEST_F(CliOptionsTest, DotTraceAndReportAreWritten) {
  auto r = RunCli({"calc", "-i", dir_.File("in.tif"), "--calc", "im1b2 + im1b4", "-o", dir_.File("out.tif"), "--dot",
                   dir_.File("g.dot"), "--trace=" + dir_.File("t.json"), "--report"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(Slurp(dir_.File("g.dot")), HasSubstr("digraph"));
  EXPECT_THAT(Slurp(dir_.File("t.json")), HasSubstr("traceEvents"));
  EXPECT_THAT(r.err, HasSubstr("peak"));
  EXPECT_EQ(r.out, "");
}

// The program bounds GDAL's block cache (GDAL's own default, 5 % of the RAM,
// is what aligned JPEG 2000 reads fill), unless GDAL_CACHEMAX says otherwise.
TEST_F(CliOptionsTest, GdalCacheIsBoundedUnlessGdalCacheMaxIsSet) {
  const std::vector<std::string> args = {"calc", "-i", dir_.File("in.tif"), "--calc", "im1b2", "-o",
                                         dir_.File("out.tif"), "--overwrite", "--report"};
  ASSERT_EQ(::unsetenv("GDAL_CACHEMAX"), 0);
  auto r = RunCli(args);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("GDAL block cache (outside the budget): at most 256 MiB\n"));
  ASSERT_EQ(::setenv("GDAL_CACHEMAX", "100", 1), 0);
  r = RunCli(args);
  ::unsetenv("GDAL_CACHEMAX");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("at most 100 MiB (GDAL_CACHEMAX)"));
}

}  // namespace
}  // namespace eoscale::cli_test
