// The behaviours EOScale's own test suite checks (tests/test_executors.py,
// tests/test_manager.py), ported: data like EOScale's dsm.tif (a generated
// 512 x 512 float32 DSM with -32768 holes, test_util.h DsmPath()), same
// settings (4 workers, tiles; 5 workers, strips), same assertions.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include "eoscale/filters/concatenate.h"
#include "eoscale/filters/generic_kernel.h"
#include "eoscale/filters/min_max.h"
#include "filters_test_util.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::DsmPath;
using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::SameArray;

// EOScale's EOContextManager(nb_workers, tile_mode=True/False), with its
// one-tile-per-worker sizing.
ContextOptions EoscaleOptions(int workers, bool tile_mode) {
  ContextOptions o;
  o.workers = workers;
  o.tiling.mode = tile_mode ? TileMode::kTiles : TileMode::kStrips;
  o.tiling.one_tile_per_worker = true;
  return o;
}

// scipy.ndimage.generic_filter(dsm, np.sum, size=(1, 5, 5), mode="constant",
// cval=0) over the whole image, as the test's reference.
Array SumReference(const Array& in, int r) {
  const Profile& p = in.profile();
  Profile po = p;
  po.type = PixelType::kF32;
  Array out(po);
  auto s = in.Samples<float>();
  auto d = out.MutableSamples<float>();
  for (int y = 0; y < p.height; ++y) {
    for (int x = 0; x < p.width; ++x) {
      double acc = 0.0;
      for (int dy = -r; dy <= r; ++dy) {
        for (int dx = -r; dx <= r; ++dx) {
          const int yy = y + dy, xx = x + dx;
          const double v = yy < 0 || yy >= p.height || xx < 0 || xx >= p.width ? 0.0 : s[yy * p.width + xx];
          acc += v;
        }
      }
      d[y * p.width + x] = static_cast<float>(acc);
    }
  }
  return out;
}

// test_constant: a kernel returning a constant leaves no other value, for
// float32 and uint8 outputs (the margins introduce nothing).
TEST(EoscaleParityTest, ConstantKernelLeavesNoOtherValueAnywhere) {
  for (PixelType type : {PixelType::kF32, PixelType::kU8}) {
    SCOPED_TRACE(PixelTypeName(type));
    auto ctx = Context::Create(EoscaleOptions(4, true));
    ASSERT_TRUE(ctx.ok());
    auto dsm = (*ctx)->Open(DsmPath());
    ASSERT_TRUE(dsm.ok()) << dsm.status();
    auto constant = [](std::span<const double>) { return 42.0; };
    filters::GenericKernelOptions o;
    o.output_type = type;
    auto outs = (*ctx)->Map({*dsm, *dsm}, filters::GenericKernel(2, constant, o));
    ASSERT_TRUE(outs.ok()) << outs.status();
    ASSERT_EQ(outs->size(), 2u);
    auto arr = (*ctx)->ReadAll((*outs)[0]);
    ASSERT_TRUE(arr.ok()) << arr.status();
    EXPECT_EQ(arr->profile().type, type);
    EXPECT_EQ(arr->profile().bands, 1);
    EXPECT_EQ(arr->profile().width, 512);
    EXPECT_EQ(arr->profile().height, 512);
    int64_t n = 0;
    DispatchPixelType(type, [&]<typename T>() {
      for (T v : arr->Samples<T>()) n += v == T{42};
    });
    EXPECT_EQ(n, 512 * 512) << "margin introduces unexpected values";
  }
}

// test_n_to_m_imgs_margin: a 5x5 sum with margin 2 equals the whole-image
// reference; the same filter run with margin 0 differs; the written files
// keep the input's profile.
TEST(EoscaleParityTest, SumWithMarginEqualsReferenceAndDiffersWithoutMargin) {
  testing::TempDir dir;
  const Array dsm_array = ReadTiff(DsmPath());
  const Array want = SumReference(dsm_array, 2);
  auto ctx = Context::Create(EoscaleOptions(4, true));
  ASSERT_TRUE(ctx.ok());
  auto dsm = (*ctx)->Open(DsmPath());
  ASSERT_TRUE(dsm.ok()) << dsm.status();
  auto with_margin = (*ctx)->Map({*dsm, *dsm}, filters::GenericKernel(2, filters::kernel::Sum()));
  ASSERT_TRUE(with_margin.ok()) << with_margin.status();
  MapFilter no_margin_filter = filters::GenericKernel(2, filters::kernel::Sum());
  EXPECT_EQ(no_margin_filter.margin, 2);
  no_margin_filter.margin = 0;  // EOScale's test patches compute_mp_tiles the same way
  auto no_margin = (*ctx)->Map({*dsm, *dsm}, no_margin_filter);
  ASSERT_TRUE(no_margin.ok()) << no_margin.status();

  auto arr_margin = (*ctx)->ReadAll((*with_margin)[0]);
  auto arr_no_margin = (*ctx)->ReadAll((*no_margin)[0]);
  ASSERT_TRUE(arr_margin.ok() && arr_no_margin.ok());
  EXPECT_TRUE(SameArray(*arr_margin, want)) << "kernel processing different from reference";
  EXPECT_FALSE(SameArray(*arr_no_margin, *arr_margin)) << "results with/without margin must be different";
  EXPECT_FALSE(SameArray(*arr_no_margin, want));

  ASSERT_TRUE((*ctx)->Write((*with_margin)[0], dir.File("raster_margin.tif")).ok());
  ASSERT_TRUE((*ctx)->Write((*no_margin)[0], dir.File("raster_no_margin.tif")).ok());
  ASSERT_TRUE((*ctx)->Run().ok());
  for (const char* name : {"raster_margin.tif", "raster_no_margin.tif"}) {
    const Array written = ReadTiff(dir.File(name));
    const Profile& p = written.profile();
    const Profile& q = dsm_array.profile();
    EXPECT_EQ(p.width, q.width);
    EXPECT_EQ(p.height, q.height);
    EXPECT_EQ(p.bands, q.bands);
    EXPECT_EQ(p.geotransform, q.geotransform);
    EXPECT_EQ(p.crs_wkt, q.crs_wkt);
  }
}

// test_tile_mode: tiles (4 workers) and strips (5 workers) give the same
// result (here bitwise, not just allclose).
TEST(EoscaleParityTest, TilesAndStripsGiveTheSameResult) {
  Profile p;
  p.width = p.height = 512;
  p.type = PixelType::kF64;
  Array random(p);
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (double& v : random.MutableSamples<double>()) v = u(rng);
  Array results[2];
  for (int i = 0; i < 2; ++i) {
    auto ctx = Context::Create(i == 0 ? EoscaleOptions(4, true) : EoscaleOptions(5, false));
    ASSERT_TRUE(ctx.ok());
    auto img = (*ctx)->Wrap(p, random.data());
    ASSERT_TRUE(img.ok());
    auto out = (*ctx)->Map({*img}, filters::GenericKernel(2, filters::kernel::Sum()));
    ASSERT_TRUE(out.ok()) << out.status();
    auto arr = (*ctx)->ReadAll((*out)[0]);
    ASSERT_TRUE(arr.ok()) << arr.status();
    results[i] = *std::move(arr);
  }
  EXPECT_TRUE(SameArray(results[0], results[1])) << "results with tile_mode=True != tile_mode=False";
}

// test_n_images_m_scalars: min/max over the DSM (EOScale's dsm.tif: values
// in [-32768, 124.62529]; here the generated one's, computed from the file,
// nodata included as EOScale does) together with a constant image of 50000,
// of -50000, or a random image in [0, 1).
TEST(EoscaleParityTest, MinMaxOverDsmAndConstantOrRandomImages) {
  const Array dsm_array = ReadTiff(DsmPath());
  double dsm_min = std::numeric_limits<double>::infinity(), dsm_max = -dsm_min;
  for (float v : dsm_array.Samples<float>()) {
    dsm_min = std::min<double>(dsm_min, v);
    dsm_max = std::max<double>(dsm_max, v);
  }
  ASSERT_EQ(dsm_min, testing::kDsmNodata) << "the DSM has holes: its min is its nodata";
  ASSERT_GT(dsm_max, 0.0);
  Profile p;
  p.width = p.height = 512;
  p.type = PixelType::kF64;
  Array random(p);
  std::mt19937_64 rng(2);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (double& v : random.MutableSamples<double>()) v = u(rng);
  double rmin = 1.0, rmax = 0.0;
  for (double v : random.Samples<double>()) {
    rmin = std::min(rmin, v);
    rmax = std::max(rmax, v);
  }
  struct Case {
    const char* name;
    double min, max;  // of the second image
    bool is_random;
    double value;
  };
  for (const Case& c : {Case{"+50000", 50000, 50000, false, 50000}, Case{"-50000", -50000, -50000, false, -50000},
                        Case{"random", rmin, rmax, true, 0}}) {
    SCOPED_TRACE(c.name);
    auto ctx = Context::Create(EoscaleOptions(4, true));
    ASSERT_TRUE(ctx.ok());
    auto dsm = (*ctx)->Open(DsmPath());
    ASSERT_TRUE(dsm.ok()) << dsm.status();
    auto other = c.is_random ? (*ctx)->Wrap(p, random.data()) : (*ctx)->CreateConstant(p, c.value);
    ASSERT_TRUE(other.ok());
    auto r = (*ctx)->Reduce<filters::MinMaxResult>({*dsm, *other}, filters::MinMax());
    ASSERT_TRUE(r.ok()) << r.status();
    auto got = r->Get();
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_NEAR(got->min, std::min(c.min, dsm_min), 1e-5) << "minmax_filter fails to detect the minimum";
    EXPECT_NEAR(got->max, std::max(c.max, dsm_max), 1e-5) << "minmax_filter fails to detect the maximum";
  }
}

// test_concatenate: two DSMs give a (2, 512, 512) image.
TEST(EoscaleParityTest, ConcatenateTwoDsms) {
  auto ctx = Context::Create(EoscaleOptions(4, true));
  ASSERT_TRUE(ctx.ok());
  auto dsm = (*ctx)->Open(DsmPath());
  ASSERT_TRUE(dsm.ok()) << dsm.status();
  auto cat = (*ctx)->Map({*dsm, *dsm}, filters::Concatenate(PixelType::kF32));
  ASSERT_TRUE(cat.ok()) << cat.status();
  auto arr = (*ctx)->ReadAll((*cat)[0]);
  ASSERT_TRUE(arr.ok()) << arr.status();
  EXPECT_EQ(arr->profile().bands, 2);
  EXPECT_EQ(arr->profile().width, 512);
  EXPECT_EQ(arr->profile().height, 512);
  const Array dsm_array = ReadTiff(DsmPath());
  EXPECT_EQ(std::memcmp(arr->data(), dsm_array.data(), dsm_array.bytes()), 0);
  EXPECT_EQ(std::memcmp(static_cast<const std::byte*>(arr->data()) + dsm_array.bytes(), dsm_array.data(),
                        dsm_array.bytes()),
            0);
}

// test_release_memory: reading a released image is an error (EOScale: KeyError).
TEST(EoscaleParityTest, ReadingAReleasedImageIsAnError) {
  auto ctx = Context::Create(EoscaleOptions(4, true));
  ASSERT_TRUE(ctx.ok());
  auto dsm = (*ctx)->Open(DsmPath());
  ASSERT_TRUE(dsm.ok()) << dsm.status();
  auto cat = (*ctx)->Map({*dsm, *dsm}, filters::Concatenate(PixelType::kF32));
  ASSERT_TRUE(cat.ok()) << cat.status();
  ASSERT_TRUE((*ctx)->ReadAll((*cat)[0]).ok());
  ASSERT_TRUE((*ctx)->Release((*cat)[0]).ok());
  EXPECT_FALSE((*ctx)->ReadAll((*cat)[0]).ok());
  EXPECT_FALSE((*cat)[0].profile().ok());
}

// A created image is all zeros and keeps its profile (create_image).
TEST(EoscaleParityTest, CreatedImageIsAllZerosAndKeepsItsProfile) {
  auto ctx = Context::Create(EoscaleOptions(4, true));
  ASSERT_TRUE(ctx.ok());
  Profile p;
  p.width = 300;
  p.height = 211;
  p.bands = 3;
  p.type = PixelType::kI16;
  p.nodata = -1.0;
  p.geotransform = {570127.5, 0.5, 0.0, 4830732.5, 0.0, -0.5};
  p.crs_wkt = "LOCAL_CS[\"x\"]";
  auto img = (*ctx)->CreateConstant(p);
  ASSERT_TRUE(img.ok()) << img.status();
  auto arr = (*ctx)->ReadAll(*img);
  ASSERT_TRUE(arr.ok()) << arr.status();
  EXPECT_EQ(arr->profile(), p);
  for (int16_t v : arr->Samples<int16_t>()) ASSERT_EQ(v, 0);
}

// Wrapping user memory and reading it back returns it unchanged (and leaves
// the user's memory unchanged).
TEST(EoscaleParityTest, WrappedUserMemoryReadsBackUnchanged) {
  Profile p;
  p.width = 257;
  p.height = 131;
  p.bands = 2;
  p.type = PixelType::kF32;
  std::vector<float> user(static_cast<size_t>(p.width) * p.height * p.bands);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& v : user) v = u(rng);
  const std::vector<float> copy = user;
  auto ctx = Context::Create(EoscaleOptions(4, true));
  ASSERT_TRUE(ctx.ok());
  auto img = (*ctx)->Wrap(p, user.data());
  ASSERT_TRUE(img.ok()) << img.status();
  auto arr = (*ctx)->ReadAll(*img);
  ASSERT_TRUE(arr.ok()) << arr.status();
  EXPECT_EQ(arr->profile(), p);
  ASSERT_EQ(arr->bytes(), user.size() * sizeof(float));
  EXPECT_EQ(std::memcmp(arr->data(), user.data(), arr->bytes()), 0);
  EXPECT_EQ(user, copy);
}

}  // namespace
}  // namespace eoscale
