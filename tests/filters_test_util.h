// Helpers shared by the filter tests (tests/filters_*_test.cc): the run
// configurations every filter is checked under, running a filter on arrays,
// comparing arrays, and GDAL's own GDALFillNodata as a reference.
#ifndef EOSCALE_TESTS_FILTERS_TEST_UTIL_H_
#define EOSCALE_TESTS_FILTERS_TEST_UTIL_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "eoscale/core/array.h"
#include "eoscale/graph/context.h"
#include "eoscale/io/gdal_raster.h"
#include "gdal.h"
#include "gdal_alg.h"
#include "gtest/gtest.h"

namespace eoscale::testing {

// One way of running a graph: workers, tile mode and size.
struct RunConfig {
  int workers = 1;
  TileMode mode = TileMode::kTiles;
  int tile_size = 0;  // 0: the streaming default
  bool one_tile_per_worker = false;

  ContextOptions Options() const {
    ContextOptions o;
    o.workers = workers;
    o.tiling.mode = mode;
    o.tiling.tile_size = tile_size;
    o.tiling.one_tile_per_worker = one_tile_per_worker;
    return o;
  }
  std::string Name() const {
    return absl::StrCat(workers, "w_", mode == TileMode::kTiles ? "tiles" : "strips", "_",
                        one_tile_per_worker ? std::string("per_worker") : absl::StrCat(tile_size));
  }
};

// Workers 1, 2, 4 x tiles, strips x sizes 7, 32, default, plus EOScale's
// one tile (or strip) per worker.
inline std::vector<RunConfig> AllConfigs() {
  std::vector<RunConfig> c;
  for (int w : {1, 2, 4}) {
    for (TileMode m : {TileMode::kTiles, TileMode::kStrips}) {
      for (int s : {7, 32, 0}) c.push_back({w, m, s, false});
    }
  }
  c.push_back({4, TileMode::kTiles, 0, true});
  c.push_back({5, TileMode::kStrips, 0, true});
  return c;
}

// A few configurations, for the slower filters.
inline std::vector<RunConfig> SomeConfigs() {
  return {{1, TileMode::kTiles, 7, false},
          {4, TileMode::kTiles, 32, false},
          {2, TileMode::kStrips, 7, false},
          {2, TileMode::kTiles, 0, false},
          {4, TileMode::kTiles, 0, true}};
}

inline Array CopyArray(const Array& a) {
  Array c(a.profile());
  if (a.bytes() > 0) std::memcpy(c.mutable_data(), a.data(), a.bytes());
  return c;
}

// Runs `filter` on in-memory copies of `inputs` and reads every output.
inline absl::StatusOr<std::vector<Array>> RunMap(const RunConfig& config, const std::vector<const Array*>& inputs,
                                                 MapFilter filter) {
  auto ctx = Context::Create(config.Options());
  if (!ctx.ok()) return ctx.status();
  std::vector<Image> images;
  for (const Array* a : inputs) {
    auto img = (*ctx)->FromArray(CopyArray(*a));
    if (!img.ok()) return img.status();
    images.push_back(*img);
  }
  auto outs = (*ctx)->Map(images, std::move(filter));
  if (!outs.ok()) return outs.status();
  std::vector<Array> result;
  for (const Image& o : *outs) {
    auto a = (*ctx)->ReadAll(o);
    if (!a.ok()) return a.status();
    result.push_back(*std::move(a));
  }
  return result;
}

inline absl::StatusOr<Array> RunMap1(const RunConfig& config, const std::vector<const Array*>& inputs,
                                     MapFilter filter) {
  auto r = RunMap(config, inputs, std::move(filter));
  if (!r.ok()) return r.status();
  if (r->size() != 1) return absl::InternalError(absl::StrCat(r->size(), " outputs"));
  return std::move((*r)[0]);
}

template <typename V>
absl::StatusOr<V> RunReduce(const RunConfig& config, const std::vector<const Array*>& inputs, ReduceFilter<V> filter) {
  auto ctx = Context::Create(config.Options());
  if (!ctx.ok()) return ctx.status();
  std::vector<Image> images;
  for (const Array* a : inputs) {
    auto img = (*ctx)->FromArray(CopyArray(*a));
    if (!img.ok()) return img.status();
    images.push_back(*img);
  }
  auto r = (*ctx)->Reduce<V>(images, std::move(filter));
  if (!r.ok()) return r.status();
  return r->Get();
}

// Bitwise equality of two arrays, with the first difference in the message.
inline ::testing::AssertionResult SameArray(const Array& got, const Array& want) {
  const Profile& g = got.profile();
  const Profile& w = want.profile();
  if (g.width != w.width || g.height != w.height || g.bands != w.bands || g.type != w.type) {
    return ::testing::AssertionFailure() << "shape " << DescribeProfile(g) << " != " << DescribeProfile(w);
  }
  if (std::memcmp(got.data(), want.data(), got.bytes()) == 0) return ::testing::AssertionSuccess();
  ::testing::AssertionResult r = ::testing::AssertionFailure();
  DispatchPixelType(g.type, [&]<typename T>() {
    auto a = got.Samples<T>();
    auto b = want.Samples<T>();
    int64_t diffs = 0;
    size_t first = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) {
        if (diffs++ == 0) first = i;
      }
    }
    const int64_t plane = static_cast<int64_t>(g.width) * g.height;
    const int64_t f = static_cast<int64_t>(first);
    r << diffs << " samples differ; first at band " << f / plane << " y " << (f % plane) / g.width << " x "
      << f % g.width << ": got " << static_cast<double>(a[first]) << ", want " << static_cast<double>(b[first]);
  });
  return r;
}

inline GDALDataType GdalType(PixelType t) {
  switch (t) {
    case PixelType::kU8: return GDT_Byte;
    case PixelType::kI8: return GDT_Byte;
    case PixelType::kU16: return GDT_UInt16;
    case PixelType::kI16: return GDT_Int16;
    case PixelType::kU32: return GDT_UInt32;
    case PixelType::kI32: return GDT_Int32;
    case PixelType::kF32: return GDT_Float32;
    case PixelType::kF64: return GDT_Float64;
  }
  return GDT_Unknown;
}

// GDALFillNodata itself, band by band on an in-memory (MEM) copy of the whole
// image: the pixels where `to_fill` (one band, or one per band) is non-zero
// are filled. What rasterio.fill.fillnodata (EOScale's pipeline) runs.
inline Array GdalFillNodata(const Array& image, const Array& to_fill, double max_search_distance,
                            int smoothing_iterations) {
  io::EnsureGdalInitialized();
  const Profile& p = image.profile();
  GDALDriverH mem = GDALGetDriverByName("MEM");
  const int ps = static_cast<int>(PixelSize(p.type));
  const int64_t plane = static_cast<int64_t>(p.width) * p.height;
  Array out = CopyArray(image);
  for (int b = 0; b < p.bands; ++b) {
    GDALDatasetH ds = GDALCreate(mem, "", p.width, p.height, 1, GdalType(p.type), nullptr);
    GDALDatasetH mds = GDALCreate(mem, "", p.width, p.height, 1, GDT_Byte, nullptr);
    GDALRasterBandH band = GDALGetRasterBand(ds, 1);
    GDALRasterBandH mband = GDALGetRasterBand(mds, 1);
    auto* data = static_cast<std::byte*>(out.mutable_data()) + b * plane * ps;
    EXPECT_EQ(GDALRasterIO(band, GF_Write, 0, 0, p.width, p.height, data, p.width, p.height, GdalType(p.type), 0, 0),
              CE_None);
    std::vector<uint8_t> valid(plane);
    const int mb = to_fill.profile().bands == 1 ? 0 : b;
    DispatchPixelType(to_fill.profile().type, [&]<typename M>() {
      auto m = to_fill.Samples<M>();
      for (int64_t i = 0; i < plane; ++i) valid[i] = m[mb * plane + i] == M{0} ? 1 : 0;
    });
    EXPECT_EQ(GDALRasterIO(mband, GF_Write, 0, 0, p.width, p.height, valid.data(), p.width, p.height, GDT_Byte, 0, 0),
              CE_None);
    char* options[] = {const_cast<char*>("TEMP_FILE_DRIVER=MEM"), nullptr};
    EXPECT_EQ(GDALFillNodata(band, mband, max_search_distance, 0, smoothing_iterations, options, nullptr, nullptr),
              CE_None);
    EXPECT_EQ(GDALRasterIO(band, GF_Read, 0, 0, p.width, p.height, data, p.width, p.height, GdalType(p.type), 0, 0),
              CE_None);
    GDALClose(mds);
    GDALClose(ds);
  }
  return out;
}

}  // namespace eoscale::testing

#endif  // EOSCALE_TESTS_FILTERS_TEST_UTIL_H_
