// GDAL's RasterSink: a tiled GeoTIFF written under a temporary name and
// moved into place at Commit.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cpl_conv.h"
#include "cpl_string.h"
#include "cpl_vsi.h"
#include "eoscale/io/gdal_raster.h"
#include "eoscale/io/gdal_util.h"

namespace eoscale::io {
namespace {

using internal::Dirname;
using internal::ScopedGdalErrors;
using internal::ToGdal;

// GDAL's block cache is shared by every dataset. Two sinks writing through
// it at once (RasterIO into partial blocks, flushes on eviction or close)
// have been seen to lose blocks (GDAL issue #2011; TSan sees libtiff copies
// racing on one cache block). Sinks therefore write one at a time; whole
// blocks go straight to the file (GDALWriteBlock) and hold it briefly.
// (std::mutex: Debian's Abseil is not built with TSan, which would not see an
// absl::Mutex.)
std::mutex& SinkMutex() {
  static std::mutex mu;
  return mu;
}

class GeoTiffSink final : public RasterSink {
 public:
  GeoTiffSink(std::string path, std::string tmp, GDALDatasetH h, Profile profile, int bw, int bh,
              bool direct_blocks)
      : path_(std::move(path)), tmp_(std::move(tmp)), h_(h), profile_(std::move(profile)),
        block_w_(bw), block_h_(bh), direct_blocks_(direct_blocks) {}
  ~GeoTiffSink() override { Abort(); }

  const std::string& path() const override { return path_; }

  absl::Status Write(const ConstView& src) override {
    if (h_ == nullptr) return absl::FailedPreconditionError(absl::StrCat("'", path_, "' is closed"));
    std::lock_guard<std::mutex> lock(SinkMutex());
    ScopedGdalErrors errors;
    const Window& w = src.window();
    const int psize = static_cast<int>(PixelSize(profile_.type));
    if (direct_blocks_ && w.x % block_w_ == 0 && w.y % block_h_ == 0 &&
        w.width == std::min(block_w_, profile_.width - w.x) &&
        w.height == std::min(block_h_, profile_.height - w.y)) {
      const bool full = w.width == block_w_ && w.height == block_h_ && src.row_stride() == block_w_;
      if (!full) scratch_.assign(static_cast<size_t>(block_w_) * block_h_ * psize, std::byte{0});
      for (int b = 0; b < src.bands(); ++b) {
        void* block = const_cast<void*>(src.RowPtr(b, 0));
        if (!full) {
          for (int y = 0; y < w.height; ++y) {
            std::memcpy(scratch_.data() + static_cast<size_t>(y) * block_w_ * psize, src.RowPtr(b, y),
                        static_cast<size_t>(w.width) * psize);
          }
          block = scratch_.data();
        }
        if (GDALWriteBlock(GDALGetRasterBand(h_, b + 1), w.x / block_w_, w.y / block_h_, block) !=
            CE_None) {
          return absl::DataLossError(absl::StrCat("writing '", path_, "' at ", DescribeWindow(w), ": ",
                                                  errors.message()));
        }
      }
      return absl::OkStatus();
    }
    GDALRasterIOExtraArg extra;
    INIT_RASTERIO_EXTRA_ARG(extra);
    const CPLErr err = GDALDatasetRasterIOEx(
        h_, GF_Write, w.x, w.y, w.width, w.height, const_cast<void*>(src.data()), w.width, w.height,
        ToGdal(profile_.type), src.bands(), nullptr, psize,
        static_cast<GSpacing>(src.row_stride()) * psize, static_cast<GSpacing>(src.band_stride()) * psize,
        &extra);
    if (err != CE_None || errors.failed()) {
      return absl::DataLossError(
          absl::StrCat("writing '", path_, "' at ", DescribeWindow(w), ": ", errors.message()));
    }
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    if (h_ == nullptr) return absl::FailedPreconditionError(absl::StrCat("'", path_, "' is closed"));
    std::lock_guard<std::mutex> lock(SinkMutex());
    ScopedGdalErrors errors;
    GDALFlushCache(h_);
    GDALClose(h_);
    h_ = nullptr;
    if (errors.failed()) {
      VSIUnlink(tmp_.c_str());
      done_ = true;
      return absl::DataLossError(absl::StrCat("finishing '", path_, "': ", errors.message()));
    }
    return absl::OkStatus();
  }

  // TODO(nothing-lost): keep what the rename replaces until Cleanup, so
  // that Rollback can put it back.
  absl::Status Commit() override {
    if (h_ != nullptr || done_) return absl::FailedPreconditionError(absl::StrCat("'", path_, "' is not finished"));
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      const int e = errno;
      VSIUnlink(tmp_.c_str());
      done_ = true;
      return absl::PermissionDeniedError(
          absl::StrCat("cannot move the finished file to '", path_, "': ", std::strerror(e)));
    }
    done_ = true;
    return absl::OkStatus();
  }
  void Rollback() override {}
  void Cleanup() override {}

  void Abort() override {
    std::lock_guard<std::mutex> lock(SinkMutex());
    if (h_ != nullptr) {
      ScopedGdalErrors errors;  // swallow: we are dropping the file anyway
      GDALClose(h_);
      h_ = nullptr;
    }
    if (!done_) {
      VSIUnlink(tmp_.c_str());
      done_ = true;  // nothing more to clean
    }
  }
  std::string target() const override { return path_; }

 private:
  std::string path_;
  std::string tmp_;
  GDALDatasetH h_;
  Profile profile_;
  int block_w_, block_h_;
  bool direct_blocks_;
  bool done_ = false;  // committed or dropped
  std::vector<std::byte> scratch_;
};

}  // namespace

absl::Status CheckWritable(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("output path is empty");
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("output path '", path, "' is a folder"));
  }
  const std::string dir = Dirname(path);
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("cannot write '", path, "': folder '", dir, "' does not exist"));
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write '", path, "': folder '", dir, "' is not writable"));
  }
  if (::access(path.c_str(), F_OK) == 0 && ::access(path.c_str(), W_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot write '", path, "': the file is read-only"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RasterSink>> CreateGeoTiff(const std::string& path, const Profile& profile,
                                                          int block_width, int block_height,
                                                          const std::vector<std::string>& options) {
  EnsureGdalInitialized();
  if (absl::Status s = CheckWritable(path); !s.ok()) return s;
  static std::atomic<int> counter{0};
  const std::filesystem::path p(path);
  const std::string tmp = (std::filesystem::path(Dirname(path)) /
                           absl::StrCat(".", p.filename().string(), ".tmp-", ::getpid(), "-", counter++))
                              .string();
  GDALDriverH driver = GDALGetDriverByName("GTiff");
  const bool strips = block_width >= profile.width;
  bool direct = false;
  char** opts = nullptr;
  if (strips) {
    block_width = profile.width;
    block_height = std::max(1, std::min(block_height, profile.height));
    opts = CSLSetNameValue(opts, "BLOCKYSIZE", absl::StrCat(block_height).c_str());
    direct = true;
  } else {
    if (block_width % 16 != 0 || block_height % 16 != 0) {
      block_width = block_height = 256;
    } else {
      direct = true;
    }
    opts = CSLSetNameValue(opts, "TILED", "YES");
    opts = CSLSetNameValue(opts, "BLOCKXSIZE", absl::StrCat(block_width).c_str());
    opts = CSLSetNameValue(opts, "BLOCKYSIZE", absl::StrCat(block_height).c_str());
  }
  if (profile.bands > 1) opts = CSLSetNameValue(opts, "INTERLEAVE", "BAND");
  if (profile.type == PixelType::kI8) opts = CSLSetNameValue(opts, "PIXELTYPE", "SIGNEDBYTE");
  bool user_layout = false;
  auto apply = [&](const std::vector<std::string>& list) {
    for (const std::string& o : list) {
      char* key = nullptr;
      const char* value = CPLParseNameValue(o.c_str(), &key);
      if (key != nullptr && value != nullptr) {
        const std::string k = key;
        if (k == "TILED" || k == "BLOCKXSIZE" || k == "BLOCKYSIZE" || k == "INTERLEAVE") user_layout = true;
        opts = CSLSetNameValue(opts, key, value);
      }
      CPLFree(key);
    }
  };
  apply(profile.writer_options);
  apply(options);
  if (user_layout) direct = false;  // the layout is the user's: go through RasterIO
  ScopedGdalErrors errors;
  GDALDatasetH h = GDALCreate(driver, tmp.c_str(), profile.width, profile.height, profile.bands,
                              ToGdal(profile.type), opts);
  CSLDestroy(opts);
  if (h == nullptr) {
    VSIUnlink(tmp.c_str());
    return absl::PermissionDeniedError(absl::StrCat("cannot create '", path, "': ", errors.message()));
  }
  double gt6[6];
  for (int i = 0; i < 6; ++i) gt6[i] = profile.geotransform[i];
  GDALSetGeoTransform(h, gt6);
  if (!profile.crs_wkt.empty()) GDALSetProjection(h, profile.crs_wkt.c_str());
  if (profile.nodata) {
    for (int b = 1; b <= profile.bands; ++b) GDALSetRasterNoDataValue(GDALGetRasterBand(h, b), *profile.nodata);
  }
  if (errors.failed()) {
    GDALClose(h);
    VSIUnlink(tmp.c_str());
    return absl::InvalidArgumentError(absl::StrCat("cannot set up '", path, "': ", errors.message()));
  }
  return std::unique_ptr<RasterSink>(
      new GeoTiffSink(path, tmp, h, profile, block_width, block_height, direct));
}

}  // namespace eoscale::io
