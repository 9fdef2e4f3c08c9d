// examples/pipeline (EOScale's examples/pipeline.py) on EOScale's dsm.tif and
// on a synthetic DSM, checked against independent whole-image references:
//  - nodata_mask.tif is exactly (dsm == -32768);
//  - filled_dsm.tif is GDALFillNodata itself over the whole image (what
//    rasterio.fill.fillnodata runs in EOScale), bitwise;
//  - smooth_dsm.tif is scipy's uniform_filter(size=3) of that, within float32
//    rounding (in fact bitwise);
//  - the printed min and max are those of smooth_dsm.tif.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "../examples/pipeline/pipeline.h"
#include "filters_test_util.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::DsmPath;
using ::eoscale::testing::GdalFillNodata;
using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::SameArray;
using ::eoscale::testing::TempDir;

// scipy.ndimage.uniform_filter(a, size=3) for float32 (reflect borders; axis
// 0 then axis 1, float32 intermediate, sums in double).
Array UniformReference(const Array& in) {
  const Profile& p = in.profile();
  Array mid(p), out(p);
  auto s = in.Samples<float>();
  auto m = mid.MutableSamples<float>();
  auto d = out.MutableSamples<float>();
  auto reflect = [](int i, int n) { return i < 0 ? -i - 1 : i >= n ? 2 * n - i - 1 : i; };
  for (int y = 0; y < p.height; ++y) {
    for (int x = 0; x < p.width; ++x) {
      double acc = 0.0;
      for (int k = -1; k <= 1; ++k) acc += s[reflect(y + k, p.height) * p.width + x];
      m[y * p.width + x] = static_cast<float>(acc / 3);
    }
  }
  for (int y = 0; y < p.height; ++y) {
    for (int x = 0; x < p.width; ++x) {
      double acc = 0.0;
      for (int k = -1; k <= 1; ++k) acc += m[y * p.width + reflect(x + k, p.width)];
      d[y * p.width + x] = static_cast<float>(acc / 3);
    }
  }
  return out;
}

// Runs the example on `dsm_path` under `options` and checks every output.
void CheckPipeline(const std::string& dsm_path, const examples::PipelineOptions& options) {
  TempDir dir;
  auto result = examples::RunPipeline(dsm_path, dir.path(), options);
  ASSERT_TRUE(result.ok()) << result.status();

  const Array dsm = ReadTiff(dsm_path);
  const Profile& p = dsm.profile();
  ASSERT_EQ(p.nodata, -32768.0);

  // 1. The mask: exactly dsm == nodata.
  const Array mask = ReadTiff(dir.File("nodata_mask.tif"));
  EXPECT_EQ(mask.profile().type, PixelType::kU8);
  EXPECT_FALSE(mask.profile().nodata.has_value());
  Profile mp = p;
  mp.type = PixelType::kU8;
  mp.nodata.reset();
  Array want_mask(mp);
  int64_t holes = 0;
  for (size_t i = 0; i < dsm.Samples<float>().size(); ++i) {
    const bool hole = dsm.Samples<float>()[i] == -32768.0f;
    want_mask.MutableSamples<uint8_t>()[i] = hole ? 1 : 0;
    holes += hole;
  }
  EXPECT_GT(holes, 0);
  EXPECT_TRUE(SameArray(mask, want_mask));

  // 2. The fill: GDALFillNodata over the whole image, bitwise.
  const Array filled = ReadTiff(dir.File("filled_dsm.tif"));
  const Array want_filled = GdalFillNodata(dsm, want_mask, 100.0, 0);
  EXPECT_TRUE(SameArray(filled, want_filled));
  EXPECT_EQ(filled.profile().nodata, p.nodata);
  EXPECT_EQ(filled.profile().geotransform, p.geotransform);
  EXPECT_EQ(filled.profile().crs_wkt, p.crs_wkt);

  // 3. The smoothing: scipy's uniform filter of the reference fill, within
  // float32 rounding (one ulp).
  const Array smooth = ReadTiff(dir.File("smooth_dsm.tif"));
  const Array want_smooth = UniformReference(want_filled);
  ASSERT_EQ(smooth.bytes(), want_smooth.bytes());
  auto a = smooth.Samples<float>();
  auto b = want_smooth.Samples<float>();
  int64_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) {
      ++differ;
      EXPECT_LE(std::fabs(a[i] - b[i]), std::fabs(std::nextafter(b[i], 0.0f) - b[i])) << i;
    }
  }
  EXPECT_EQ(differ, 0) << "pixels one float32 ulp apart";

  // 4. The printed min and max.
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (float v : b) {
    lo = std::min<double>(lo, v);
    hi = std::max<double>(hi, v);
  }
  EXPECT_EQ(result->min, lo);
  EXPECT_EQ(result->max, hi);
}

TEST(PipelineTest, DsmMatchesGdalAndScipyReferences) {
  for (const auto& [workers, mode, size] :
       {std::tuple{2, TileMode::kTiles, 0}, std::tuple{1, TileMode::kTiles, 32}, std::tuple{4, TileMode::kStrips, 50},
        std::tuple{4, TileMode::kTiles, 100}}) {
    SCOPED_TRACE(absl::StrCat(workers, " workers, ", mode == TileMode::kTiles ? "tiles " : "strips ", size));
    examples::PipelineOptions o;
    o.workers = workers;
    o.tiling.mode = mode;
    o.tiling.tile_size = size;
    CheckPipeline(DsmPath(), o);
  }
}

TEST(PipelineTest, DsmWithEoscalesTiling) {
  // EOScale's pipeline.py: 8 workers, tile mode, one tile per worker.
  examples::PipelineOptions o;
  o.workers = 8;
  o.tiling.one_tile_per_worker = true;
  CheckPipeline(DsmPath(), o);
}

TEST(PipelineTest, SyntheticDsmWithLargeHoles) {
  TempDir dir;
  const std::string dsm = dir.File("synthetic_dsm.tif");
  ASSERT_TRUE(examples::MakeSyntheticDsm(dsm, 700, 450, 3).ok());
  examples::PipelineOptions o;
  o.workers = 2;
  o.tiling.tile_size = 64;
  CheckPipeline(dsm, o);
}

}  // namespace
}  // namespace eoscale
