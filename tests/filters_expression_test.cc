// Expression (band math) against plain per-pixel references written with the
// C++ standard library: every operator and function, muparser's precedence,
// the conversion to each output type, tiles/strips/worker counts, syntax
// errors with their positions, and references to inputs or bands that do
// not exist.
#include "eoscale/filters/expression.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "eoscale/core/array.h"
#include "eoscale/filters/cast.h"
#include "eoscale/graph/context.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::filters::Expression;
using ::eoscale::filters::ExpressionBands;
using ::eoscale::filters::ExpressionOptions;
using ::eoscale::testing::RandomArray;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;
using ::eoscale::testing::WriteTiff;
using ::testing::HasSubstr;

Profile MakeProfile(int width, int height, int bands, PixelType type) {
  Profile p;
  p.width = width;
  p.height = height;
  p.bands = bands;
  p.type = type;
  p.geotransform = {1000.0, 10.0, 0.0, 2000.0, 0.0, -10.0};
  return p;
}

// Runs `expr` over in-memory `inputs` through a Context and returns the
// output image.
absl::StatusOr<Array> RunExpression(const std::string& expr, const std::vector<const Array*>& inputs,
                          PixelType out, ContextOptions co = {}, ExpressionOptions eo = {}) {
  absl::StatusOr<MapFilter> f = Expression(expr, out, eo);
  if (!f.ok()) return f.status();
  absl::StatusOr<std::unique_ptr<Context>> ctx = Context::Create(co);
  if (!ctx.ok()) return ctx.status();
  std::vector<Image> images;
  for (const Array* a : inputs) {
    absl::StatusOr<Image> img = (*ctx)->Wrap(a->profile(), a->data());
    if (!img.ok()) return img.status();
    images.push_back(*img);
  }
  absl::StatusOr<std::vector<Image>> outs = (*ctx)->Map(images, *f);
  if (!outs.ok()) return outs.status();
  return (*ctx)->ReadAll((*outs)[0]);
}

ContextOptions Workers(int workers) {
  ContextOptions co;
  co.workers = workers;
  return co;
}

ExpressionOptions InputBands(std::vector<std::vector<int>> bands) {
  ExpressionOptions eo;
  eo.input_bands = std::move(bands);
  return eo;
}

TilingOptions Tiling(TileMode mode, int tile_size, bool one_tile_per_worker = false) {
  TilingOptions t;
  t.mode = mode;
  t.tile_size = tile_size;
  t.one_tile_per_worker = one_tile_per_worker;
  return t;
}

bool SameDouble(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

// The pixel values a reference sees: im1 (3 bands, f32), im2 (2 bands, i16).
struct Px {
  double a1, a2, a3;  // im1b1..im1b3
  double b1, b2;      // im2b1, im2b2
  int x, y;
};

// Whole-image reference: out(x, y) = ref(pixel).
Array Reference(const Array& im1, const Array& im2, const std::function<double(const Px&)>& ref) {
  const Profile& p = im1.profile();
  Array out(MakeProfile(p.width, p.height, 1, PixelType::kF64));
  auto s1 = im1.Samples<float>();
  auto s2 = im2.Samples<int16_t>();
  auto d = out.MutableSamples<double>();
  const size_t plane = static_cast<size_t>(p.width) * p.height;
  for (int y = 0; y < p.height; ++y) {
    for (int x = 0; x < p.width; ++x) {
      const size_t i = static_cast<size_t>(y) * p.width + x;
      d[i] = ref({s1[i], s1[plane + i], s1[2 * plane + i], static_cast<double>(s2[i]),
                  static_cast<double>(s2[plane + i]), x, y});
    }
  }
  return out;
}

// Number of pixels that differ (NaNs equal each other).
int64_t Differences(const Array& a, const Array& b) {
  auto sa = a.Samples<double>();
  auto sb = b.Samples<double>();
  int64_t n = 0;
  for (size_t i = 0; i < sa.size(); ++i) n += !SameDouble(sa[i], sb[i]);
  return n;
}

class ExpressionTest : public ::testing::Test {
 protected:
  // Odd sizes: partial tiles at the right and bottom, rows over one chunk.
  ExpressionTest()
      : im1_(RandomArray(MakeProfile(301, 97, 3, PixelType::kF32), 1)),
        im2_(RandomArray(MakeProfile(301, 97, 2, PixelType::kI16), 2)) {}
  Array im1_;
  Array im2_;
};

struct OpCase {
  std::string expr;
  std::function<double(const Px&)> ref;
};

TEST_F(ExpressionTest, EveryOperatorAndFunctionMatchesPlainReference) {
  const double k = 1e-6;
  const std::vector<OpCase> cases = {
      {"im1b1", [](const Px& p) { return p.a1; }},
      {"im2b2", [](const Px& p) { return p.b2; }},
      {"im1b1 + im2b1", [](const Px& p) { return p.a1 + p.b1; }},
      {"im1b1 - im2b1", [](const Px& p) { return p.a1 - p.b1; }},
      {"im1b1 * im2b1", [](const Px& p) { return p.a1 * p.b1; }},
      {"im1b1 / im2b1", [](const Px& p) { return p.a1 / p.b1; }},
      {"im1b1 / (im1b2 * 0)", [](const Px& p) { return p.a1 / (p.a2 * 0); }},  // inf, nan
      {"im1b1 ^ 2", [](const Px& p) { return p.a1 * p.a1; }},
      {"abs(im1b1) ^ 0.3", [](const Px& p) { return std::pow(std::fabs(p.a1), 0.3); }},
      {"im1b1 ^ im1b2", [](const Px& p) { return std::pow(p.a1, p.a2); }},
      {"pow(im1b2, 3)", [](const Px& p) { return std::pow(p.a2, 3.0); }},
      {"-im1b1", [](const Px& p) { return -p.a1; }},
      {"+im1b1", [](const Px& p) { return p.a1; }},
      {"im1b1 < im1b2", [](const Px& p) { return p.a1 < p.a2 ? 1.0 : 0.0; }},
      {"im1b1 > im1b2", [](const Px& p) { return p.a1 > p.a2 ? 1.0 : 0.0; }},
      {"im1b1 <= rint(im1b2)", [](const Px& p) { return p.a1 <= std::floor(p.a2 + 0.5) ? 1.0 : 0.0; }},
      {"im2b1 >= im2b2", [](const Px& p) { return p.b1 >= p.b2 ? 1.0 : 0.0; }},
      {"rint(im1b1 / 100) == rint(im1b2 / 100)",
       [](const Px& p) { return std::floor(p.a1 / 100 + 0.5) == std::floor(p.a2 / 100 + 0.5) ? 1.0 : 0.0; }},
      {"rint(im1b1 / 100) != rint(im1b2 / 100)",
       [](const Px& p) { return std::floor(p.a1 / 100 + 0.5) != std::floor(p.a2 / 100 + 0.5) ? 1.0 : 0.0; }},
      {"im1b1 > 0 && im1b2 > 0", [](const Px& p) { return p.a1 > 0 && p.a2 > 0 ? 1.0 : 0.0; }},
      {"im1b1 > 0 || im1b2 > 0", [](const Px& p) { return p.a1 > 0 || p.a2 > 0 ? 1.0 : 0.0; }},
      {"im1b1 > 0 and im1b2 > 0", [](const Px& p) { return p.a1 > 0 && p.a2 > 0 ? 1.0 : 0.0; }},
      {"im1b1 > 0 or im1b2 > 0", [](const Px& p) { return p.a1 > 0 || p.a2 > 0 ? 1.0 : 0.0; }},
      {"rint(im1b1 / 500) && rint(im1b2 / 500)",
       [](const Px& p) { return std::floor(p.a1 / 500 + 0.5) != 0 && std::floor(p.a2 / 500 + 0.5) != 0 ? 1.0 : 0.0; }},
      {"im1b1 > im1b2 ? im2b1 : im2b2", [](const Px& p) { return p.a1 > p.a2 ? p.b1 : p.b2; }},
      {"im1b1 > 0 ? im1b2 > 0 ? 1 : 2 : 3",
       [](const Px& p) { return p.a1 > 0 ? (p.a2 > 0 ? 1.0 : 2.0) : 3.0; }},
      {"abs(im1b1)", [](const Px& p) { return std::fabs(p.a1); }},
      {"sqrt(im1b1)", [](const Px& p) { return std::sqrt(p.a1); }},  // NaN below 0
      {"exp(im1b1 / 100)", [](const Px& p) { return std::exp(p.a1 / 100); }},
      {"log(im1b1)", [](const Px& p) { return std::log(p.a1); }},
      {"ln(im1b1)", [](const Px& p) { return std::log(p.a1); }},
      {"log2(im1b1)", [](const Px& p) { return std::log2(p.a1); }},
      {"log10(im1b1)", [](const Px& p) { return std::log10(p.a1); }},
      {"sin(im1b1)", [](const Px& p) { return std::sin(p.a1); }},
      {"cos(im1b1)", [](const Px& p) { return std::cos(p.a1); }},
      {"tan(im1b1)", [](const Px& p) { return std::tan(p.a1); }},
      {"asin(im1b1 / 1000)", [](const Px& p) { return std::asin(p.a1 / 1000); }},
      {"acos(im1b1 / 1000)", [](const Px& p) { return std::acos(p.a1 / 1000); }},
      {"atan(im1b1)", [](const Px& p) { return std::atan(p.a1); }},
      {"sinh(im1b1 / 100)", [](const Px& p) { return std::sinh(p.a1 / 100); }},
      {"cosh(im1b1 / 100)", [](const Px& p) { return std::cosh(p.a1 / 100); }},
      {"tanh(im1b1 / 100)", [](const Px& p) { return std::tanh(p.a1 / 100); }},
      {"asinh(im1b1)", [](const Px& p) { return std::asinh(p.a1); }},
      {"acosh(im1b1)", [](const Px& p) { return std::acosh(p.a1); }},
      {"atanh(im1b1 / 1000)", [](const Px& p) { return std::atanh(p.a1 / 1000); }},
      {"sign(rint(im1b1 / 500))",
       [](const Px& p) {
         const double v = std::floor(p.a1 / 500 + 0.5);
         return v < 0 ? -1.0 : (v > 0 ? 1.0 : 0.0);
       }},
      {"rint(im1b1 / 10)", [](const Px& p) { return std::floor(p.a1 / 10 + 0.5); }},
      {"atan2(im1b1, im1b2)", [](const Px& p) { return std::atan2(p.a1, p.a2); }},
      {"min(im1b1, im1b2, im1b3)", [](const Px& p) { return std::min(std::min(p.a1, p.a2), p.a3); }},
      {"max(im1b1, im1b2, im1b3)", [](const Px& p) { return std::max(std::max(p.a1, p.a2), p.a3); }},
      {"min(im1b1)", [](const Px& p) { return p.a1; }},
      {"sum(im1b1, im1b2, im2b1)", [](const Px& p) { return ((0.0 + p.a1) + p.a2) + p.b1; }},
      {"avg(im1b1, im1b2, im2b1)", [](const Px& p) { return (((0.0 + p.a1) + p.a2) + p.b1) / 3; }},
      {"ndvi(im1b1, im1b2)",
       [k](const Px& p) { return std::fabs(p.a1 + p.a2) < k ? 0.0 : (p.a2 - p.a1) / (p.a2 + p.a1); }},
      {"NDVI(im2b1, im2b2)",
       [k](const Px& p) { return std::fabs(p.b1 + p.b2) < k ? 0.0 : (p.b2 - p.b1) / (p.b2 + p.b1); }},
      {"idxX", [](const Px& p) { return static_cast<double>(p.x); }},
      {"idxY * 1000 + idxX", [](const Px& p) { return p.y * 1000.0 + p.x; }},
      {"im1b1 * pi + e - euler * log2e / log10e + ln2 - ln10 + _pi * _e",
       [](const Px& p) {
         using namespace std::numbers;
         return p.a1 * pi + e - egamma * log2e / log10e + ln2 - ln10 + pi * e;
       }},
      // Shared subexpressions and constants folded at compile time.
      {"(im1b1 + 1) * (im1b1 + 1) - (2 * 3 + 1)", [](const Px& p) { return (p.a1 + 1) * (p.a1 + 1) - 7.0; }},
      {"(im1b1 - im1b2) / (im1b1 + im1b2 + 0.001)",
       [](const Px& p) { return (p.a1 - p.a2) / (p.a1 + p.a2 + 0.001); }},
  };
  ContextOptions co;
  co.workers = 2;
  co.tiling.tile_size = 64;
  for (const OpCase& c : cases) {
    SCOPED_TRACE(c.expr);
    absl::StatusOr<Array> got = RunExpression(c.expr, {&im1_, &im2_}, PixelType::kF64, co);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(Differences(*got, Reference(im1_, im2_, c.ref)), 0);
  }
}

TEST_F(ExpressionTest, TilesStripsAndWorkerCountsGiveTheReference) {
  const std::string expr =
      "(im1b1 - im2b2) / (im1b1 + im2b2 + 0.001) > 0 && im1b2 < 500 ? "
      "sqrt(abs(im1b3)) * idxX - idxY : min(im1b1, im2b1, 3) ^ 2 + ndvi(im1b2, im1b3)";
  const Array ref = Reference(im1_, im2_, [](const Px& p) {
    if ((p.a1 - p.b2) / (p.a1 + p.b2 + 0.001) > 0 && p.a2 < 500) {
      return std::sqrt(std::fabs(p.a3)) * p.x - p.y;
    }
    const double m = std::min(std::min(p.a1, p.b1), 3.0);
    const double nd = std::fabs(p.a2 + p.a3) < 1e-6 ? 0.0 : (p.a3 - p.a2) / (p.a3 + p.a2);
    return m * m + nd;
  });
  std::vector<TilingOptions> tilings;
  tilings.push_back(Tiling(TileMode::kTiles, 16));
  tilings.push_back(Tiling(TileMode::kTiles, 100));
  tilings.push_back(Tiling(TileMode::kTiles, 0));
  tilings.push_back(Tiling(TileMode::kStrips, 7));
  tilings.push_back(Tiling(TileMode::kStrips, 0));
  tilings.push_back(Tiling(TileMode::kTiles, 0, true));
  tilings.push_back(Tiling(TileMode::kStrips, 0, true));
  for (int workers : {1, 2, 3}) {
    for (const TilingOptions& t : tilings) {
      SCOPED_TRACE(absl::StrCat("workers ", workers, " strips ", t.mode == TileMode::kStrips, " size ",
                                t.tile_size, " one per worker ", t.one_tile_per_worker));
      ContextOptions co;
      co.workers = workers;
      co.tiling = t;
      absl::StatusOr<Array> got = RunExpression(expr, {&im1_, &im2_}, PixelType::kF64, co);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(Differences(*got, ref), 0);
    }
  }
}

TEST_F(ExpressionTest, WaterMaskExpressionGivesTheUint8Mask) {
  // The seed's water mask over two "dates" (im1, im2 as G=b1, NIR=b2),
  // computed as the plain loop does: float NDWI > 0, ANDed.
  const Array d1 = RandomArray(MakeProfile(301, 97, 2, PixelType::kI16), 3);
  const Array d2 = RandomArray(MakeProfile(301, 97, 2, PixelType::kI16), 4);
  const std::string expr =
      "(im1b1-im1b2)/(im1b1+im1b2+0.001) > 0 && (im2b1-im2b2)/(im2b1+im2b2+0.001) > 0";
  Array ref(MakeProfile(301, 97, 1, PixelType::kU8));
  const size_t plane = 301 * 97;
  auto g1 = d1.Samples<int16_t>();
  auto g2 = d2.Samples<int16_t>();
  auto o = ref.MutableSamples<uint8_t>();
  for (size_t i = 0; i < plane; ++i) {
    auto water = [&](std::span<const int16_t> s) {
      const float g = s[i], n = s[plane + i];
      return (g - n) / (g + n + 0.001f) > 0.0f;
    };
    o[i] = water(g1) && water(g2) ? 1 : 0;
  }
  for (int workers : {1, 2}) {
    ContextOptions co;
    co.workers = workers;
    co.tiling.tile_size = 64;
    absl::StatusOr<Array> got = RunExpression(expr, {&d1, &d2}, PixelType::kU8, co);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(SameBytes(*got, ref));
  }
}

struct ScalarCase {
  std::string expr;
  double expected;
};

TEST(ExpressionScalarTest, PrecedenceAssociativityAndFunctionsFollowBandMath) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<ScalarCase> cases = {
      {"2*3+4*5", 26},
      {"10-4-3", 3},
      {"100/10/5", 2},
      {"-2^2", -4},  // unary minus binds looser than ^
      {"2^3^2", 512},  // ^ is right-associative
      {"2^-1", 0.5},
      {"-3*-2", 6},
      {"- -3", 3},
      {"+3", 3},
      {"(1+2)*3", 9},
      {"1 < 2 < 3", 1},
      {"3 > 2 > 1", 0},  // (3 > 2) > 1
      {"1 + 2 > 2 ? 10 : 20", 10},
      {"1 ? 2 : 3 ? 4 : 5", 2},
      {"0 ? 2 : 1 ? 4 : 5", 4},
      {"0 ? 2 : 0 ? 4 : 5", 5},
      {"1 ? 0 ? 6 : 7 : 8", 7},
      {"1 || 0 && 0", 1},  // && binds tighter than ||
      {"(1 || 0) && 0", 0},
      {"0 or 1 and 0", 0},  // OTB's words: same level, left to right
      {"1 and 0 or 1", 1},
      {"2 == 2", 1},
      {"2 != 2", 0},
      {"(0/0) ? 1 : 2", 1},  // NaN is true, as in muparser
      {"(0/0) && 1", 1},
      {"(0/0) == (0/0)", 0},
      {"0/0", nan},
      {"1/0", std::numeric_limits<double>::infinity()},
      {"rint(2.5)", 3},
      {"rint(-2.5)", -2},  // floor(x + 0.5)
      {"rint(-2.6)", -3},
      {"sign(-3)", -1},
      {"sign(0)", 0},
      {"sign(7)", 1},
      {"ndvi(1, 2)", 1.0 / 3.0},
      {"ndvi(1, -1)", 0},
      {"avg(1, 2, 4)", 7.0 / 3.0},
      {"sum(1, 2, 3)", 6},
      {"min(3, 1, 2)", 1},
      {"max(3, 1, 2)", 3},
      {"pow(2, 10)", 1024},
      {"atan2(1, 1)", std::atan2(1.0, 1.0)},
      {"log2(8)", 3},
      {"ln(e)", std::log(std::numbers::e)},
      {"2*-3^2", -18},
      {"-2^-2", -0.25},
      {"2^2^-1", std::sqrt(2.0)},
      {"1 ? 5 : 6 and 0", 5},  // the else branch takes "6 and 0"
      {"0 and 1 ? 5 : 6", 6},
      {"sign(0/0)", 0},
      {"min(0/0, 1)", nan},  // std::min, left to right: NaN first stays
      {"min(1, 0/0)", 1},
      {"max(0/0, 1)", nan},
      {"sum(-0) * -1", -0.0},  // sums start from +0, as in muparser
      {"-0", -0.0},
      {"1e3 + .5 + 5. + 2E-1", 1000.0 + 0.5 + 5.0 + 0.2},
      {"  1\t+\n2 ", 3},
  };
  const Array dummy(MakeProfile(5, 3, 1, PixelType::kU8));
  for (const ScalarCase& c : cases) {
    SCOPED_TRACE(c.expr);
    absl::StatusOr<Array> got = RunExpression(c.expr, {&dummy}, PixelType::kF64);
    ASSERT_TRUE(got.ok()) << got.status();
    for (double v : got->Samples<double>()) {
      EXPECT_TRUE(SameDouble(v, c.expected)) << v << " != " << c.expected;
    }
  }
}

TEST(ExpressionScalarTest, ConvertsToTheOutputTypeAsCastDoes) {
  // Values covering NaN, infinities, negatives, fractions and out-of-range.
  Array in(MakeProfile(12, 1, 1, PixelType::kF64));
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> values = {std::nan(""), inf, -inf, -1.5, -0.7, 0.0, 2.7, 255.9, 300,
                                      40000.7, -40000.7, 5e9};
  std::copy(values.begin(), values.end(), in.MutableSamples<double>().begin());
  for (PixelType t : kAllPixelTypes) {
    SCOPED_TRACE(PixelTypeName(t));
    absl::StatusOr<Array> got = RunExpression("im1b1", {&in}, t);
    ASSERT_TRUE(got.ok()) << got.status();
    // The reference: the project's Cast filter on the same values.
    auto ctx = Context::Create({});
    ASSERT_TRUE(ctx.ok());
    auto src = (*ctx)->Wrap(in.profile(), in.data());
    ASSERT_TRUE(src.ok());
    auto cast = (*ctx)->Map({*src}, filters::Cast(t));
    ASSERT_TRUE(cast.ok()) << cast.status();
    auto want = (*ctx)->ReadAll((*cast)[0]);
    ASSERT_TRUE(want.ok()) << want.status();
    EXPECT_TRUE(SameBytes(*got, *want));
  }
}

TEST(ExpressionScalarTest, ConstantExpressionFillsTheImageWithTheInputGrid) {
  Profile p = MakeProfile(70, 33, 2, PixelType::kI16);
  p.crs_wkt = "LOCAL_CS[\"test\"]";
  p.nodata = -1;
  const Array in = RandomArray(p, 5);
  absl::StatusOr<Array> got = RunExpression("1 + 2 * 3", {&in}, PixelType::kU16);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->profile().bands, 1);
  EXPECT_EQ(got->profile().type, PixelType::kU16);
  EXPECT_EQ(got->profile().geotransform, p.geotransform);
  EXPECT_EQ(got->profile().crs_wkt, p.crs_wkt);
  EXPECT_FALSE(got->profile().nodata.has_value());
  for (uint16_t v : got->Samples<uint16_t>()) ASSERT_EQ(v, 7);
}

TEST(ExpressionScalarTest, OptionsNameTheNodeAndSetNodata) {
  ExpressionOptions eo;
  eo.name = "my math";
  eo.nodata = 255;
  absl::StatusOr<MapFilter> f = Expression("im1b1 > 0", PixelType::kU8, eo);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->name, "my math");
  EXPECT_EQ(f->margin, 0);
  absl::StatusOr<std::vector<Profile>> outs = f->profiles({MakeProfile(4, 4, 1, PixelType::kF32)});
  ASSERT_TRUE(outs.ok());
  ASSERT_EQ(outs->size(), 1u);
  EXPECT_EQ((*outs)[0].nodata, 255.0);
  EXPECT_EQ((*outs)[0].type, PixelType::kU8);
}

struct ErrorCase {
  std::string expr;
  std::string message;  // expected after "expression '<expr>': "
};

TEST(ExpressionErrorTest, SyntaxErrorsGiveTheFaultsPosition) {
  const std::vector<ErrorCase> cases = {
      {"im1b2 + * 3", "unexpected operator '*' at position 8"},
      {"3 +", "unexpected end of expression at position 3"},
      {"", "empty expression"},
      {"   ", "empty expression"},
      {"(3", "missing ')' for the '(' at position 0 at position 2"},
      {"max(1, 2", "missing ')' for the '(' at position 3 at position 8"},
      {"(1 2)", "expected ')' for the '(' at position 0, found '2' at position 3"},
      {"3)", "unexpected ')' at position 1"},
      {"im1b1 im1b2", "unexpected 'im1b2' at position 6"},
      {"1,2", "unexpected ',' at position 1"},
      {"1 : 2", "unexpected ':' at position 2"},
      {"1 ? 2", "'?' at position 2 has no ':' at position 5"},
      {"1 ? 2 , 3", "expected ':' of the '?' at position 2, found ',' at position 6"},
      {"2 $ 3", "unexpected character '$' at position 2"},
      {"im1b1 = 3", "unexpected character '=' at position 6"},
      {"im1b1 & 3", "unexpected character '&' at position 6"},
      {"!im1b1", "unexpected character '!' at position 0"},
      {"foo(1)", "unknown function 'foo' at position 0"},
      {"im1b1 + bar", "unknown variable 'bar' at position 8"},
      {"im1b1b", "unknown variable 'im1b1b' at position 0"},
      {"fmod(1, 2)", "unknown function 'fmod' at position 0"},
      {"sin + 1", "function 'sin' needs its arguments in parentheses at position 0"},
      {"sqrt(1, 2)", "function 'sqrt' takes 1 argument, got 2 at position 0"},
      {"1 + atan2(1)", "function 'atan2' takes 2 arguments, got 1 at position 4"},
      {"ndvi()", "function 'ndvi' takes 2 arguments, got 0 at position 0"},
      {"2 * min()", "function 'min' takes at least 1 argument, got 0 at position 4"},
      {"im0b1", "'im0b1': images and bands are numbered from 1 at position 0"},
      {"1 + im2b0", "'im2b0': images and bands are numbered from 1 at position 4"},
      {"im99999999b1", "'im99999999b1': number too large at position 0"},
      {"1 + im1b99999999999999999999999999", "'im1b99999999999999999999999999': number too large at position 4"},
      {"2 * 1e999", "number '1e999' out of range at position 4"},
      {"max(1,)", "unexpected ')' at position 6"},
      {"*", "unexpected operator '*' at position 0"},
      {"2e", "unexpected 'e' at position 1"},  // no exponent digits: 2, then the name e
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.expr);
    absl::StatusOr<MapFilter> f = Expression(c.expr);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(f.status().message(), absl::StrCat("expression '", c.expr, "': ", c.message));
    // ExpressionBands parses the same way.
    EXPECT_EQ(ExpressionBands(c.expr).status(), f.status());
  }
}

TEST(ExpressionErrorTest, DeepNestingIsAnErrorNotACrash) {
  const std::string deep = std::string(100000, '(') + "1" + std::string(100000, ')');
  absl::StatusOr<MapFilter> f = Expression(deep);
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.status().message(), HasSubstr("nested too deeply"));
  EXPECT_FALSE(Expression(std::string(100000, '-') + "1").ok());
  EXPECT_FALSE(Expression("2" + std::string(100000, '^') + "2").ok());
}

TEST(ExpressionErrorTest, ReferencesToMissingInputsOrBandsFailWhenTheMapIsAdded) {
  const Array a = RandomArray(MakeProfile(20, 10, 4, PixelType::kI16), 1);
  const Array b = RandomArray(MakeProfile(20, 10, 1, PixelType::kF32), 2);
  struct Case {
    std::string expr;
    std::vector<const Array*> inputs;
    ExpressionOptions options;
    std::string message;
  };
  std::vector<Case> cases = {
      {"im1b1 + im3b1", {&a, &b}, {}, "im3b1 (position 8) names input 3, but the filter has 2 inputs"},
      {"im2b1", {&a}, {}, "im2b1 (position 0) names input 2, but the filter has 1 input"},
      {"im1b5 * 2", {&a, &b}, {}, "im1b5 (position 0) names band 5 of input 1, which has 4 bands"},
      {"im1b1 + im2b2", {&a, &b}, {}, "im2b2 (position 8) names band 2 of input 2, which has 1 band"},
      {"im1b3", {&a}, InputBands({{1, 2, 3, 4}, {}}), ""},  // fine
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.expr);
    // The filter is created: the expression is valid.
    ASSERT_TRUE(Expression(c.expr, PixelType::kF32, c.options).ok());
    absl::StatusOr<Array> got = RunExpression(c.expr, c.inputs, PixelType::kF32, {}, c.options);
    if (c.message.empty()) {
      EXPECT_TRUE(got.ok()) << got.status();
      continue;
    }
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(got.status().message(), HasSubstr(absl::StrCat("expression '", c.expr, "': ", c.message)));
  }
}

TEST(ExpressionBandsTest, ListsTheBandsEachInputReferences) {
  absl::StatusOr<std::vector<std::vector<int>>> bands =
      ExpressionBands("im3b4 + im1b4 * im1b2 - im1b4 + ndvi(im3b1, im3b4)");
  ASSERT_TRUE(bands.ok()) << bands.status();
  EXPECT_EQ(*bands, (std::vector<std::vector<int>>{{2, 4}, {}, {1, 4}}));
  bands = ExpressionBands("1 + 2");
  ASSERT_TRUE(bands.ok());
  EXPECT_TRUE(bands->empty());
}

TEST(ExpressionBandsTest, ReadingOnlyTheReferencedBandsGivesTheSameResult) {
  TempDir dir;
  const Array f1 = RandomArray(MakeProfile(150, 90, 4, PixelType::kI16), 7);
  const Array f2 = RandomArray(MakeProfile(150, 90, 3, PixelType::kU16), 8);
  WriteTiff(f1, dir.File("a.tif"), 64);
  WriteTiff(f2, dir.File("b.tif"), 64);
  const std::string expr = "(im1b4 - im1b2) / (im1b4 + im1b2 + 0.5) + im2b3 * 0.25 - im1b4";
  absl::StatusOr<std::vector<std::vector<int>>> bands = ExpressionBands(expr);
  ASSERT_TRUE(bands.ok());
  ASSERT_EQ(*bands, (std::vector<std::vector<int>>{{2, 4}, {3}}));

  auto run = [&](bool subset) -> absl::StatusOr<Array> {
    auto ctx = Context::Create(Workers(2));
    if (!ctx.ok()) return ctx.status();
    auto a = (*ctx)->Open(dir.File("a.tif"), subset ? (*bands)[0] : std::vector<int>{});
    auto b = (*ctx)->Open(dir.File("b.tif"), subset ? (*bands)[1] : std::vector<int>{});
    if (!a.ok()) return a.status();
    if (!b.ok()) return b.status();
    ExpressionOptions eo;
    if (subset) eo.input_bands = *bands;
    auto f = Expression(expr, PixelType::kF64, eo);
    if (!f.ok()) return f.status();
    auto out = (*ctx)->Map({*a, *b}, *f);
    if (!out.ok()) return out.status();
    return (*ctx)->ReadAll((*out)[0]);
  };
  absl::StatusOr<Array> all = run(false);
  absl::StatusOr<Array> subset = run(true);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_TRUE(subset.ok()) << subset.status();
  EXPECT_TRUE(SameBytes(*all, *subset));

  // A band outside the subset the input was opened with is an error when the
  // Map is added, and so is a selection that disagrees with the image.
  auto ctx = Context::Create({});
  ASSERT_TRUE(ctx.ok());
  auto a = (*ctx)->Open(dir.File("a.tif"), {2, 4});
  ASSERT_TRUE(a.ok());
  auto f = Expression("im1b3", PixelType::kF32, InputBands({{2, 4}}));
  ASSERT_TRUE(f.ok());
  auto out = (*ctx)->Map({*a}, *f);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(),
              HasSubstr("im1b3 (position 0) names band 3 of input 1, which was opened on bands 2, 4"));
  f = Expression("im1b2", PixelType::kF32, InputBands({{1, 2, 4}}));
  ASSERT_TRUE(f.ok());
  out = (*ctx)->Map({*a}, *f);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("input 1 has 2 bands, but input_bands lists 3 (1, 2, 4)"));
  EXPECT_FALSE(Expression("im1b1", PixelType::kF32, InputBands({{0}})).ok());
}

TEST(ExpressionScalarTest, LongExpressionsWithManyTermsAreExact) {
  const Array in = RandomArray(MakeProfile(40, 30, 2, PixelType::kF32), 9);
  std::string expr = "0";
  for (int i = 1; i <= 150; ++i) {
    absl::StrAppend(&expr, " + im1b", 1 + i % 2, " * ", i, " / (im1b", 2 - i % 2, " + ", i, ")");
  }
  absl::StatusOr<Array> got = RunExpression(expr, {&in}, PixelType::kF64, Workers(3));
  ASSERT_TRUE(got.ok()) << got.status();
  auto s = in.Samples<float>();
  auto d = got->Samples<double>();
  const size_t plane = 40 * 30;
  for (size_t p = 0; p < plane; ++p) {
    double acc = 0;
    for (int i = 1; i <= 150; ++i) {
      const double x = s[(i % 2) * plane + p];
      const double y = s[(1 - i % 2) * plane + p];
      acc = acc + x * i / (y + i);
    }
    ASSERT_TRUE(SameDouble(d[p], acc)) << p;
  }
}

}  // namespace
}  // namespace eoscale
