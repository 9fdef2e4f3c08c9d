// The documented MNDWI one-liner (docs/cli.md, "A Sentinel-2 L2A-like
// product") on a small generated product (examples/s2_like/s2_l2a_like.h):
// per-band JPEG 2000, B03 at 10 m and B11 at 20 m, 4 dates. The water mask
// equals a reference computed without the engine: gdalwarp of each B11 onto
// its B03's grid (bilinear, exact transformer), then MNDWI on reflectances
// (DN - 1000) / 10000, pixel by pixel.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli_program.h"
#include "eoscale/core/array.h"
#include "gdal.h"

#ifdef EOSCALE_HAVE_S2_L2A_LIKE
#include "s2_l2a_like.h"
#endif

namespace eoscale::cli_test {
namespace {

#ifdef EOSCALE_HAVE_S2_L2A_LIKE

constexpr int kSize = 401;  // odd: B11's last 20 m column and row overhang the 10 m grid
constexpr int kDates = 4;

// The one-liner of docs/cli.md, on `product`'s dates, writing `out`.
std::vector<std::string> OneLiner(const std::vector<examples::S2L2aDate>& product, const std::string& out) {
  std::vector<std::string> args = {"calc", "-r", "bilinear", "--ot", "Byte", "--cog", "-o", out};
  std::string calc;
  for (size_t k = 1; k <= product.size(); ++k) {
    args.push_back("-i");
    args.push_back(absl::StrCat("G", k, "=", product[k - 1].b03));
    args.push_back("-i");
    args.push_back(absl::StrCat("S", k, "=", product[k - 1].b11));
    absl::StrAppend(&calc, k > 1 ? " && " : "", "(G", k, "-S", k, ")/(G", k, "+S", k, "-2000) > 0");
  }
  args.push_back("--calc");
  args.push_back(calc);
  return args;
}

TEST(CliMndwiTest, OneLinerEqualsGdalwarpThenMndwiOnReflectances) {
  GDALAllRegister();
  if (GDALGetDriverByName("JP2OpenJPEG") == nullptr) GTEST_SKIP() << "GDAL has no JP2OpenJPEG driver";
  TempDir dir;
  auto product = examples::MakeS2L2aLike(dir.File("s2"), kSize, kDates);
  ASSERT_TRUE(product.ok()) << product.status();
  ASSERT_EQ(product->size(), static_cast<size_t>(kDates));

  auto r = RunCli(OneLiner(*product, dir.File("water.tif")));
  ASSERT_EQ(r.code, 0) << r.err;
  const Array got = ReadTiff(dir.File("water.tif"));
  const Array first = ReadTiff((*product)[0].b03);
  ASSERT_EQ(got.profile().type, PixelType::kU8);
  ASSERT_EQ(got.profile().width, kSize);
  ASSERT_EQ(got.profile().height, kSize);
  EXPECT_EQ(got.profile().geotransform, first.profile().geotransform);

  const size_t n = static_cast<size_t>(kSize) * kSize;
  std::vector<uint8_t> want(n, 1);
  for (int k = 0; k < kDates; ++k) {
    const std::string warped = dir.File(absl::StrCat("b11_10m_", k, ".tif"));
    GdalWarp((*product)[k].b11, warped,
             {"-t_srs", "EPSG:32630", "-te", "399960", absl::StrCat(5000040 - 10 * kSize),
              absl::StrCat(399960 + 10 * kSize), "5000040", "-tr", "10", "10", "-r", "bilinear"});
    const Array swir = ReadTiff(warped);
    const Array green = ReadTiff((*product)[k].b03);
    ASSERT_EQ(swir.profile().type, PixelType::kU16);
    ASSERT_EQ(green.profile().type, PixelType::kU16);
    const auto s = swir.Samples<uint16_t>();
    const auto g = green.Samples<uint16_t>();
    size_t water = 0;
    for (size_t i = 0; i < n; ++i) {
      const double rg = (g[i] - 1000.0) / 10000.0, rs = (s[i] - 1000.0) / 10000.0;
      const bool wet = (rg - rs) / (rg + rs) > 0;
      water += wet;
      want[i] = want[i] && wet;
    }
    // Each date has water and land: the comparison below is not of constants.
    EXPECT_GT(water, n / 20) << "date " << k + 1;
    EXPECT_LT(water, n / 2) << "date " << k + 1;
  }
  const auto o = got.Samples<uint8_t>();
  size_t water = 0, differ = 0;
  for (size_t i = 0; i < n; ++i) {
    water += want[i];
    differ += o[i] != want[i];
  }
  EXPECT_EQ(differ, 0u) << "of " << water << " water pixels in the reference";
  EXPECT_GT(water, n / 20);
}

TEST(CliMndwiTest, ProductIsLikeSentinel2L2a) {
  GDALAllRegister();
  if (GDALGetDriverByName("JP2OpenJPEG") == nullptr) GTEST_SKIP() << "GDAL has no JP2OpenJPEG driver";
  TempDir dir;
  auto product = examples::MakeS2L2aLike(dir.path(), 300, 2, 7);
  ASSERT_TRUE(product.ok()) << product.status();
  EXPECT_EQ(dir.List().size(), 6u) << "a temporary was left";
  EXPECT_THAT((*product)[1].b11, ::testing::EndsWith("T30TXN_20230615T105619_B11_20m.jp2"));
  for (const auto& d : *product) {
    for (const std::string& f : {d.b03, d.b08, d.b11}) {
      GDALDatasetH ds = GDALOpen(f.c_str(), GA_ReadOnly);
      ASSERT_NE(ds, nullptr) << f;
      EXPECT_STREQ(GDALGetDriverShortName(GDALGetDatasetDriver(ds)), "JP2OpenJPEG");
      const bool twenty = f == d.b11;
      EXPECT_EQ(GDALGetRasterXSize(ds), twenty ? 150 : 300) << f;
      double gt[6];
      ASSERT_EQ(GDALGetGeoTransform(ds, gt), CE_None);
      EXPECT_EQ(gt[1], twenty ? 20.0 : 10.0);
      EXPECT_EQ(gt[0], 399960.0);
      const char* lossless = GDALGetMetadataItem(ds, "COMPRESSION_REVERSIBILITY", "IMAGE_STRUCTURE");
      EXPECT_STREQ(lossless, "LOSSLESS") << f;
      GDALRasterBandH b = GDALGetRasterBand(ds, 1);
      EXPECT_EQ(GDALGetRasterDataType(b), GDT_UInt16);
      double minmax[2];
      ASSERT_EQ(GDALComputeRasterMinMax(b, FALSE, minmax), CE_None);
      // L2A digital numbers: reflectance x 10000 + 1000, reflectance in [0, 1].
      EXPECT_GE(minmax[0], 1000.0) << f;
      EXPECT_LE(minmax[1], 11000.0) << f;
      EXPECT_GT(minmax[1] - minmax[0], 300.0) << f;  // not a constant image
      GDALClose(ds);
    }
  }
  // A second call keeps the complete files (same modification time).
  const auto before = std::filesystem::last_write_time((*product)[0].b03);
  ASSERT_TRUE(examples::MakeS2L2aLike(dir.path(), 300, 2, 7).ok());
  EXPECT_EQ(std::filesystem::last_write_time((*product)[0].b03), before);
  EXPECT_EQ(dir.List().size(), 6u);
}

#else

TEST(CliMndwiTest, NeedsTheExamples) { GTEST_SKIP() << "built without the examples (EOSCALE_BUILD_EXAMPLES=OFF)"; }

#endif  // EOSCALE_HAVE_S2_L2A_LIKE

}  // namespace
}  // namespace eoscale::cli_test
