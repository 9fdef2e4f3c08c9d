#include "eoscale/io/aligned_source.h"

#include <sys/stat.h>

#include <array>
#include <cmath>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cpl_conv.h"
#include "cpl_error.h"
#include "cpl_string.h"
#include "eoscale/io/gdal_util.h"
#include "gdal.h"
#include "gdal_alg.h"
#include "gdalwarper.h"
#include "ogr_srs_api.h"

namespace eoscale::io {

namespace {

using internal::FromGdal;
using internal::ScopedGdalErrors;
using internal::ToGdal;

// One source dataset and its warped VRT onto the grid.
struct Handle {
  GDALDatasetH source = nullptr;
  GDALDatasetH vrt = nullptr;
  ~Handle() {
    if (vrt != nullptr) GDALClose(vrt);
    if (source != nullptr) GDALClose(source);
  }
};

class AlignedSource : public RasterSource {
 public:
  AlignedSource(std::string path, std::vector<int> bands, Profile profile, int resampling)
      : path_(std::move(path)), bands_(std::move(bands)), profile_(std::move(profile)), resampling_(resampling) {
    struct stat st = {};
    if (::stat(path_.c_str(), &st) == 0) {
      size_ = st.st_size;
      mtime_ns_ = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    }
  }

  // Opens one handle (also the first, whose figures the profile takes).
  absl::StatusOr<std::unique_ptr<Handle>> MakeHandle() const {
    ScopedGdalErrors errors;
    auto h = std::make_unique<Handle>();
    h->source = GDALOpenEx(path_.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr);
    if (h->source == nullptr) return absl::NotFoundError(absl::StrCat("cannot open '", path_, "': ", errors.message()));
    GDALWarpOptions* wo = GDALCreateWarpOptions();
    wo->hSrcDS = h->source;
    wo->eResampleAlg = static_cast<GDALResampleAlg>(resampling_);
    wo->nBandCount = static_cast<int>(bands_.size());
    wo->panSrcBands = static_cast<int*>(CPLMalloc(sizeof(int) * bands_.size()));
    wo->panDstBands = static_cast<int*>(CPLMalloc(sizeof(int) * bands_.size()));
    for (size_t i = 0; i < bands_.size(); ++i) {
      wo->panSrcBands[i] = bands_[i];
      wo->panDstBands[i] = static_cast<int>(i) + 1;
    }
    if (profile_.nodata) {
      wo->padfSrcNoDataReal = static_cast<double*>(CPLMalloc(sizeof(double) * bands_.size()));
      wo->padfDstNoDataReal = static_cast<double*>(CPLMalloc(sizeof(double) * bands_.size()));
      for (size_t i = 0; i < bands_.size(); ++i) wo->padfSrcNoDataReal[i] = wo->padfDstNoDataReal[i] = *profile_.nodata;
      wo->papszWarpOptions = CSLSetNameValue(wo->papszWarpOptions, "INIT_DEST", "NO_DATA");
    } else {
      wo->papszWarpOptions = CSLSetNameValue(wo->papszWarpOptions, "INIT_DEST", "0");
    }
    char** to = CSLSetNameValue(nullptr, "DST_SRS", profile_.crs_wkt.c_str());
    wo->pTransformerArg = GDALCreateGenImgProjTransformer2(h->source, nullptr, to);
    CSLDestroy(to);
    if (wo->pTransformerArg == nullptr) {
      GDALDestroyWarpOptions(wo);
      return absl::InvalidArgumentError(absl::StrCat("cannot align '", path_, "': ", errors.message()));
    }
    std::array<double, 6> gt = profile_.geotransform;
    GDALSetGenImgProjTransformerDstGeoTransform(wo->pTransformerArg, gt.data());
    wo->pfnTransformer = GDALGenImgProjTransform;
    h->vrt = GDALCreateWarpedVRT(h->source, profile_.width, profile_.height, gt.data(), wo);
    if (h->vrt == nullptr) {
      GDALDestroyGenImgProjTransformer(wo->pTransformerArg);
      GDALDestroyWarpOptions(wo);
      return absl::InvalidArgumentError(absl::StrCat("cannot align '", path_, "': ", errors.message()));
    }
    // The VRT owns the options (and destroys the transformer) from here on.
    GDALDestroyWarpOptions(wo);
    GDALSetProjection(h->vrt, profile_.crs_wkt.c_str());
    return h;
  }

  const Profile& profile() const override { return profile_; }
  int block_width() const override { return block_width_; }
  int block_height() const override { return block_height_; }
  const std::string& description() const override { return path_; }
  std::vector<std::string> files() const override { return {path_}; }

  absl::Status Read(const View& dst) override {
    std::unique_ptr<Handle> h;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!free_.empty()) {
        h = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (h == nullptr) {
      absl::StatusOr<std::unique_ptr<Handle>> made = MakeHandle();
      if (!made.ok()) return made.status();
      h = *std::move(made);
    }
    const Window& w = dst.window();
    const int64_t px = static_cast<int64_t>(PixelSize(dst.type()));
    ScopedGdalErrors errors;
    const CPLErr e = GDALDatasetRasterIOEx(h->vrt, GF_Read, w.x, w.y, w.width, w.height, dst.data(), w.width, w.height,
                                           ToGdal(dst.type()), dst.bands(), nullptr, px, dst.row_stride() * px,
                                           dst.band_stride() * px, nullptr);
    {
      std::lock_guard<std::mutex> l(mu_);
      free_.push_back(std::move(h));
    }
    if (e != CE_None) {
      return absl::DataLossError(
          absl::StrCat("reading '", path_, "' aligned, window ", DescribeWindow(w), ": ", errors.message()));
    }
    return absl::OkStatus();
  }

  absl::Status CheckUnchanged() override {
    struct stat st = {};
    if (::stat(path_.c_str(), &st) != 0 || st.st_size != size_ ||
        static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec != mtime_ns_) {
      return absl::DataLossError(absl::StrCat("'", path_, "' changed during the run"));
    }
    return absl::OkStatus();
  }

  void Adopt(std::unique_ptr<Handle> h) {
    GDALGetBlockSize(GDALGetRasterBand(h->vrt, 1), &block_width_, &block_height_);
    std::lock_guard<std::mutex> l(mu_);
    free_.push_back(std::move(h));
  }

 private:
  const std::string path_;
  const std::vector<int> bands_;
  const Profile profile_;
  const int resampling_;
  int64_t size_ = -1;
  int64_t mtime_ns_ = -1;
  int block_width_ = 256;
  int block_height_ = 256;
  std::mutex mu_;
  std::vector<std::unique_ptr<Handle>> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<int> ParseResampling(const std::string& name) {
  // clang-format off
  static const std::pair<const char*, GDALResampleAlg> kNames[] = {
      {"nearest", GRA_NearestNeighbour}, {"bilinear", GRA_Bilinear}, {"cubic", GRA_Cubic},
      {"cubicspline", GRA_CubicSpline},  {"lanczos", GRA_Lanczos},   {"average", GRA_Average},
      {"mode", GRA_Mode},                {"min", GRA_Min},           {"max", GRA_Max},
      {"med", GRA_Med},                  {"q1", GRA_Q1},             {"q3", GRA_Q3},
      {"sum", GRA_Sum},                  {"rms", GRA_RMS}};
  // clang-format on
  const std::string n = absl::AsciiStrToLower(name);
  for (const auto& [k, v] : kNames) {
    if (n == k) return static_cast<int>(v);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown resampling '", name,
      "' (nearest, bilinear, cubic, cubicspline, lanczos, average, mode, min, max, med, q1, q3, sum, rms)"));
}

absl::StatusOr<std::shared_ptr<RasterSource>> OpenAligned(const std::string& path, std::vector<int> bands,
                                                          const Profile& grid, const std::string& resampling_name) {
  absl::StatusOr<int> resampling = ParseResampling(resampling_name);
  if (!resampling.ok()) return resampling.status();
  if (!grid.HasGeotransform() || grid.crs_wkt.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot align '", path, "': the reference grid has no geotransform or CRS"));
  }
  ScopedGdalErrors errors;
  GDALDatasetH ds = GDALOpenEx(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr);
  if (ds == nullptr) return absl::NotFoundError(absl::StrCat("cannot open '", path, "': ", errors.message()));
  const int count = GDALGetRasterCount(ds);
  if (bands.empty()) {
    for (int b = 1; b <= count; ++b) bands.push_back(b);
  }
  for (int b : bands) {
    if (b < 1 || b > count) {
      GDALClose(ds);
      return absl::InvalidArgumentError(
          absl::StrCat("band ", b, " of '", path, "' does not exist (the file has ", count, " bands)"));
    }
  }
  const char* wkt = GDALGetProjectionRef(ds);
  double gt[6];
  const bool georef = GDALGetGeoTransform(ds, gt) == CE_None && wkt != nullptr && *wkt != '\0';
  GDALRasterBandH band = GDALGetRasterBand(ds, bands[0]);
  const char* pixeltype = GDALGetMetadataItem(band, "PIXELTYPE", "IMAGE_STRUCTURE");
  const bool signed_byte = pixeltype != nullptr && std::string(pixeltype) == "SIGNEDBYTE";
  absl::StatusOr<PixelType> type = FromGdal(GDALGetRasterDataType(band), signed_byte);
  int has_nodata = 0;
  const double nodata = GDALGetRasterNoDataValue(band, &has_nodata);
  GDALClose(ds);
  if (!georef) {
    return absl::InvalidArgumentError(absl::StrCat("cannot align '", path, "': it has no geotransform or no CRS"));
  }
  if (!type.ok()) return absl::Status(type.status().code(), absl::StrCat("'", path, "': ", type.status().message()));
  if (*type == PixelType::kI8) {
    return absl::InvalidArgumentError(absl::StrCat("cannot align '", path, "': signed bytes are not supported"));
  }
  Profile p;
  p.width = grid.width;
  p.height = grid.height;
  p.geotransform = grid.geotransform;
  p.crs_wkt = grid.crs_wkt;
  p.bands = static_cast<int>(bands.size());
  p.type = *type;
  if (has_nodata) p.nodata = nodata;
  auto source = std::make_shared<AlignedSource>(path, std::move(bands), p, *resampling);
  absl::StatusOr<std::unique_ptr<Handle>> first = source->MakeHandle();
  if (!first.ok()) return first.status();
  source->Adopt(*std::move(first));
  return source;
}

absl::StatusOr<Profile> GridFromExtent(double xmin, double ymin, double xmax, double ymax, double xres, double yres,
                                       const std::string& crs) {
  if (!(xres > 0) || !(yres > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("a grid's resolution must be positive, got ", xres, " x ", yres));
  }
  // gdalwarp's rule (-te with -tr): whole pixels, halves rounded up.
  const double w = std::floor((xmax - xmin + xres / 2) / xres);
  const double h = std::floor((ymax - ymin + yres / 2) / yres);
  if (!(w >= 1) || !(h >= 1) || w > (1 << 30) || h > (1 << 30)) {
    return absl::InvalidArgumentError(absl::StrCat("the extent ", xmin, ",", ymin, ",", xmax, ",", ymax,
                                                   " holds no whole pixel of ", xres, " x ", yres,
                                                   " (or more than 2^30 a side)"));
  }
  ScopedGdalErrors errors;
  OGRSpatialReferenceH srs = OSRNewSpatialReference(nullptr);
  char* wkt = nullptr;
  const bool ok = OSRSetFromUserInput(srs, crs.c_str()) == OGRERR_NONE && OSRExportToWkt(srs, &wkt) == OGRERR_NONE;
  Profile p;
  if (ok) p.crs_wkt = wkt;
  CPLFree(wkt);
  OSRDestroySpatialReference(srs);
  if (!ok || p.crs_wkt.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown CRS '", crs, "': ", errors.message()));
  }
  p.width = static_cast<int>(w);
  p.height = static_cast<int>(h);
  p.bands = 1;
  p.type = PixelType::kU8;
  p.geotransform = {xmin, xres, 0.0, ymax, 0.0, -yres};
  return p;
}

}  // namespace eoscale::io
