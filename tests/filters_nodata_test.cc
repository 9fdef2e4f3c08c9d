// NodataMask and FillNodata against whole-image references: a plain loop for
// the mask, GDAL's own GDALFillNodata (on a MEM copy of the whole image) for
// the fill, for tiles and strips of several sizes and worker counts.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"

#include "eoscale/filters/fill_nodata.h"
#include "eoscale/filters/nodata_mask.h"
#include "filters_test_util.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::AllConfigs;
using ::eoscale::testing::GdalFillNodata;
using ::eoscale::testing::RandomArray;
using ::eoscale::testing::RunConfig;
using ::eoscale::testing::RunMap1;
using ::eoscale::testing::SameArray;
using ::eoscale::testing::SomeConfigs;

Profile MakeProfile(int w, int h, int bands, PixelType type, std::optional<double> nodata) {
  Profile p;
  p.width = w;
  p.height = h;
  p.bands = bands;
  p.type = type;
  p.nodata = nodata;
  return p;
}

// ---------------------------------------------------------------------------
// NodataMask

template <typename T>
Array RefNodataMask(const Array& in) {
  Profile p = in.profile();
  p.type = PixelType::kU8;
  p.nodata.reset();
  Array out(p);
  auto s = in.Samples<T>();
  auto d = out.MutableSamples<uint8_t>();
  for (size_t i = 0; i < s.size(); ++i) {
    bool nd = in.profile().nodata && static_cast<double>(s[i]) == *in.profile().nodata;
    if constexpr (std::is_floating_point_v<T>) nd = nd || std::isnan(s[i]);
    d[i] = nd ? 1 : 0;
  }
  return out;
}

TEST(NodataMaskTest, MarksNodataAndNanForEveryTiling) {
  Array f = RandomArray(MakeProfile(37, 23, 2, PixelType::kF32, -32768.0), 1);
  auto fs = f.MutableSamples<float>();
  for (size_t i = 0; i < fs.size(); i += 7) fs[i] = -32768.0f;
  for (size_t i = 3; i < fs.size(); i += 11) fs[i] = std::numeric_limits<float>::quiet_NaN();
  Array s = RandomArray(MakeProfile(37, 23, 1, PixelType::kI16, -9999.0), 2);
  auto ss = s.MutableSamples<int16_t>();
  for (size_t i = 0; i < ss.size(); i += 5) ss[i] = -9999;
  Array u = RandomArray(MakeProfile(37, 23, 1, PixelType::kU8, std::nullopt), 3);

  const Array ref_f = RefNodataMask<float>(f);
  const Array ref_s = RefNodataMask<int16_t>(s);
  const Array ref_u = RefNodataMask<uint8_t>(u);
  for (const RunConfig& c : AllConfigs()) {
    SCOPED_TRACE(c.Name());
    auto got = RunMap1(c, {&f}, filters::NodataMask());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameArray(*got, ref_f));
    EXPECT_FALSE(got->profile().nodata.has_value());
    got = RunMap1(c, {&s}, filters::NodataMask());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameArray(*got, ref_s));
    got = RunMap1(c, {&u}, filters::NodataMask());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameArray(*got, ref_u));  // no nodata: all zeros
  }
}

// ---------------------------------------------------------------------------
// FillNodata

// A smooth random field with holes of every size: single pixels, small
// blobs, and one hole wider than the search distances used below, some
// touching the image border.
template <typename T>
Array HoledField(int w, int h, int bands, T nodata, uint64_t seed, std::vector<uint8_t>* holes) {
  Profile p = MakeProfile(w, h, bands, kPixelTypeOf<T>, static_cast<double>(nodata));
  Array a(p);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  auto s = a.MutableSamples<T>();
  holes->assign(s.size(), 0);
  const int64_t plane = static_cast<int64_t>(w) * h;
  for (int b = 0; b < bands; ++b) {
    const double fx = 0.05 + 0.2 * u(rng), fy = 0.05 + 0.2 * u(rng);
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const double v = 100.0 + 40.0 * std::sin(fx * x) * std::cos(fy * y) + 5.0 * u(rng);
        s[b * plane + static_cast<int64_t>(y) * w + x] = static_cast<T>(v);
      }
    }
    auto hole = [&](int x0, int y0, int hw, int hh) {
      for (int y = std::max(0, y0); y < std::min(h, y0 + hh); ++y) {
        for (int x = std::max(0, x0); x < std::min(w, x0 + hw); ++x) {
          (*holes)[b * plane + static_cast<int64_t>(y) * w + x] = 1;
        }
      }
    };
    for (int i = 0; i < w * h / 20; ++i) hole(static_cast<int>(u(rng) * w), static_cast<int>(u(rng) * h), 1, 1);
    for (int i = 0; i < 12; ++i) {
      hole(static_cast<int>(u(rng) * w) - 3, static_cast<int>(u(rng) * h) - 3, 1 + static_cast<int>(u(rng) * 12),
           1 + static_cast<int>(u(rng) * 12));
    }
    hole(w / 3, h / 4, w / 2, h / 3);  // wider than most search distances
    hole(-2, h - 9, 15, 12);           // at the bottom-left corner
  }
  for (size_t i = 0; i < s.size(); ++i) {
    if ((*holes)[i]) s[i] = nodata;
  }
  return a;
}

Array MaskArray(const std::vector<uint8_t>& holes, int w, int h, int bands) {
  Array m(MakeProfile(w, h, bands, PixelType::kU8, std::nullopt));
  auto s = m.MutableSamples<uint8_t>();
  for (size_t i = 0; i < s.size(); ++i) s[i] = holes[i];
  return m;
}

class FillNodataVsGdal : public ::testing::TestWithParam<std::tuple<PixelType, double, int>> {};

TEST_P(FillNodataVsGdal, EqualsGdalFillNodataOverTheWholeImage) {
  const auto [type, distance_param, iterations] = GetParam();
  const double distance = distance_param;  // clang 14 cannot capture a structured binding
  const int w = 97, h = 83, bands = 2;
  std::vector<uint8_t> holes;
  Array image;
  DispatchPixelType(type, [&]<typename T>() {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, int16_t> || std::is_same_v<T, uint8_t>) {
      const T nodata = std::is_same_v<T, uint8_t> ? T{0} : static_cast<T>(-32768);
      image = HoledField<T>(w, h, bands, nodata, 42 + static_cast<int>(distance), &holes);
    }
  });
  ASSERT_GT(image.bytes(), 0u);
  const Array mask = MaskArray(holes, w, h, bands);
  const Array want = GdalFillNodata(image, mask, distance, iterations);
  const filters::FillNodataOptions o{distance, iterations};

  int64_t changed = 0;
  DispatchPixelType(type, [&]<typename T>() {
    auto a = image.Samples<T>();
    auto b = want.Samples<T>();
    for (size_t i = 0; i < a.size(); ++i) changed += a[i] != b[i];
  });
  EXPECT_GT(changed, 0) << "GDAL filled nothing: the test would prove nothing";

  for (const RunConfig& c : SomeConfigs()) {
    SCOPED_TRACE(c.Name());
    auto got = RunMap1(c, {&image}, filters::FillNodata(o));  // holes from the profile's nodata
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameArray(*got, want));
    EXPECT_EQ(got->profile(), image.profile());
    got = RunMap1(c, {&image, &mask}, filters::FillNodata(o));  // holes from a mask, as EOScale
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameArray(*got, want));
  }
}

INSTANTIATE_TEST_SUITE_P(Types, FillNodataVsGdal,
                         ::testing::Combine(::testing::Values(PixelType::kF32, PixelType::kI16, PixelType::kU8),
                                            ::testing::Values(3.0, 6.5, 30.0), ::testing::Values(0, 2)));

TEST(FillNodataTest, SameForEveryTilingAndWorkerCount) {
  std::vector<uint8_t> holes;
  const Array image = HoledField<float>(61, 45, 1, -32768.0f, 7, &holes);
  const Array want = GdalFillNodata(image, MaskArray(holes, 61, 45, 1), 5.0, 1);
  for (const RunConfig& c : AllConfigs()) {
    SCOPED_TRACE(c.Name());
    auto got = RunMap1(c, {&image}, filters::FillNodata({5.0, 1}));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameArray(*got, want));
  }
}

TEST(FillNodataTest, Float64IsTheSameForEveryTiling) {
  std::vector<uint8_t> holes;
  const Array image = HoledField<double>(70, 52, 1, -32768.0, 9, &holes);
  // One tile: the whole image at once.
  const RunConfig whole{1, TileMode::kTiles, 1024, false};
  auto want = RunMap1(whole, {&image}, filters::FillNodata({6.0, 2}));
  ASSERT_TRUE(want.ok()) << want.status();
  for (const RunConfig& c : SomeConfigs()) {
    SCOPED_TRACE(c.Name());
    auto got = RunMap1(c, {&image}, filters::FillNodata({6.0, 2}));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameArray(*got, *want));
  }
  // And close to GDAL's, which rounds through float32.
  const Array gdal = GdalFillNodata(image, MaskArray(holes, 70, 52, 1), 6.0, 2);
  auto a = want->Samples<double>();
  auto b = gdal.Samples<double>();
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-4 * std::fabs(b[i])) << i;
}

// Many equidistant candidates (integer values on a small grid, holes of
// every density) and holes in the first and last rows and columns: the
// cases where GDAL's order of checks decides which candidate a quadrant
// keeps, searched hole by hole and along the envelope. Against GDALFillNodata for several seeds, densities and distances.
TEST(FillNodataTest, EqualsGdalWhereCandidatesTie) {
  int64_t filled_total = 0;
  for (uint64_t seed = 1; seed <= 24; ++seed) {
    std::mt19937_64 rng(seed);
    // The last seeds: images of one to five pixels a side.
    const bool tiny = seed > 18;
    const int w = tiny ? 1 + static_cast<int>(rng() % 5) : 9 + static_cast<int>(rng() % 60);
    const int h = tiny ? 1 + static_cast<int>(rng() % 5) : 7 + static_cast<int>(rng() % 30);
    // Seeds 13 to 18: holes almost everywhere, so that long runs of holes in
    // a row (searched along the envelope) reach the first and last columns.
    const double density = seed > 12 && !tiny ? 0.95 + 0.04 * static_cast<double>(rng() % 100) / 100.0
                                     : 0.1 + 0.8 * static_cast<double>(rng() % 100) / 100.0;
    const double distance = 1.0 + static_cast<double>(rng() % 120) / 10.0;
    const int iterations = static_cast<int>(rng() % 3);
    Array image(MakeProfile(w, h, 1, PixelType::kI16, -1.0));
    std::vector<uint8_t> holes(static_cast<size_t>(w) * h);
    auto px = image.MutableSamples<int16_t>();
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (size_t i = 0; i < px.size(); ++i) {
      holes[i] = u(rng) < density;
      px[i] = holes[i] ? int16_t{-1} : static_cast<int16_t>(rng() % 7);
    }
    SCOPED_TRACE(absl::StrCat("seed ", seed, ": ", w, "x", h, ", density ", density, ", distance ", distance,
                              ", iterations ", iterations));
    const Array want = GdalFillNodata(image, MaskArray(holes, w, h, 1), distance, iterations);
    auto ws = want.Samples<int16_t>();
    for (size_t i = 0; i < px.size(); ++i) filled_total += px[i] != ws[i];
    for (const RunConfig& c : SomeConfigs()) {
      SCOPED_TRACE(c.Name());
      auto got = RunMap1(c, {&image}, filters::FillNodata({distance, iterations}));
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_TRUE(SameArray(*got, want));
    }
  }
  EXPECT_GT(filled_total, 0);
}

TEST(FillNodataTest, PixelsOutOfReachKeepTheirValue) {
  Array image(MakeProfile(40, 3, 1, PixelType::kF32, -1.0));
  auto s = image.MutableSamples<float>();
  for (auto& v : s) v = -1.0f;
  s[0] = 10.0f;  // the only valid pixel
  auto got = RunMap1({2, TileMode::kTiles, 7, false}, {&image}, filters::FillNodata({4.0, 0}));
  ASSERT_TRUE(got.ok()) << got.status();
  auto g = got->Samples<float>();
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 40; ++x) {
      const float v = g[y * 40 + x];
      if (x * x + y * y <= 16) {
        EXPECT_EQ(v, 10.0f) << x << "," << y;
      } else {
        EXPECT_EQ(v, -1.0f) << x << "," << y;
      }
    }
  }
}

TEST(FillNodataTest, RejectsBadOptionsBeforeRunning) {
  auto ctx = Context::Create({});
  ASSERT_TRUE(ctx.ok());
  auto img = (*ctx)->CreateConstant(MakeProfile(8, 8, 1, PixelType::kF32, 0.0));
  ASSERT_TRUE(img.ok());
  EXPECT_FALSE((*ctx)->Map({*img}, filters::FillNodata({0.0, 0})).ok());
  EXPECT_FALSE((*ctx)->Map({*img}, filters::FillNodata({-3.0, 0})).ok());
  EXPECT_FALSE((*ctx)->Map({*img}, filters::FillNodata({10.0, -1})).ok());
  // Margins are ints: absurd distances or iterations are refused, saying why.
  auto huge = (*ctx)->Map({*img}, filters::FillNodata({1e300, 0}));
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("must be > 0 and < "), std::string::npos) << huge.status();
  EXPECT_FALSE((*ctx)->Map({*img}, filters::FillNodata({10.0, std::numeric_limits<int>::max()})).ok());
  auto mask3 = (*ctx)->CreateConstant(MakeProfile(8, 8, 3, PixelType::kU8, std::nullopt));
  ASSERT_TRUE(mask3.ok());
  EXPECT_FALSE((*ctx)->Map({*img, *mask3}, filters::FillNodata()).ok());
  EXPECT_FALSE((*ctx)->Map({*img, *img, *img}, filters::FillNodata()).ok());
}

}  // namespace
}  // namespace eoscale
