// `eoscale calc`: named and OTB formulas against a whole-image reference,
// output types, and the formula's usage errors.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli_program.h"
#include "eoscale/core/array.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale::cli_test {
namespace {

class CliCalcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = testing::RandomArray(Utm10m(300, 200, 4, PixelType::kI16), 1);
    b_ = testing::RandomArray(Utm10m(300, 200, 2, PixelType::kU16), 2);
    WriteTiff(a_, dir_.File("a.tif"), 64);
    WriteTiff(b_, dir_.File("b.tif"), 64);
  }
  TempDir dir_;
  Array a_, b_;
};

TEST_F(CliCalcTest, NamedFormulaEqualsAWholeImageReferenceAndTheOtbSpelling) {
  const std::string named = "(A.b2 - A.b4) / (A.b2 + A.b4 + 0.5) + B.b2";
  auto r = RunCli({"calc", "-i", "A=" + dir_.File("a.tif"), "-i", "B=" + dir_.File("b.tif"), "--calc", named, "--ot",
                   "Float64", "-o", dir_.File("named.tif"), "--tile-size", "48", "--workers", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  const Array got = ReadTiff(dir_.File("named.tif"));
  ASSERT_EQ(got.profile().type, PixelType::kF64);
  ASSERT_EQ(got.profile().bands, 1);
  EXPECT_EQ(got.profile().geotransform, a_.profile().geotransform);
  const auto a = a_.Samples<int16_t>();
  const auto b = b_.Samples<uint16_t>();
  const auto o = got.Samples<double>();
  const size_t n = 300 * 200;
  for (size_t i = 0; i < n; ++i) {
    const double a2 = a[n + i], a4 = a[3 * n + i], b2 = b[n + i];
    ASSERT_EQ(o[i], (a2 - a4) / (a2 + a4 + 0.5) + b2) << "pixel " << i;
  }
  // OTB's spelling, inputs unnamed or named, one worker and other tiles: the same bytes.
  r = RunCli({"calc", "-i", dir_.File("a.tif"), "-i", "B=" + dir_.File("b.tif"), "--calc",
              "(im1b2 - im1b4) / (im1b2 + im1b4 + 0.5) + im2b2", "--ot=Float64", "-o", dir_.File("otb.tif"),
              "--workers=1", "--tile-size=17"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(SameBytes(ReadTiff(dir_.File("otb.tif")), got));
}

TEST_F(CliCalcTest, OutputTypesTruncateAndSaturate) {
  auto r = RunCli({"calc", "-i", "A=" + dir_.File("a.tif"), "--calc", "A.b1 / 100", "--ot", "Byte", "-o",
                   dir_.File("byte.tif"), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const Array got = ReadTiff(dir_.File("byte.tif"));
  ASSERT_EQ(got.profile().type, PixelType::kU8);
  const auto a = a_.Samples<int16_t>();
  const auto o = got.Samples<uint8_t>();
  for (size_t i = 0; i < o.size(); ++i) {
    const double v = std::trunc(a[i] / 100.0);
    ASSERT_EQ(o[i], static_cast<uint8_t>(std::clamp(v, 0.0, 255.0))) << i;
  }
  // A bare name is band 1; Int16 output.
  r = RunCli({"calc", "-i", "A=" + dir_.File("a.tif"), "--calc", "A", "--ot", "int16", "-o", dir_.File("a1.tif")});
  ASSERT_EQ(r.code, 0) << r.err;
  const Array a1_array = ReadTiff(dir_.File("a1.tif"));
  const auto a1 = a1_array.Samples<int16_t>();
  ASSERT_EQ(a1.size(), a.size() / 4);
  EXPECT_TRUE(std::equal(a1.begin(), a1.end(), a.begin()));
}

TEST_F(CliCalcTest, FormulaErrorsAreUsageErrorsNamingWhatIsWrong) {
  const std::string a = "A=" + dir_.File("a.tif");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"-i", a, "--calc", "A.b1 + C.b2"},
       "'C.b2' at position 7 names input 'C', which is not one of the inputs' names (A)"},
      {{"-i", a, "--calc", "A.b1 + * 2"}, "unexpected operator '*' at position 7"},
      {{"-i", a, "--calc", "im2b1"}, "names input im2, but there is 1 input"},
      {{"-i", a, "--calc", "A.b9"}, "band 9 of '" + dir_.File("a.tif") + "' does not exist (the file has 4 bands)"},
      {{"-i", a, "--calc", "foo(A.b1)"}, "foo"},
      {{"-i", "sin=" + dir_.File("a.tif"), "--calc", "1"}, "'sin' cannot name an input"},
      {{"-i", a, "-i", a, "--calc", "1"}, "input name 'A' given twice"},
      {{"-i", a, "-o", dir_.File("x.tif")}, "no formula: give --calc FORMULA"},
      {{"--calc", "1", "-o", dir_.File("x.tif")}, "no input"},
      {{"-i", a, "--calc", "1"}, "no output: give -o FILE"},
      {{"-i", a, "--calc", "1", "--ot", "Complex64"}, "--ot takes a GDAL type"},
      {{"-i", dir_.File("missing.tif"), "--calc", "im1b1"}, "missing.tif"},
      {{"-i", a, "--calc", "1", "--frobnicate"}, "unknown option --frobnicate"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"calc"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    if (std::find(c.args.begin(), c.args.end(), "-o") == c.args.end() &&
        c.message.find("no output") == std::string::npos) {
      args.push_back("-o");
      args.push_back(dir_.File("x.tif"));
    }
    SCOPED_TRACE(absl::StrJoin(args, " "));
    auto r = RunCli(args);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr("eoscale calc: "));
    EXPECT_THAT(r.err, HasSubstr(c.message));
    EXPECT_FALSE(std::filesystem::exists(dir_.File("x.tif")));
  }
}

TEST_F(CliCalcTest, HelpShowsExamplesAndExitsZero) {
  auto r = RunCli({"calc", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("Examples:"));
  EXPECT_THAT(r.out, HasSubstr("--overwrite"));
  r = RunCli({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("pipeline"));
  r = RunCli({"frobnicate"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown command 'frobnicate'"));
  r = RunCli({});
  EXPECT_EQ(r.code, 2);
}

}  // namespace
}  // namespace eoscale::cli_test
