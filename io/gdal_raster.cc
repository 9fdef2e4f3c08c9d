#include "eoscale/io/gdal_raster.h"

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
#include "absl/strings/str_join.h"
#include "cpl_conv.h"
#include "cpl_error.h"
#include "cpl_string.h"
#include "cpl_vsi.h"
#include "gdal.h"
#include "oneapi/tbb/enumerable_thread_specific.h"

namespace eoscale::io {
namespace {

// Collects GDAL's errors for the duration of one call on this thread
// (GDAL's handler stack is per thread). Never reads a global "last error".
class ScopedGdalErrors {
 public:
  ScopedGdalErrors() { CPLPushErrorHandlerEx(&Handler, this); }
  ~ScopedGdalErrors() { CPLPopErrorHandler(); }
  ScopedGdalErrors(const ScopedGdalErrors&) = delete;
  ScopedGdalErrors& operator=(const ScopedGdalErrors&) = delete;

  bool failed() const { return failed_; }
  std::string message() const { return message_.empty() ? "unknown GDAL error" : message_; }

 private:
  static void CPL_STDCALL Handler(CPLErr level, CPLErrorNum, const char* msg) {
    auto* self = static_cast<ScopedGdalErrors*>(CPLGetErrorHandlerUserData());
    if (level >= CE_Failure) {
      self->failed_ = true;
      if (!self->message_.empty()) self->message_ += "; ";
      self->message_ += msg;
    }
  }
  bool failed_ = false;
  std::string message_;
};

absl::StatusOr<PixelType> FromGdal(GDALDataType t, bool signed_byte) {
  switch (t) {
    case GDT_Byte: return signed_byte ? PixelType::kI8 : PixelType::kU8;
    case GDT_UInt16: return PixelType::kU16;
    case GDT_Int16: return PixelType::kI16;
    case GDT_UInt32: return PixelType::kU32;
    case GDT_Int32: return PixelType::kI32;
    case GDT_Float32: return PixelType::kF32;
    case GDT_Float64: return PixelType::kF64;
    default:
      return absl::UnimplementedError(
          absl::StrCat("unsupported pixel type ", GDALGetDataTypeName(t)));
  }
}

GDALDataType ToGdal(PixelType t) {
  switch (t) {
    case PixelType::kU8:
    case PixelType::kI8: return GDT_Byte;  // GDAL 3.6: signed bytes are tagged Byte
    case PixelType::kU16: return GDT_UInt16;
    case PixelType::kI16: return GDT_Int16;
    case PixelType::kU32: return GDT_UInt32;
    case PixelType::kI32: return GDT_Int32;
    case PixelType::kF32: return GDT_Float32;
    case PixelType::kF64: return GDT_Float64;
  }
  return GDT_Unknown;
}

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

std::string Dirname(const std::string& path) {
  std::filesystem::path p(path);
  std::filesystem::path d = p.parent_path();
  return d.empty() ? std::string(".") : d.string();
}

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

  absl::Status Commit() override {
    if (h_ == nullptr) return absl::FailedPreconditionError(absl::StrCat("'", path_, "' is closed"));
    std::lock_guard<std::mutex> lock(SinkMutex());
    ScopedGdalErrors errors;
    GDALFlushCache(h_);
    GDALClose(h_);
    const CPLErr err = CE_None;
    h_ = nullptr;
    if (err != CE_None || errors.failed()) {
      VSIUnlink(tmp_.c_str());
      return absl::DataLossError(absl::StrCat("finishing '", path_, "': ", errors.message()));
    }
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      const int e = errno;
      VSIUnlink(tmp_.c_str());
      return absl::PermissionDeniedError(
          absl::StrCat("cannot move the finished file to '", path_, "': ", std::strerror(e)));
    }
    committed_ = true;
    return absl::OkStatus();
  }

  void Abort() override {
    std::lock_guard<std::mutex> lock(SinkMutex());
    if (h_ != nullptr) {
      ScopedGdalErrors errors;  // swallow: we are dropping the file anyway
      GDALClose(h_);
      h_ = nullptr;
    }
    if (!committed_) {
      VSIUnlink(tmp_.c_str());
      committed_ = true;  // nothing more to clean
    }
  }

 private:
  std::string path_;
  std::string tmp_;
  GDALDatasetH h_;
  Profile profile_;
  int block_w_, block_h_;
  bool direct_blocks_;
  bool committed_ = false;
  std::vector<std::byte> scratch_;
};

}  // namespace

void EnsureGdalInitialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    GDALAllRegister();
    // A bounded block cache until the engine sets its own bound.
    GDALSetCacheMax64(int64_t{16} << 20);
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
