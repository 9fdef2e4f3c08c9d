#include "plain_water_mask.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cpl_error.h"
#include "cpl_string.h"
#include "gdal_priv.h"

namespace eoscale::bench {
namespace {

constexpr int kBlock = 256;  // output block side and the height of a row band
// GDAL's block cache: 4 MiB. Every input block is read exactly once (a row
// band is a whole row of input blocks), so the cache only stages blocks on
// their way from the file to our buffer and needs no working set; when full,
// GDAL recycles the buffers of the oldest blocks. Measured at 10980 x 10980 x
// 4 dates, 2 workers: 4 MiB is as fast as 8-64 MiB (faster: the recycled
// buffers stay in the CPU caches) and each extra MiB is a MiB of peak RSS;
// 1 MiB made some runs twice as slow. Output blocks go straight to the
// file with WriteBlock and never enter the cache.
constexpr int64_t kGdalCacheBytes = int64_t{4} << 20;

// Collects the first failure GDAL reports on the calling thread while in
// scope (GDAL's handler stack is per thread). Warnings are dropped.
// TODO: use io/'s scoped handler once that layer exists.
class GdalErrorCapture {
 public:
  GdalErrorCapture() { CPLPushErrorHandlerEx(&Handler, this); }
  ~GdalErrorCapture() { CPLPopErrorHandler(); }
  GdalErrorCapture(const GdalErrorCapture&) = delete;
  GdalErrorCapture& operator=(const GdalErrorCapture&) = delete;

  bool failed() const { return failed_; }
  std::string message() const { return message_.empty() ? "unknown GDAL error" : message_; }

 private:
  static void CPL_STDCALL Handler(CPLErr cls, CPLErrorNum, const char* msg) {
    auto* self = static_cast<GdalErrorCapture*>(CPLGetErrorHandlerUserData());
    if (cls >= CE_Failure && !self->failed_) {
      self->failed_ = true;
      self->message_ = msg != nullptr ? msg : "";
    }
  }
  bool failed_ = false;
  std::string message_;
};

class ScopedGdalCacheMax {
 public:
  explicit ScopedGdalCacheMax(int64_t bytes) : saved_(GDALGetCacheMax64()) {
    GDALSetCacheMax64(bytes);
  }
  ~ScopedGdalCacheMax() { GDALSetCacheMax64(saved_); }
  ScopedGdalCacheMax(const ScopedGdalCacheMax&) = delete;
  ScopedGdalCacheMax& operator=(const ScopedGdalCacheMax&) = delete;

 private:
  int64_t saved_;
};

std::unique_ptr<GDALDataset> OpenInput(const std::string& path) {
  const char* const drivers[] = {"GTiff", "VRT", nullptr};  // VRT: jp2 stacks and mosaics (macro_benchmark)
  return std::unique_ptr<GDALDataset>(GDALDataset::Open(
      path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, drivers, nullptr, nullptr));
}

// The semantics the engine must reproduce bit for bit.
inline uint8_t IsWater(int16_t g, int16_t n) {
  const float ndwi = (static_cast<float>(g) - static_cast<float>(n)) /
                     (static_cast<float>(g) + static_cast<float>(n) + 0.001f);
  return ndwi > 0.0f ? 1 : 0;
}

// State shared by the workers of one run.
class Run {
 public:
  Run(const std::vector<std::string>& inputs, GDALDataset* output, int width, int height)
      : inputs_(inputs),
        output_(output),
        width_(width),
        height_(height),
        blocks_x_((width + kBlock - 1) / kBlock),
        row_bands_((height + kBlock - 1) / kBlock) {}

  // One worker: takes row bands from a shared counter until none is left or
  // a worker failed. Never throws (allocation failure aside).
  void Work() {
    GdalErrorCapture capture;  // GDAL errors of this thread
    std::vector<std::unique_ptr<GDALDataset>> datasets;
    for (const std::string& path : inputs_) {
      datasets.push_back(OpenInput(path));
      if (datasets.back() == nullptr) {
        Fail(absl::NotFoundError(absl::StrCat("cannot open '", path, "': ", capture.message())));
        return;
      }
    }
    // G and NIR of one date, band-sequential: [2][rows][width].
    std::vector<int16_t> gn(2 * static_cast<size_t>(kBlock) * width_);
    // The mask of one row band in the output's block layout
    // [block_x][row][column]; padding outside the image stays 0.
    std::vector<uint8_t> mask(static_cast<size_t>(blocks_x_) * kBlock * kBlock, 0);
    int64_t water = 0;
    int bands[2] = {2, 4};
    for (;;) {
      const int row_band = next_row_band_.fetch_add(1);
      if (row_band >= row_bands_ || failed_.load(std::memory_order_relaxed)) break;
      const int y0 = row_band * kBlock;
      const int rows = std::min(kBlock, height_ - y0);
      for (size_t d = 0; d < datasets.size(); ++d) {
        if (datasets[d]->RasterIO(GF_Read, 0, y0, width_, rows, gn.data(), width_, rows, GDT_Int16,
                                  2, bands, 0, 0, 0, nullptr) != CE_None) {
          Fail(absl::DataLossError(absl::StrCat("cannot read rows ", y0, "..", y0 + rows - 1,
                                                " of '", inputs_[d], "': ", capture.message())));
          return;
        }
        const int16_t* g_rows = gn.data();
        const int16_t* n_rows = gn.data() + static_cast<size_t>(rows) * width_;
        for (int r = 0; r < rows; ++r) {
          for (int bx = 0; bx < blocks_x_; ++bx) {
            const size_t offset = static_cast<size_t>(r) * width_ + bx * kBlock;
            const int16_t* g = g_rows + offset;
            const int16_t* n = n_rows + offset;
            uint8_t* m = mask.data() + (static_cast<size_t>(bx) * kBlock + r) * kBlock;
            const int cols = std::min(kBlock, width_ - bx * kBlock);
            if (d == 0) {
              for (int c = 0; c < cols; ++c) m[c] = IsWater(g[c], n[c]);
            } else {
              for (int c = 0; c < cols; ++c) m[c] &= IsWater(g[c], n[c]);
            }
          }
        }
      }
      if (rows < kBlock) {  // the last row band: clear rows left from earlier bands
        for (int bx = 0; bx < blocks_x_; ++bx) {
          uint8_t* m = mask.data() + (static_cast<size_t>(bx) * kBlock + rows) * kBlock;
          std::memset(m, 0, static_cast<size_t>(kBlock - rows) * kBlock);
        }
      }
      int64_t band_water = 0;
      for (uint8_t v : mask) band_water += v;
      water += band_water;
      if (!WriteRowBand(row_band, mask.data(), capture)) return;
    }
    water_pixels_.fetch_add(water);
  }

  absl::Status status() const {
    std::lock_guard<std::mutex> lock(error_mu_);
    return first_error_;
  }
  int64_t water_pixels() const { return water_pixels_.load(); }

 private:
  // The single writer: one worker at a time writes whole blocks straight to
  // the file (no block cache).
  bool WriteRowBand(int row_band, uint8_t* mask, const GdalErrorCapture& capture) {
    std::lock_guard<std::mutex> lock(write_mu_);
    GDALRasterBand* out = output_->GetRasterBand(1);
    for (int bx = 0; bx < blocks_x_; ++bx) {
      if (out->WriteBlock(bx, row_band, mask + static_cast<size_t>(bx) * kBlock * kBlock) !=
          CE_None) {
        Fail(absl::UnavailableError(absl::StrCat("cannot write block (", bx, ", ", row_band,
                                                 ") of '", output_->GetDescription(),
                                                 "': ", capture.message())));
        return false;
      }
    }
    return true;
  }

  void Fail(absl::Status status) {
    std::lock_guard<std::mutex> lock(error_mu_);
    if (first_error_.ok()) first_error_ = std::move(status);
    failed_.store(true);
  }

  const std::vector<std::string>& inputs_;
  GDALDataset* const output_;  // written under write_mu_ only
  const int width_;
  const int height_;
  const int blocks_x_;
  const int row_bands_;
  std::atomic<int> next_row_band_{0};
  std::atomic<bool> failed_{false};
  std::atomic<int64_t> water_pixels_{0};
  std::mutex write_mu_;
  mutable std::mutex error_mu_;
  absl::Status first_error_ ABSL_GUARDED_BY(error_mu_);
};

}  // namespace

absl::StatusOr<PlainResult> RunPlainWaterMask(const std::vector<std::string>& inputs,
                                              const std::string& output, int workers) {
  const auto start = std::chrono::steady_clock::now();
  if (inputs.empty()) return absl::InvalidArgumentError("RunPlainWaterMask: no inputs");
  if (workers < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("RunPlainWaterMask: workers must be >= 1, got ", workers));
  }
  GDALAllRegister();
  ScopedGdalCacheMax cache(kGdalCacheBytes);
  GdalErrorCapture capture;

  // Check every input on this thread; the workers open their own handles.
  int width = 0;
  int height = 0;
  double geo_transform[6];
  bool has_geo_transform = false;
  std::unique_ptr<OGRSpatialReference> srs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::unique_ptr<GDALDataset> ds = OpenInput(inputs[i]);
    if (ds == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("cannot open '", inputs[i], "': ", capture.message()));
    }
    if (ds->GetRasterCount() < 4) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", inputs[i], "' has ", ds->GetRasterCount(), " bands, needs at least 4"));
    }
    for (int b : {2, 4}) {
      if (ds->GetRasterBand(b)->GetRasterDataType() != GDT_Int16) {
        return absl::InvalidArgumentError(absl::StrCat(
            "band ", b, " of '", inputs[i], "' is ",
            GDALGetDataTypeName(ds->GetRasterBand(b)->GetRasterDataType()), ", needs Int16"));
      }
    }
    if (i == 0) {
      width = ds->GetRasterXSize();
      height = ds->GetRasterYSize();
      has_geo_transform = ds->GetGeoTransform(geo_transform) == CE_None;
      if (const OGRSpatialReference* s = ds->GetSpatialRef(); s != nullptr) srs.reset(s->Clone());
    } else if (ds->GetRasterXSize() != width || ds->GetRasterYSize() != height) {
      return absl::InvalidArgumentError(absl::StrCat("'", inputs[i], "' is ", ds->GetRasterXSize(),
                                                     " x ", ds->GetRasterYSize(), ", '", inputs[0],
                                                     "' is ", width, " x ", height));
    }
  }

  GDALDriver* driver = GetGDALDriverManager()->GetDriverByName("GTiff");
  if (driver == nullptr) return absl::InternalError("GDAL has no GTiff driver");
  CPLStringList options;
  options.SetNameValue("TILED", "YES");
  options.SetNameValue("BLOCKXSIZE", "256");
  options.SetNameValue("BLOCKYSIZE", "256");
  std::unique_ptr<GDALDataset> out(
      driver->Create(output.c_str(), width, height, 1, GDT_Byte, options.List()));
  if (out == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot create '", output, "': ", capture.message()));
  }
  if (has_geo_transform) out->SetGeoTransform(geo_transform);
  if (srs != nullptr) out->SetSpatialRef(srs.get());

  Run run(inputs, out.get(), width, height);
  std::vector<std::thread> threads;
  threads.reserve(workers);
  for (int i = 0; i < workers; ++i) threads.emplace_back([&run] { run.Work(); });
  for (std::thread& t : threads) t.join();

  out.reset();  // closes: writes the TIFF directory
  if (absl::Status s = run.status(); !s.ok()) return s;
  if (capture.failed()) {
    return absl::UnavailableError(absl::StrCat("cannot write '", output, "': ", capture.message()));
  }
  PlainResult result;
  result.water_pixels = run.water_pixels();
  result.pixels = static_cast<int64_t>(width) * height;
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace eoscale::bench
