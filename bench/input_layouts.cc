#include "input_layouts.h"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cpl_error.h"
#include "eoscale/io/gdal_util.h"
#include "gdal_priv.h"
#include "gdal_utils.h"
#include "ogr_spatialref.h"

namespace eoscale::bench {
namespace {

namespace fs = std::filesystem;

using GdalErrors = io::internal::ScopedGdalErrors;  // GDAL's errors during one call on this thread

absl::Status CreateDir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

// Moves the complete `tmp` to `out` (and drops a side-car GDAL may have left).
absl::Status Publish(const std::string& tmp, const std::string& out) {
  std::error_code ec;
  fs::remove(tmp + ".aux.xml", ec);
  fs::rename(tmp, out, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot rename ", tmp, " to ", out, ": ", ec.message()));
  return absl::OkStatus();
}

// gdal_translate `in` `out` with `args` (gdal_translate's command-line
// options), through `out`.part; nothing if `out` exists.
absl::Status TranslateOnce(const std::string& in, const std::string& out, std::vector<std::string> args) {
  if (fs::exists(out)) return absl::OkStatus();
  GDALAllRegister();
  const std::string tmp = out + ".part";
  std::vector<char*> argv;
  args.insert(args.begin(), "-q");
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  GdalErrors errors;
  GDALTranslateOptions* opts = GDALTranslateOptionsNew(argv.data(), nullptr);
  if (opts == nullptr) return absl::InvalidArgumentError(absl::StrCat("translate options: ", errors.message()));
  GDALDatasetH src = GDALOpen(in.c_str(), GA_ReadOnly);
  GDALDatasetH dst = src != nullptr ? GDALTranslate(tmp.c_str(), src, opts, nullptr) : nullptr;
  GDALTranslateOptionsFree(opts);
  if (src != nullptr) GDALClose(src);
  if (dst == nullptr) {
    std::error_code ec;
    fs::remove(tmp, ec);
    return absl::UnavailableError(absl::StrCat("cannot copy ", in, " to ", tmp, ": ", errors.message()));
  }
  GDALClose(dst);
  return Publish(tmp, out);
}

absl::Status CopiesWith(const std::vector<std::string>& dates, const std::string& dir,
                        const std::vector<std::string>& args) {
  if (absl::Status s = CreateDir(dir); !s.ok()) return s;
  for (const std::string& in : dates) {
    const std::string out = (fs::path(dir) / fs::path(in).filename()).string();
    if (absl::Status s = TranslateOnce(in, out, args); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// One simple source of a VRT band: the whole of band `band` of `path`
// (`width` x `height`) placed at (x, y).
struct VrtSource {
  std::string path;
  int band = 1;
  int width = 0, height = 0;
  int x = 0, y = 0;
};

struct VrtBand {
  GDALDataType type = GDT_Unknown;
  bool has_nodata = false;
  double nodata = 0;
  std::vector<VrtSource> sources;
};

// Writes a VRT of `width` x `height` with `bands` to `out` through a
// temporary name. Source paths are written relative to `out`'s folder.
absl::Status WriteVrt(const std::string& out, int width, int height, const std::array<double, 6>& gt,
                      const std::string& srs_wkt, const std::vector<VrtBand>& bands) {
  const fs::path dir = fs::path(out).parent_path();
  std::string xml = absl::StrFormat("<VRTDataset rasterXSize=\"%d\" rasterYSize=\"%d\">\n", width, height);
  if (!srs_wkt.empty()) absl::StrAppend(&xml, "  <SRS>", XmlEscape(srs_wkt), "</SRS>\n");
  absl::StrAppend(&xml, absl::StrFormat("  <GeoTransform>%.17g, %.17g, %.17g, %.17g, %.17g, %.17g</GeoTransform>\n",
                                        gt[0], gt[1], gt[2], gt[3], gt[4], gt[5]));
  for (size_t b = 0; b < bands.size(); ++b) {
    const VrtBand& band = bands[b];
    absl::StrAppend(&xml, absl::StrFormat("  <VRTRasterBand dataType=\"%s\" band=\"%d\">\n",
                                          GDALGetDataTypeName(band.type), b + 1));
    if (band.has_nodata) absl::StrAppend(&xml, absl::StrFormat("    <NoDataValue>%.17g</NoDataValue>\n", band.nodata));
    for (const VrtSource& s : band.sources) {
      const std::string rel = fs::path(s.path).lexically_proximate(dir).string();
      absl::StrAppend(&xml, "    <SimpleSource>\n", "      <SourceFilename relativeToVRT=\"1\">", XmlEscape(rel),
                      "</SourceFilename>\n",
                      absl::StrFormat("      <SourceBand>%d</SourceBand>\n"
                                      "      <SrcRect xOff=\"0\" yOff=\"0\" xSize=\"%d\" ySize=\"%d\" />\n"
                                      "      <DstRect xOff=\"%d\" yOff=\"%d\" xSize=\"%d\" ySize=\"%d\" />\n",
                                      s.band, s.width, s.height, s.x, s.y, s.width, s.height),
                      "    </SimpleSource>\n");
    }
    absl::StrAppend(&xml, "  </VRTRasterBand>\n");
  }
  absl::StrAppend(&xml, "</VRTDataset>\n");
  const std::string tmp = out + ".part";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << xml;
    f.close();
    if (!f) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  return Publish(tmp, out);
}

// What a VRT over `path` must carry over.
struct RasterInfo {
  int width = 0, height = 0;
  std::array<double, 6> gt = {0, 1, 0, 0, 0, 1};
  std::string srs_wkt;
  std::vector<VrtBand> bands;  // type and nodata, no sources
};

absl::StatusOr<RasterInfo> Describe(const std::string& path) {
  GDALAllRegister();
  GdalErrors errors;
  std::unique_ptr<GDALDataset> ds(GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (ds == nullptr) return absl::UnavailableError(absl::StrCat("cannot open ", path, ": ", errors.message()));
  RasterInfo info;
  info.width = ds->GetRasterXSize();
  info.height = ds->GetRasterYSize();
  if (ds->GetGeoTransform(info.gt.data()) != CE_None) info.gt = {0, 1, 0, 0, 0, 1};
  if (const OGRSpatialReference* srs = ds->GetSpatialRef(); srs != nullptr) {
    char* wkt = nullptr;
    if (srs->exportToWkt(&wkt) == OGRERR_NONE && wkt != nullptr) info.srs_wkt = wkt;
    CPLFree(wkt);
  }
  for (int b = 1; b <= ds->GetRasterCount(); ++b) {
    GDALRasterBand* band = ds->GetRasterBand(b);
    VrtBand v;
    v.type = band->GetRasterDataType();
    int has = 0;
    v.nodata = band->GetNoDataValue(&has);
    v.has_nodata = has != 0;
    info.bands.push_back(v);
  }
  return info;
}

}  // namespace

absl::Status PixelInterleavedCopies(const std::vector<std::string>& dates, const std::string& dir) {
  return CopiesWith(dates, dir, {"-of", "GTiff", "-co", "TILED=YES", "-co", "INTERLEAVE=PIXEL"});
}

absl::Status DeflateCopies(const std::vector<std::string>& dates, const std::string& dir) {
  return CopiesWith(dates, dir,
                    {"-of", "GTiff", "-co", "TILED=YES", "-co", "BLOCKXSIZE=256", "-co", "BLOCKYSIZE=256", "-co",
                     "COMPRESS=DEFLATE", "-co", "PREDICTOR=2", "-co", "INTERLEAVE=BAND"});
}

std::string Jp2BandPath(const std::string& vrt, int band) {
  const fs::path p(vrt);
  return (p.parent_path() / absl::StrCat(p.stem().string(), "_b", band, ".jp2")).string();
}

absl::Status Jp2Copies(const std::vector<std::string>& dates, const std::string& dir) {
  if (absl::Status s = CreateDir(dir); !s.ok()) return s;
  GDALAllRegister();
  if (GDALGetDriverByName("JP2OpenJPEG") == nullptr) {
    return absl::UnimplementedError("GDAL has no JP2OpenJPEG driver (libopenjp2)");
  }
  for (const std::string& in : dates) {
    const std::string vrt = (fs::path(dir) / fs::path(in).filename().replace_extension(".vrt")).string();
    if (fs::exists(vrt)) continue;
    absl::StatusOr<RasterInfo> info = Describe(in);
    if (!info.ok()) return info.status();
    std::vector<VrtBand> bands = info->bands;
    for (size_t b = 0; b < bands.size(); ++b) {
      const int band = static_cast<int>(b) + 1;
      const std::string jp2 = Jp2BandPath(vrt, band);
      // s2_l2a_like.cc's options (NBITS=15 left out: these bands are int16).
      absl::Status s = TranslateOnce(in, jp2,
                                     {"-of", "JP2OpenJPEG", "-b", absl::StrCat(band), "-co", "CODEC=JP2", "-co",
                                      "REVERSIBLE=YES", "-co", "QUALITY=100", "-co", "BLOCKXSIZE=1024", "-co",
                                      "BLOCKYSIZE=1024", "-co", "GMLJP2=YES"});
      if (!s.ok()) return s;
      bands[b].sources.push_back({jp2, 1, info->width, info->height, 0, 0});
    }
    if (absl::Status s = WriteVrt(vrt, info->width, info->height, info->gt, info->srs_wkt, bands); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status WriteMosaicVrt(const std::string& source, const std::string& out) {
  if (fs::exists(out)) return absl::OkStatus();
  if (absl::Status s = CreateDir(fs::path(out).parent_path().string()); !s.ok()) return s;
  absl::StatusOr<RasterInfo> info = Describe(source);
  if (!info.ok()) return info.status();
  const int w = info->width, h = info->height;
  std::vector<VrtBand> bands = info->bands;
  for (size_t b = 0; b < bands.size(); ++b) {
    for (const auto& [x, y] : {std::pair{0, 0}, std::pair{w, 0}, std::pair{0, h}, std::pair{w, h}}) {
      bands[b].sources.push_back({source, static_cast<int>(b) + 1, w, h, x, y});
    }
  }
  return WriteVrt(out, 2 * w, 2 * h, info->gt, info->srs_wkt, bands);
}

}  // namespace eoscale::bench
