// `eoscale stats`: the JSON figures against a direct computation, the same
// bytes for every tiling, windows, histograms.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "cli_program.h"
#include "eoscale/core/array.h"
#include "eoscale/filters/histogram.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale::cli_test {
namespace {

// The number after "key": in `json`, from `from` on; NaN for null.
double Field(const std::string& json, const std::string& key, size_t* from) {
  const std::string k = "\"" + key + "\": ";
  const size_t p = json.find(k, *from);
  EXPECT_NE(p, std::string::npos) << key << " in " << json;
  if (p == std::string::npos) return std::nan("");
  *from = p + k.size();
  if (json.compare(*from, 4, "null") == 0) return std::nan("");
  return std::strtod(json.c_str() + *from, nullptr);
}

struct Expected {
  int64_t count = 0;
  double min = 0, max = 0, mean = 0, std = 0;
};

// The statistics of band `b` of `a` (float samples), skipping nodata and NaN.
Expected Direct(const Array& a, int b) {
  const auto s = a.Samples<float>();
  const size_t n = static_cast<size_t>(a.profile().width) * a.profile().height;
  Expected e;
  e.min = std::numeric_limits<double>::infinity();
  e.max = -e.min;
  long double sum = 0, sq = 0;
  for (size_t i = b * n; i < (b + 1) * n; ++i) {
    const double v = s[i];
    if (std::isnan(v) || (a.profile().nodata && v == *a.profile().nodata)) continue;
    ++e.count;
    e.min = std::min(e.min, v);
    e.max = std::max(e.max, v);
    sum += v;
    sq += static_cast<long double>(v) * v;
  }
  e.mean = static_cast<double>(sum / e.count);
  e.std = static_cast<double>(std::sqrt(sq / e.count - (sum / e.count) * (sum / e.count)));
  return e;
}

class CliStatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Profile p;
    p.width = 257;
    p.height = 190;
    p.bands = 2;
    p.type = PixelType::kF32;
    p.nodata = -9999.0;
    p.geotransform = {1000.0, 2.0, 0.0, 5000.0, 0.0, -2.0};
    a_ = testing::RandomArray(p, 7);
    auto s = a_.MutableSamples<float>();
    for (size_t i = 0; i < s.size(); i += 13) s[i] = -9999.0f;
    for (size_t i = 5; i < s.size(); i += 101) s[i] = std::numeric_limits<float>::quiet_NaN();
    WriteTiff(a_, dir_.File("in.tif"), 64);
  }
  TempDir dir_;
  Array a_;
};

TEST_F(CliStatsTest, FiguresEqualADirectComputationAndTheBytesDoNotDependOnTheTiling) {
  auto r =
      RunCli({"stats", "-i", dir_.File("in.tif"), "--histogram-bins", "10", "--workers", "1", "--tile-size", "300"});
  ASSERT_EQ(r.code, 0) << r.err;
  size_t at = 0;
  for (int b = 0; b < 2; ++b) {
    SCOPED_TRACE(b);
    const Expected e = Direct(a_, b);
    EXPECT_EQ(Field(r.out, "band", &at), b + 1);
    EXPECT_EQ(Field(r.out, "count", &at), e.count);
    EXPECT_EQ(Field(r.out, "min", &at), e.min);
    EXPECT_EQ(Field(r.out, "max", &at), e.max);
    EXPECT_NEAR(Field(r.out, "mean", &at), e.mean, 1e-9 * std::abs(e.mean) + 1e-9);
    EXPECT_NEAR(Field(r.out, "std", &at), e.std, 1e-9 * e.std);
    // Histogram: numpy's bins over [min, max].
    const std::vector<double> edges = filters::UniformEdges(e.min, e.max, 10);
    std::vector<int64_t> want(10, 0);
    const auto s = a_.Samples<float>();
    const size_t n = 257 * 190;
    for (size_t i = b * n; i < (b + 1) * n; ++i) {
      if (std::isnan(s[i]) || s[i] == -9999.0f) continue;
      size_t k = std::upper_bound(edges.begin(), edges.end(), double{s[i]}) - edges.begin() - 1;
      ++want[std::min<size_t>(k, 9)];
    }
    std::string counts;
    for (size_t k = 0; k < 10; ++k) counts += (k ? ", " : "") + std::to_string(want[k]);
    EXPECT_THAT(r.out, HasSubstr("\"counts\": [" + counts + "]"));
  }
  // Other tilings and worker counts: the same bytes.
  for (const std::vector<std::string>& o : std::vector<std::vector<std::string>>{
           {"--tile-size", "7", "--workers", "3"}, {"--tile-size", "64", "--workers", "2"}}) {
    std::vector<std::string> args = {"stats", dir_.File("in.tif"), "--histogram-bins=10"};
    args.insert(args.end(), o.begin(), o.end());
    auto again = RunCli(args);
    ASSERT_EQ(again.code, 0) << again.err;
    EXPECT_EQ(again.out, r.out);
  }
}

TEST_F(CliStatsTest, WindowAndBandsDescribeThatWindowOfThoseBands) {
  auto r = RunCli({"stats", "-i", dir_.File("in.tif"), "--bands", "2", "--window", "10,20,30,40"});
  ASSERT_EQ(r.code, 0) << r.err;
  Profile p = a_.profile();
  p.bands = 1;
  p.width = 30;
  p.height = 40;
  Array crop(p);
  for (int y = 0; y < 40; ++y) {
    for (int x = 0; x < 30; ++x) {
      crop.MutableSamples<float>()[y * 30 + x] = a_.Samples<float>()[257 * 190 + (y + 20) * 257 + x + 10];
    }
  }
  const Expected e = Direct(crop, 0);
  size_t at = 0;
  EXPECT_THAT(r.out, HasSubstr("\"window\": [10, 20, 30, 40]"));
  EXPECT_EQ(Field(r.out, "band", &at), 2);
  EXPECT_EQ(Field(r.out, "count", &at), e.count);
  EXPECT_EQ(Field(r.out, "min", &at), e.min);
  EXPECT_EQ(Field(r.out, "max", &at), e.max);
  // The same window as a box: x from 1020 to 1080, y from 5000 - 2*60 to 5000 - 2*20.
  auto box = RunCli({"stats", "-i", dir_.File("in.tif"), "--bands", "2", "--bbox", "1020.5,4880.2,1079.9,4959.1"});
  ASSERT_EQ(box.code, 0) << box.err;
  EXPECT_EQ(box.out, r.out);
}

TEST_F(CliStatsTest, UsageErrors) {
  const std::string in = dir_.File("in.tif");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"stats"}, "no input"},
      {{"stats", in, "--histogram-bins", "0"}, "--histogram-bins must be between 1 and 1000000, got 0"},
      {{"stats", in, "--bands", "3"}, "band 3"},
      {{"stats", in, "--bands", "x"}, "--bands takes an integer, got 'x'"},
      {{"stats", in, "--window", "250,0,10,10"}, "--window 250,0,10,10 is not inside"},
      {{"stats", in, "--bbox", "0,0,10,10"}, "does not intersect"},
      {{"stats", in, "--co", "A=B"}, "unknown option --co"},
      {{"stats", in, in}, "one input only"},
  };
  for (const auto& [args, message] : cases) {
    auto r = RunCli(args);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr(message));
    EXPECT_EQ(r.out, "");
  }
}

}  // namespace
}  // namespace eoscale::cli_test
