#include "test_util.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>

#include "../examples/s2_like/synthetic_dsm.h"
#include "cpl_conv.h"
#include "cpl_string.h"
#include "eoscale/io/gdal_raster.h"
#include "gdal.h"
#include "gdal_utils.h"
#include "gtest/gtest.h"
#include "ogr_srs_api.h"

namespace eoscale::testing {

std::string EpsgWkt(int epsg) {
  io::EnsureGdalInitialized();
  OGRSpatialReferenceH srs = OSRNewSpatialReference(nullptr);
  char* text = nullptr;
  std::string wkt;
  if (OSRImportFromEPSG(srs, epsg) == OGRERR_NONE && OSRExportToWkt(srs, &text) == OGRERR_NONE) wkt = text;
  CPLFree(text);
  OSRDestroySpatialReference(srs);
  return wkt;
}

std::string DsmPath() {
  // Built on first use; the folder goes with the process (static storage),
  // and only with the process that made it (a forked child exiting normally
  // must not remove its parent's file).
  static const struct Dsm {
    pid_t owner = ::getpid();
    TempDir dir;
    std::string path = dir.File("dsm.tif");
    Dsm() {
      const absl::Status s = examples::MakeSyntheticDsm(path, kDsmSide, kDsmSide, 1, EpsgWkt(32631));
      if (!s.ok()) throw std::runtime_error("cannot generate the test DSM: " + s.ToString());
    }
    ~Dsm() {
      if (::getpid() != owner) dir.Keep();
    }
  } dsm;
  return dsm.path;
}

TempDir::TempDir() {
  char templ[] = "/tmp/eoscale-test-XXXXXX";
  if (::mkdtemp(templ) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> TempDir::List() const {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(path_)) out.push_back(e.path().filename().string());
  return out;
}

Array RandomArray(const Profile& profile, uint64_t seed) {
  Array a(profile);
  std::mt19937_64 rng(seed);
  DispatchPixelType(profile.type, [&]<typename T>() {
    auto s = a.MutableSamples<T>();
    if constexpr (std::is_floating_point_v<T>) {
      std::uniform_real_distribution<double> d(-1000.0, 1000.0);
      for (auto& v : s) v = static_cast<T>(d(rng));
    } else {
      std::uniform_int_distribution<int64_t> d(std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
      for (auto& v : s) v = static_cast<T>(d(rng));
    }
  });
  return a;
}

namespace {
GDALDataType ToGdal(PixelType t) {
  switch (t) {
    case PixelType::kU8:
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
}  // namespace

void WriteTiff(const Array& array, const std::string& path, int block) {
  io::EnsureGdalInitialized();
  const Profile& p = array.profile();
  char** opts = nullptr;
  opts = CSLSetNameValue(opts, "TILED", "YES");
  opts = CSLSetNameValue(opts, "BLOCKXSIZE", std::to_string(block).c_str());
  opts = CSLSetNameValue(opts, "BLOCKYSIZE", std::to_string(block).c_str());
  if (p.type == PixelType::kI8) opts = CSLSetNameValue(opts, "PIXELTYPE", "SIGNEDBYTE");
  GDALDatasetH h = GDALCreate(GDALGetDriverByName("GTiff"), path.c_str(), p.width, p.height, p.bands,
                              ToGdal(p.type), opts);
  CSLDestroy(opts);
  if (h == nullptr) throw std::runtime_error("cannot create " + path);
  double gt[6];
  for (int i = 0; i < 6; ++i) gt[i] = p.geotransform[i];
  GDALSetGeoTransform(h, gt);
  if (!p.crs_wkt.empty()) GDALSetProjection(h, p.crs_wkt.c_str());
  if (p.nodata) {
    for (int b = 1; b <= p.bands; ++b) GDALSetRasterNoDataValue(GDALGetRasterBand(h, b), *p.nodata);
  }
  const int ps = static_cast<int>(PixelSize(p.type));
  if (GDALDatasetRasterIO(h, GF_Write, 0, 0, p.width, p.height, const_cast<void*>(array.data()), p.width, p.height,
                          ToGdal(p.type), p.bands, nullptr, ps, static_cast<GSpacing>(p.width) * ps,
                          static_cast<GSpacing>(p.width) * p.height * ps) != CE_None) {
    GDALClose(h);
    throw std::runtime_error("cannot write " + path);
  }
  GDALClose(h);
}

Array ReadTiff(const std::string& path) {
  auto src = io::OpenRaster(path);
  if (!src.ok()) throw std::runtime_error(std::string(src.status().message()));
  Array a((*src)->profile());
  absl::Status s = (*src)->Read(a.mutable_view());
  if (!s.ok()) throw std::runtime_error(std::string(s.message()));
  return a;
}

bool SameBytes(const Array& a, const Array& b) {
  return a.profile().width == b.profile().width && a.profile().height == b.profile().height &&
         a.profile().bands == b.profile().bands && a.profile().type == b.profile().type && a.bytes() == b.bytes() &&
         std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

std::string GdalBuildVrt(const std::string& vrt, const std::vector<std::string>& files,
                         const std::vector<std::string>& args) {
  GDALAllRegister();
  CPLStringList argv;
  for (const std::string& a : args) argv.AddString(a.c_str());
  GDALBuildVRTOptions* o = GDALBuildVRTOptionsNew(argv.List(), nullptr);
  std::vector<const char*> names;
  for (const std::string& f : files) names.push_back(f.c_str());
  int usage_error = 0;
  GDALDatasetH h = o == nullptr ? nullptr
                                : GDALBuildVRT(vrt.c_str(), static_cast<int>(names.size()), nullptr, names.data(), o,
                                               &usage_error);
  if (o != nullptr) GDALBuildVRTOptionsFree(o);
  if (h == nullptr) ADD_FAILURE() << "gdalbuildvrt " << vrt << " failed";
  if (h != nullptr) GDALClose(h);
  return vrt;
}

void GdalWarp(const std::string& in, const std::string& out, const std::vector<std::string>& args) {
  GDALAllRegister();
  CPLStringList argv;
  for (const std::string& a : args) argv.AddString(a.c_str());
  argv.AddString("-et");
  argv.AddString("0");
  GDALWarpAppOptions* o = GDALWarpAppOptionsNew(argv.List(), nullptr);
  if (o == nullptr) {
    ADD_FAILURE() << "bad gdalwarp options";
    return;
  }
  GDALDatasetH src = GDALOpen(in.c_str(), GA_ReadOnly);
  GDALDatasetH dst = nullptr;
  if (src != nullptr) {
    int usage_error = 0;
    dst = GDALWarp(out.c_str(), nullptr, 1, &src, o, &usage_error);
  }
  GDALWarpAppOptionsFree(o);
  if (src == nullptr || dst == nullptr) ADD_FAILURE() << "gdalwarp " << in << " -> " << out << " failed";
  if (dst != nullptr) GDALClose(dst);
  if (src != nullptr) GDALClose(src);
}

}  // namespace eoscale::testing
