// GDAL's RasterSource: a raster file read by windows, a GDAL handle per
// reading thread.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cpl_conv.h"
#include "eoscale/io/gdal_raster.h"
#include "eoscale/io/gdal_util.h"
#include "oneapi/tbb/enumerable_thread_specific.h"

namespace eoscale::io {
namespace {

using internal::FromGdal;
using internal::ScopedGdalErrors;
using internal::ToGdal;

class GdalSource final : public RasterSource {
 public:
  GdalSource(std::string path, std::vector<int> bands, Profile profile, int bw, int bh)
      : path_(std::move(path)), bands_(std::move(bands)), profile_(std::move(profile)),
        block_w_(bw), block_h_(bh) {}

  ~GdalSource() override {
    for (GDALDatasetH h : handles_) {
      if (h != nullptr) GDALClose(h);
    }
  }

  const Profile& profile() const override { return profile_; }
  int block_width() const override { return block_w_; }
  int block_height() const override { return block_h_; }
  const std::string& description() const override { return path_; }

  absl::Status Read(const View& dst) override {
    ScopedGdalErrors errors;
    GDALDatasetH& h = handles_.local();
    if (h == nullptr) {
      h = GDALOpenEx(path_.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr);
      if (h == nullptr) {
        struct stat st;
        const std::string why = ::stat(path_.c_str(), &st) != 0 ? std::string("the file no longer exists")
                                                                : errors.message();
        return absl::UnavailableError(absl::StrCat("cannot reopen '", path_, "': ", why));
      }
    }
    const Window& w = dst.window();
    const int psize = static_cast<int>(PixelSize(profile_.type));
    const GDALDataType gt = ToGdal(profile_.type);
    // A window that is exactly one block of the file (edge blocks included)
    // is read block by block, straight into the tile: no GDAL cache, one copy.
    if (w.x % block_w_ == 0 && w.y % block_h_ == 0 &&
        w.width == std::min(block_w_, profile_.width - w.x) &&
        w.height == std::min(block_h_, profile_.height - w.y)) {
      const bool full = w.width == block_w_ && w.height == block_h_ && dst.row_stride() == block_w_;
      std::vector<std::byte>& scratch = scratch_.local();
      if (!full) scratch.resize(static_cast<size_t>(block_w_) * block_h_ * psize);
      for (int b = 0; b < dst.bands(); ++b) {
        GDALRasterBandH band = GDALGetRasterBand(h, bands_[b]);
        void* target = full ? dst.RowPtr(b, 0) : scratch.data();
        if (GDALReadBlock(band, w.x / block_w_, w.y / block_h_, target) != CE_None) {
          return absl::DataLossError(absl::StrCat("reading '", path_, "' band ", bands_[b], " at ",
                                                  DescribeWindow(w), ": ", errors.message()));
        }
        if (!full) {
          for (int y = 0; y < w.height; ++y) {
            std::memcpy(dst.RowPtr(b, y), scratch.data() + static_cast<size_t>(y) * block_w_ * psize,
                        static_cast<size_t>(w.width) * psize);
          }
        }
      }
      return absl::OkStatus();
    }
    GDALRasterIOExtraArg extra;
    INIT_RASTERIO_EXTRA_ARG(extra);
    const CPLErr err = GDALDatasetRasterIOEx(
        h, GF_Read, w.x, w.y, w.width, w.height, dst.data(), w.width, w.height, gt,
        static_cast<int>(bands_.size()), bands_.data(), psize,
        static_cast<GSpacing>(dst.row_stride()) * psize, static_cast<GSpacing>(dst.band_stride()) * psize,
        &extra);
    if (err != CE_None || errors.failed()) {
      return absl::DataLossError(
          absl::StrCat("reading '", path_, "' at ", DescribeWindow(w), ": ", errors.message()));
    }
    return absl::OkStatus();
  }

  // The handle used to probe the file becomes the first thread's handle.
  void Adopt(GDALDatasetH h) { handles_.local() = h; }

 private:
  std::string path_;
  std::vector<int> bands_;
  Profile profile_;
  int block_w_, block_h_;
  tbb::enumerable_thread_specific<GDALDatasetH> handles_{nullptr};
  tbb::enumerable_thread_specific<std::vector<std::byte>> scratch_;
};

}  // namespace

void EnsureGdalInitialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Only the drivers: GDAL's cache size and configuration belong to the
    // host program.
    GDALAllRegister();
  });
}

void SetGdalCacheMax(int64_t bytes) {
  EnsureGdalInitialized();
  GDALSetCacheMax64(bytes);
}
int64_t GdalCacheMax() { return GDALGetCacheMax64(); }
int64_t GdalCacheUsed() { return GDALGetCacheUsed64(); }

absl::StatusOr<std::unique_ptr<RasterSource>> OpenRaster(const std::string& path, std::vector<int> bands) {
  EnsureGdalInitialized();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    const int e = errno;
    if (e == ENOENT || e == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat("raster '", path, "' does not exist"));
    }
    return absl::PermissionDeniedError(absl::StrCat("cannot access raster '", path, "': ", std::strerror(e)));
  }
  if (S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' is a folder, not a raster file"));
  }
  if (::access(path.c_str(), R_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("raster '", path, "' is not readable: ", std::strerror(errno)));
  }
  ScopedGdalErrors errors;
  GDALDatasetH h = GDALOpenEx(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr);
  if (h == nullptr || GDALGetRasterCount(h) == 0) {
    if (h != nullptr) GDALClose(h);
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "' is not a raster GDAL can read",
                     errors.failed() ? absl::StrCat(": ", errors.message()) : std::string()));
  }
  const int count = GDALGetRasterCount(h);
  if (bands.empty()) {
    for (int b = 1; b <= count; ++b) bands.push_back(b);
  }
  for (int b : bands) {
    if (b < 1 || b > count) {
      GDALClose(h);
      return absl::InvalidArgumentError(
          absl::StrCat("band ", b, " of '", path, "' does not exist (the file has ", count, " bands)"));
    }
  }
  GDALRasterBandH first = GDALGetRasterBand(h, bands[0]);
  const char* pixeltype = GDALGetMetadataItem(first, "PIXELTYPE", "IMAGE_STRUCTURE");
  const GDALDataType gt = GDALGetRasterDataType(first);
  absl::StatusOr<PixelType> type = FromGdal(gt, pixeltype != nullptr && std::strcmp(pixeltype, "SIGNEDBYTE") == 0);
  if (!type.ok()) {
    GDALClose(h);
    return absl::UnimplementedError(absl::StrCat("'", path, "': ", type.status().message()));
  }
  for (int b : bands) {
    if (GDALGetRasterDataType(GDALGetRasterBand(h, b)) != gt) {
      GDALClose(h);
      return absl::UnimplementedError(absl::StrCat("'", path, "': bands of different pixel types are not supported"));
    }
  }
  Profile p;
  p.width = GDALGetRasterXSize(h);
  p.height = GDALGetRasterYSize(h);
  p.bands = static_cast<int>(bands.size());
  p.type = *type;
  double gt6[6];
  if (GDALGetGeoTransform(h, gt6) == CE_None) {
    for (int i = 0; i < 6; ++i) p.geotransform[i] = gt6[i];
  }
  if (const char* wkt = GDALGetProjectionRef(h); wkt != nullptr) p.crs_wkt = wkt;
  int has_nodata = 0;
  const double nodata = GDALGetRasterNoDataValue(first, &has_nodata);
  if (has_nodata) p.nodata = nodata;
  int bw = 0, bh = 0;
  GDALGetBlockSize(first, &bw, &bh);
  if (bw <= 0 || bh <= 0) bw = bh = 256;
  // GDAL reads whole blocks: reading any window of a band allocates every
  // block the window touches, whatever the memory budget. A header can claim
  // any block (fuzz_open_raster found a 102-byte file claiming rows of 1.3
  // billion float32 pixels: 5.2 GB per read); real layouts stay far below the
  // limit (a whole 10980 x 10980 float32 band stored as one strip is 482 MB).
  for (int b : bands) {
    int band_bw = 0, band_bh = 0;
    GDALGetBlockSize(GDALGetRasterBand(h, b), &band_bw, &band_bh);
    const int64_t block_bytes = int64_t{std::max(band_bw, 1)} * std::max(band_bh, 1) * PixelSize(p.type);
    if (block_bytes > kMaxBlockBytes) {
      GDALClose(h);
      return absl::ResourceExhaustedError(absl::StrCat(
          "'", path, "': band ", b, " is stored in blocks of ", band_bw, " x ", band_bh, " pixels (", block_bytes,
          " bytes); GDAL reads whole blocks, and blocks above ", kMaxBlockBytes >> 20, " MiB are refused"));
    }
  }
  auto src = std::make_unique<GdalSource>(path, std::move(bands), std::move(p), bw, bh);
  src->Adopt(h);
  return src;
}

}  // namespace eoscale::io
