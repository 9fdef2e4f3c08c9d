// The per-pixel filters (NormalizedDifference, Threshold, LogicalAnd/Or/Not)
// against plain whole-image references, for every tiling.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "eoscale/filters/logical.h"
#include "eoscale/filters/normalized_difference.h"
#include "eoscale/filters/threshold.h"
#include "filters_test_util.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::AllConfigs;
using ::eoscale::testing::RandomArray;
using ::eoscale::testing::RunConfig;
using ::eoscale::testing::RunMap1;
using ::eoscale::testing::SameArray;
using ::eoscale::testing::SomeConfigs;

constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();

Profile MakeProfile(int bands, PixelType type, std::optional<double> nodata = std::nullopt) {
  Profile p;
  p.width = 43;
  p.height = 27;
  p.bands = bands;
  p.type = type;
  p.nodata = nodata;
  return p;
}

TEST(NormalizedDifferenceTest, NdwiOfOneFourBandImageAndOfTwoImages) {
  Array s2 = RandomArray(MakeProfile(4, PixelType::kI16, -10000.0), 1);
  auto px = s2.MutableSamples<int16_t>();
  const size_t plane = 43 * 27;
  px[1 * plane + 5] = -10000;  // nodata in G
  px[3 * plane + 9] = -10000;  // nodata in NIR
  px[1 * plane + 11] = 7;      // G + NIR == 0: (7 - -7) / 0 = +inf
  px[3 * plane + 11] = -7;
  px[1 * plane + 12] = 0;      // 0 / 0 = NaN
  px[3 * plane + 12] = 0;
  Profile want_p = s2.profile();
  want_p.bands = 1;
  want_p.type = PixelType::kF32;
  want_p.nodata = std::numeric_limits<double>::quiet_NaN();
  Array want(want_p);
  auto w = want.MutableSamples<float>();
  for (size_t i = 0; i < plane; ++i) {
    const int16_t g = px[1 * plane + i], n = px[3 * plane + i];
    if (g == -10000 || n == -10000) {
      w[i] = kNaNf;
    } else {
      const float gf = g, nf = n;
      w[i] = (gf - nf) / (gf + nf);
    }
  }
  EXPECT_TRUE(std::isinf(w[11]));
  EXPECT_TRUE(std::isnan(w[12]));
  // The same bands as two 1-band images.
  Array green(MakeProfile(1, PixelType::kI16, -10000.0)), nir(MakeProfile(1, PixelType::kI16, -10000.0));
  for (size_t i = 0; i < plane; ++i) {
    green.MutableSamples<int16_t>()[i] = px[1 * plane + i];
    nir.MutableSamples<int16_t>()[i] = px[3 * plane + i];
  }
  for (const RunConfig& c : AllConfigs()) {
    SCOPED_TRACE(c.Name());
    auto got = RunMap1(c, {&s2}, filters::NormalizedDifference(2, 4));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameArray(*got, want));
    EXPECT_TRUE(got->profile().nodata.has_value() && std::isnan(*got->profile().nodata));
    got = RunMap1(c, {&green, &nir}, filters::NormalizedDifference(1, 2));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameArray(*got, want));
  }
}

TEST(NormalizedDifferenceTest, EpsilonAndBadBands) {
  const Array f = RandomArray(MakeProfile(2, PixelType::kF32), 2);
  auto s = f.Samples<float>();
  const size_t plane = 43 * 27;
  Profile p = f.profile();
  p.bands = 1;
  Array want(p);
  for (size_t i = 0; i < plane; ++i) {
    want.MutableSamples<float>()[i] = (s[plane + i] - s[i]) / (s[plane + i] + s[i] + 0.001f);
  }
  auto got = RunMap1({2, TileMode::kTiles, 7, false}, {&f}, filters::NormalizedDifference(2, 1, 0.001f));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(SameArray(*got, want));
  EXPECT_FALSE(got->profile().nodata.has_value());
  EXPECT_FALSE(RunMap1({1, TileMode::kTiles, 0, false}, {&f}, filters::NormalizedDifference(1, 3)).ok());
  EXPECT_FALSE(RunMap1({1, TileMode::kTiles, 0, false}, {&f}, filters::NormalizedDifference(0, 1)).ok());
}

TEST(ThresholdTest, EveryComparisonForEveryTiling) {
  Array f = RandomArray(MakeProfile(2, PixelType::kF32), 3);
  auto s = f.MutableSamples<float>();
  s[3] = kNaNf;
  s[4] = 12.5f;  // equal to the threshold
  const filters::CompareOp ops[] = {filters::CompareOp::kGreater, filters::CompareOp::kGreaterEqual,
                                    filters::CompareOp::kLess,    filters::CompareOp::kLessEqual,
                                    filters::CompareOp::kEqual,   filters::CompareOp::kNotEqual};
  for (filters::CompareOp op : ops) {
    Profile p = f.profile();
    p.type = PixelType::kU8;
    Array want(p);
    auto w = want.MutableSamples<uint8_t>();
    for (size_t i = 0; i < s.size(); ++i) {
      const double v = s[i];
      bool r = false;
      switch (op) {
        case filters::CompareOp::kGreater: r = v > 12.5; break;
        case filters::CompareOp::kGreaterEqual: r = v >= 12.5; break;
        case filters::CompareOp::kLess: r = v < 12.5; break;
        case filters::CompareOp::kLessEqual: r = v <= 12.5; break;
        case filters::CompareOp::kEqual: r = v == 12.5; break;
        case filters::CompareOp::kNotEqual: r = v != 12.5; break;
      }
      w[i] = r ? 1 : 0;
    }
    for (const RunConfig& c : SomeConfigs()) {
      auto got = RunMap1(c, {&f}, filters::Threshold(12.5, op));
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_TRUE(SameArray(*got, want)) << c.Name() << " op " << static_cast<int>(op);
    }
  }
}

TEST(LogicalTest, AndOrNotOfMasksForEveryTiling) {
  Array a(MakeProfile(2, PixelType::kU8)), b(MakeProfile(2, PixelType::kU8));
  Array c = RandomArray(MakeProfile(2, PixelType::kF32), 4);  // non-zero is true
  auto as = a.MutableSamples<uint8_t>();
  auto bs = b.MutableSamples<uint8_t>();
  auto cs = c.MutableSamples<float>();
  for (size_t i = 0; i < as.size(); ++i) {
    as[i] = i % 3 == 0 ? 0 : static_cast<uint8_t>(i % 7 + 1);  // any non-zero value is true
    bs[i] = i % 5 == 0 ? 0 : 1;
    if (i % 4 == 0) cs[i] = 0.0f;
    if (i % 11 == 0) cs[i] = kNaNf;  // true
  }
  Profile p = a.profile();
  Array want_and(p), want_or(p), want_not(p);
  for (size_t i = 0; i < as.size(); ++i) {
    const bool x = as[i] != 0, y = bs[i] != 0, z = cs[i] != 0.0f;
    want_and.MutableSamples<uint8_t>()[i] = x && y && z;
    want_or.MutableSamples<uint8_t>()[i] = x || y || z;
    want_not.MutableSamples<uint8_t>()[i] = !x;
  }
  for (const RunConfig& cfg : AllConfigs()) {
    SCOPED_TRACE(cfg.Name());
    auto got = RunMap1(cfg, {&a, &b, &c}, filters::LogicalAnd());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameArray(*got, want_and));
    got = RunMap1(cfg, {&a, &b, &c}, filters::LogicalOr());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameArray(*got, want_or));
    got = RunMap1(cfg, {&a}, filters::LogicalNot());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameArray(*got, want_not));
  }
  const Array one_band(MakeProfile(1, PixelType::kU8));
  EXPECT_FALSE(RunMap1({1, TileMode::kTiles, 0, false}, {&a, &one_band}, filters::LogicalAnd()).ok());
  EXPECT_FALSE(RunMap1({1, TileMode::kTiles, 0, false}, {&a, &b}, filters::LogicalNot()).ok());
}

}  // namespace
}  // namespace eoscale
