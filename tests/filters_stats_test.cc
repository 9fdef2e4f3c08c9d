// The reductions (MinMax, Statistics, Histogram) and ExactSum against plain
// whole-image references, for tiles and strips of several sizes and worker
// counts. Statistics must be bitwise the same for every configuration.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "eoscale/filters/exact_sum.h"
#include "eoscale/filters/histogram.h"
#include "eoscale/filters/min_max.h"
#include "eoscale/filters/statistics.h"
#include "eoscale/io/gdal_raster.h"
#include "filters_test_util.h"
#include "gdal.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::AllConfigs;
using ::eoscale::testing::RandomArray;
using ::eoscale::testing::RunConfig;
using ::eoscale::testing::RunReduce;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Profile MakeProfile(int w, int h, int bands, PixelType type, std::optional<double> nodata = std::nullopt) {
  Profile p;
  p.width = w;
  p.height = h;
  p.bands = bands;
  p.type = type;
  p.nodata = nodata;
  return p;
}

bool SameDouble(double a, double b) { return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b); }

// ---------------------------------------------------------------------------
// ExactSum

TEST(ExactSumTest, IsExactWhateverTheOrder) {
  filters::ExactSum a;
  for (double v : {1e100, 1.0, -1e100, 1e-300, 3.0, -1e-300}) a.Add(v);
  EXPECT_EQ(a.Value(), 4.0);

  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> v;
  for (int i = 0; i < 20000; ++i) v.push_back(std::ldexp(u(rng), static_cast<int>(u(rng) * 200)));
  filters::ExactSum forward, backward, halves_a, halves_b;
  for (double x : v) forward.Add(x);
  for (auto it = v.rbegin(); it != v.rend(); ++it) backward.Add(*it);
  for (size_t i = 0; i < v.size() / 3; ++i) halves_a.Add(v[i]);
  for (size_t i = v.size() / 3; i < v.size(); ++i) halves_b.Add(v[i]);
  halves_b.Add(halves_a);
  double h1, l1, h2, l2, h3, l3;
  forward.Value(&h1, &l1);
  backward.Value(&h2, &l2);
  halves_b.Value(&h3, &l3);
  EXPECT_TRUE(SameDouble(h1, h2) && SameDouble(l1, l2));
  EXPECT_TRUE(SameDouble(h1, h3) && SameDouble(l1, l3));
  // Compare with a long-double sum of the sorted magnitudes: close.
  std::sort(v.begin(), v.end(), [](double a, double b) { return std::fabs(a) < std::fabs(b); });
  long double ld = 0;
  for (double x : v) ld += x;
  EXPECT_NEAR(h1, static_cast<double>(ld), 1e-12 * std::fabs(h1));
}

TEST(ExactSumTest, SubnormalsNegativesAndSpecials) {
  filters::ExactSum s;
  const double tiny = std::numeric_limits<double>::denorm_min();
  for (int i = 0; i < 1000; ++i) s.Add(tiny);
  EXPECT_EQ(s.Value(), 1000 * tiny);
  s.Add(-2.5);
  EXPECT_EQ(s.Value(), -2.5);  // 1000 * tiny is far below half an ulp of 2.5
  filters::ExactSum big;
  big.Add(std::numeric_limits<double>::max());
  big.Add(std::numeric_limits<double>::max());
  big.Add(-std::numeric_limits<double>::max());
  EXPECT_EQ(big.Value(), std::numeric_limits<double>::max());  // no overflow in between
  filters::ExactSum inf;
  inf.Add(1.0);
  inf.Add(std::numeric_limits<double>::infinity());
  EXPECT_EQ(inf.Value(), std::numeric_limits<double>::infinity());
  inf.Add(-std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(inf.Value()));
  filters::ExactSum zero;
  EXPECT_EQ(zero.Value(), 0.0);
}

// ---------------------------------------------------------------------------
// MinMax

TEST(MinMaxTest, OverSeveralImagesOfAnyTypeForEveryTiling) {
  const Array f = RandomArray(MakeProfile(37, 21, 2, PixelType::kF32), 1);
  Array s = RandomArray(MakeProfile(37, 21, 1, PixelType::kI16), 2);
  Array d = RandomArray(MakeProfile(37, 21, 1, PixelType::kF64), 3);
  d.MutableSamples<double>()[17] = kNaN;  // skipped
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  auto fold = [&](double v) {
    if (std::isnan(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  };
  for (float v : f.Samples<float>()) fold(v);
  for (int16_t v : s.Samples<int16_t>()) fold(v);
  for (double v : d.Samples<double>()) fold(v);
  for (const RunConfig& c : AllConfigs()) {
    SCOPED_TRACE(c.Name());
    auto got = RunReduce(c, {&f, &s, &d}, filters::MinMax());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->min, lo);
    EXPECT_EQ(got->max, hi);
  }
}

// ---------------------------------------------------------------------------
// Statistics

// Two-pass reference in long double.
struct RefStats {
  int64_t count = 0;
  double min = kNaN, max = kNaN;
  long double mean = 0, stddev = 0;
};

template <typename T>
RefStats Reference(const Array& a, int band) {
  const Profile& p = a.profile();
  auto s = a.Samples<T>();
  const int64_t plane = static_cast<int64_t>(p.width) * p.height;
  std::vector<double> v;
  for (int64_t i = 0; i < plane; ++i) {
    const T x = s[band * plane + i];
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(x)) continue;
    }
    if (p.nodata && static_cast<T>(*p.nodata) == x) continue;
    v.push_back(static_cast<double>(x));
  }
  RefStats r;
  r.count = static_cast<int64_t>(v.size());
  if (v.empty()) return r;
  r.min = *std::min_element(v.begin(), v.end());
  r.max = *std::max_element(v.begin(), v.end());
  long double sum = 0;
  for (double x : v) sum += x;
  r.mean = sum / v.size();
  long double m2 = 0;
  for (double x : v) m2 += (x - r.mean) * (x - r.mean);
  r.stddev = std::sqrt(m2 / v.size());
  return r;
}

void ExpectStats(const filters::BandStatistics& got, const RefStats& want, double rel) {
  EXPECT_EQ(got.count, want.count);
  EXPECT_EQ(got.min, want.min);
  EXPECT_EQ(got.max, want.max);
  EXPECT_NEAR(got.mean, static_cast<double>(want.mean), rel * std::fabs(static_cast<double>(want.mean)) + 1e-300);
  EXPECT_NEAR(got.stddev, static_cast<double>(want.stddev), rel * static_cast<double>(want.stddev) + 1e-300);
}

TEST(StatisticsTest, SkipsNodataAndIsBitwiseTheSameForEveryTiling) {
  Array f = RandomArray(MakeProfile(53, 31, 2, PixelType::kF32, -32768.0), 7);
  auto fs = f.MutableSamples<float>();
  for (size_t i = 0; i < fs.size(); i += 9) fs[i] = -32768.0f;
  for (size_t i = 4; i < fs.size(); i += 13) fs[i] = std::numeric_limits<float>::quiet_NaN();
  Array s = RandomArray(MakeProfile(53, 31, 1, PixelType::kI32, -9999.0), 8);
  auto ss = s.MutableSamples<int32_t>();
  for (size_t i = 0; i < ss.size(); i += 5) ss[i] = -9999;
  // Large mean, small spread: a naive sum of squares would lose everything.
  Array d(MakeProfile(53, 31, 1, PixelType::kF64));
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (double& v : d.MutableSamples<double>()) v = 1e9 + u(rng);

  const RefStats want[] = {Reference<float>(f, 0), Reference<float>(f, 1), Reference<int32_t>(s, 0),
                           Reference<double>(d, 0)};
  std::vector<filters::BandStatistics> first;
  for (const RunConfig& c : AllConfigs()) {
    SCOPED_TRACE(c.Name());
    auto got = RunReduce(c, {&f, &s, &d}, filters::Statistics());
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), 4u);
    for (int b = 0; b < 4; ++b) ExpectStats((*got)[b], want[b], 1e-12);
    if (first.empty()) {
      first = *got;
      continue;
    }
    for (int b = 0; b < 4; ++b) {
      EXPECT_TRUE(SameDouble((*got)[b].mean, first[b].mean)) << b;
      EXPECT_TRUE(SameDouble((*got)[b].stddev, first[b].stddev)) << b;
    }
  }
}

TEST(StatisticsTest, EmptyBandGivesNaN) {
  Array f(MakeProfile(9, 7, 1, PixelType::kF32, 0.0));  // all zeros = all nodata
  auto got = RunReduce({2, TileMode::kTiles, 7, false}, {&f}, filters::Statistics());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)[0].count, 0);
  EXPECT_TRUE(std::isnan((*got)[0].mean));
  EXPECT_TRUE(std::isnan((*got)[0].stddev));
  EXPECT_TRUE(std::isnan((*got)[0].min));
}

TEST(StatisticsTest, DsmMatchesGdalStatistics) {
  // GDAL's own exact statistics of the file (gdalinfo -stats), nodata excluded.
  const std::string path = testing::DsmPath();
  double gmin = 0, gmax = 0, gmean = 0, gstddev = 0;
  {
    io::EnsureGdalInitialized();
    GDALDatasetH h = GDALOpen(path.c_str(), GA_ReadOnly);
    ASSERT_NE(h, nullptr);
    ASSERT_EQ(GDALComputeRasterStatistics(GDALGetRasterBand(h, 1), FALSE, &gmin, &gmax, &gmean, &gstddev, nullptr,
                                          nullptr),
              CE_None);
    GDALClose(h);
  }
  int64_t valid = 0;
  const Array pixels = testing::ReadTiff(path);  // kept: a range-for over a temporary's span dangles
  for (float v : pixels.Samples<float>()) valid += v != testing::kDsmNodata;
  ASSERT_GT(valid, 0);
  ASSERT_LT(valid, int64_t{testing::kDsmSide} * testing::kDsmSide) << "the DSM has holes";

  ContextOptions o;
  o.workers = 2;
  auto ctx = Context::Create(o);
  ASSERT_TRUE(ctx.ok());
  auto dsm = (*ctx)->Open(path);
  ASSERT_TRUE(dsm.ok()) << dsm.status();
  auto r = (*ctx)->Reduce<std::vector<filters::BandStatistics>>({*dsm}, filters::Statistics());
  ASSERT_TRUE(r.ok());
  auto got = r->Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)[0].min, gmin);
  EXPECT_EQ((*got)[0].max, gmax);
  EXPECT_NEAR((*got)[0].mean, gmean, 1e-9 * std::fabs(gmean));
  EXPECT_NEAR((*got)[0].stddev, gstddev, 1e-8 * gstddev);
  EXPECT_EQ((*got)[0].count, valid);
}

// ---------------------------------------------------------------------------
// Histogram

TEST(HistogramTest, NumpyBinsForEveryTiling) {
  Array f = RandomArray(MakeProfile(41, 27, 2, PixelType::kF32, -999.0), 11);  // [-1000, 1000)
  auto fs = f.MutableSamples<float>();
  const std::vector<double> edges = {-500.0, -100.0, 0.0, 0.0, 250.0, 600.0};
  fs[0] = -500.0f;  // first edge: first bin
  fs[1] = 600.0f;   // last edge: last bin (closed)
  fs[2] = 0.0f;     // equal edges: the bin after them
  fs[3] = -999.0f;  // nodata
  fs[4] = std::numeric_limits<float>::quiet_NaN();
  const int bins = static_cast<int>(edges.size()) - 1;
  std::vector<std::vector<int64_t>> want(2, std::vector<int64_t>(bins, 0));
  const size_t plane = 41 * 27;
  for (size_t i = 0; i < fs.size(); ++i) {
    const double v = fs[i];
    if (std::isnan(v) || v == -999.0 || v < edges.front() || v > edges.back()) continue;
    int bin = bins - 1;
    for (int k = 0; k < bins; ++k) {
      if (v >= edges[k] && v < edges[k + 1]) bin = k;  // the last match wins (equal edges)
    }
    ++want[i / plane][bin];
  }
  EXPECT_EQ(want[0][2], 0);  // [0, 0) is empty
  for (const RunConfig& c : AllConfigs()) {
    SCOPED_TRACE(c.Name());
    auto got = RunReduce(c, {&f}, filters::Histogram(edges));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, want);
  }
}

TEST(HistogramTest, UniformEdgesAreLinspace) {
  EXPECT_EQ(filters::UniformEdges(0.0, 1.0, 4), (std::vector<double>{0.0, 0.25, 0.5, 0.75, 1.0}));
  EXPECT_EQ(filters::UniformEdges(-1.0, 2.0, 3), (std::vector<double>{-1.0, 0.0, 1.0, 2.0}));
}

TEST(HistogramTest, BadEdgesAreAnError) {
  const Array f = RandomArray(MakeProfile(8, 8, 1, PixelType::kF32), 12);
  for (const std::vector<double>& edges :
       {std::vector<double>{}, std::vector<double>{1.0}, std::vector<double>{0.0, 2.0, 1.0},
        std::vector<double>{0.0, std::numeric_limits<double>::infinity()}}) {
    auto got = RunReduce({1, TileMode::kTiles, 0, false}, {&f}, filters::Histogram(edges));
    EXPECT_FALSE(got.ok());
  }
}

}  // namespace
}  // namespace eoscale
