#include "s2_l2a_like.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cpl_string.h"
#include "eoscale/io/gdal_util.h"
#include "gdal_priv.h"
#include "s2_like.h"

namespace eoscale::examples {
namespace {

using io::internal::ScopedGdalErrors;

constexpr char kMarkerKey[] = "EOSCALE_S2_L2A_LIKE";
constexpr int kVersion = 2;      // bump when the content changes
constexpr int kOffset = 1000;    // L2A: DN = reflectance x 10000 + 1000
constexpr int kStripRows = 512;  // 10 m rows per strip (even)

// Removes a folder tree when it goes out of scope.
struct RemoveOnExit {
  std::string path;
  ~RemoveOnExit() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string DateName(int date) {
  using namespace std::chrono;
  const year_month_day d{sys_days{year{2023} / June / 5} + days{10 * (date - 1)}};
  return absl::StrFormat("%04d%02u%02u", static_cast<int>(d.year()), static_cast<unsigned>(d.month()),
                         static_cast<unsigned>(d.day()));
}

std::string Marker(int size, int date, uint32_t seed, const char* band) {
  return absl::StrFormat("s2_l2a_like v%d seed=%u size=%d date=%d band=%s", kVersion, seed, size, date, band);
}

bool IsComplete(const std::string& path, const std::string& marker) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  ScopedGdalErrors quiet;
  const char* const drivers[] = {"JP2OpenJPEG", nullptr};
  std::unique_ptr<GDALDataset> ds(
      GDALDataset::Open(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, drivers, nullptr, nullptr));
  if (ds == nullptr) return false;
  const char* m = ds->GetMetadataItem(kMarkerKey);
  return m != nullptr && marker == m;
}

// An uncompressed UInt16 GeoTIFF for one band, with the product's metadata.
absl::StatusOr<std::unique_ptr<GDALDataset>> CreateBand(const std::string& path, int size, double pixel,
                                                        const std::string& band, const std::string& marker) {
  ScopedGdalErrors errors;
  GDALDriver* gtiff = GetGDALDriverManager()->GetDriverByName("GTiff");
  CPLStringList o;
  o.SetNameValue("TILED", "YES");
  o.SetNameValue("BLOCKXSIZE", "512");
  o.SetNameValue("BLOCKYSIZE", "512");
  std::unique_ptr<GDALDataset> ds(gtiff == nullptr ? nullptr
                                                   : gtiff->Create(path.c_str(), size, size, 1, GDT_UInt16, o.List()));
  if (ds == nullptr) return absl::UnavailableError(absl::StrCat("cannot create '", path, "': ", errors.message()));
  double gt[6] = {399960.0, pixel, 0.0, 5000040.0, 0.0, -pixel};
  ds->SetGeoTransform(gt);
  OGRSpatialReference srs;
  srs.importFromEPSG(32630);
  ds->SetSpatialRef(&srs);
  ds->SetMetadataItem(kMarkerKey, marker.c_str());
  ds->SetMetadataItem("BAND_NAME", band.c_str());
  ds->SetMetadataItem("SPATIAL_RESOLUTION", absl::StrCat(static_cast<int>(pixel)).c_str());
  ds->SetMetadataItem("BOA_QUANTIFICATION_VALUE", "10000");
  ds->SetMetadataItem("BOA_ADD_OFFSET", "-1000");
  ds->GetRasterBand(1)->SetDescription(band.c_str());
  return ds;
}

uint16_t ToDn(float reflectance_x10000) {
  return static_cast<uint16_t>(std::lround(std::clamp(reflectance_x10000, 0.0f, 10000.0f)) + kOffset);
}

// B03, B08 (10 m) and B11 (20 m) of one make_s2_like date (B, G, R, NIR
// int16 reflectance x 10000), strip by strip.
absl::Status DeriveBands(const std::string& tif, int size, GDALDataset* b03, GDALDataset* b08, GDALDataset* b11) {
  ScopedGdalErrors errors;
  std::unique_ptr<GDALDataset> in(GDALDataset::Open(tif.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY));
  if (in == nullptr) return absl::UnavailableError(absl::StrCat("cannot open '", tif, "': ", errors.message()));
  const int half = (size + 1) / 2;
  std::vector<int16_t> g, r, n;
  std::vector<uint16_t> out, swir;
  for (int y0 = 0; y0 < size; y0 += kStripRows) {
    const int rows = std::min(kStripRows, size - y0);
    const size_t count = static_cast<size_t>(rows) * size;
    g.resize(count);
    r.resize(count);
    n.resize(count);
    out.resize(count);
    bool ok = true;
    int16_t* bands[3] = {g.data(), r.data(), n.data()};
    for (int b = 0; b < 3 && ok; ++b) {
      ok = in->GetRasterBand(b + 2)->RasterIO(GF_Read, 0, y0, size, rows, bands[b], size, rows, GDT_Int16, 0, 0,
                                              nullptr) == CE_None;
    }
    for (size_t i = 0; i < count; ++i) out[i] = ToDn(g[i]);
    ok = ok && b03->GetRasterBand(1)->RasterIO(GF_Write, 0, y0, size, rows, out.data(), size, rows, GDT_UInt16, 0, 0,
                                               nullptr) == CE_None;
    for (size_t i = 0; i < count; ++i) out[i] = ToDn(n[i]);
    ok = ok && b08->GetRasterBand(1)->RasterIO(GF_Write, 0, y0, size, rows, out.data(), size, rows, GDT_UInt16, 0, 0,
                                               nullptr) == CE_None;
    // SWIR per 10 m pixel, linear in the water fraction and the vegetation
    // of make_s2_like's mixing model: ~200 on water, 3100 on bare soil,
    // 1900 on dense vegetation; then the mean of each 2 x 2 block.
    const int rows20 = (rows + 1) / 2;
    swir.resize(static_cast<size_t>(rows20) * half);
    for (int y = 0; y < rows20; ++y) {
      for (int x = 0; x < half; ++x) {
        float sum = 0;
        int used = 0;
        for (int dy = 0; dy < 2; ++dy) {
          for (int dx = 0; dx < 2; ++dx) {
            const int yy = 2 * y + dy, xx = 2 * x + dx;
            if (yy >= rows || xx >= size) continue;
            const size_t i = static_cast<size_t>(yy) * size + xx;
            sum += 2.197f * r[i] + 0.4986f * n[i] - 973.0f;
            ++used;
          }
        }
        swir[static_cast<size_t>(y) * half + x] = ToDn(sum / static_cast<float>(used));
      }
    }
    ok = ok && b11->GetRasterBand(1)->RasterIO(GF_Write, 0, y0 / 2, half, rows20, swir.data(), half, rows20, GDT_UInt16,
                                               0, 0, nullptr) == CE_None;
    if (!ok || errors.failed()) {
      return absl::UnavailableError(absl::StrCat("deriving the bands of '", tif, "': ", errors.message()));
    }
  }
  return absl::OkStatus();
}

// Lossless JPEG 2000 of `band` (closed here) to `path`, through a hidden
// temporary name in the same folder.
absl::Status ToJp2(std::unique_ptr<GDALDataset> band, const std::string& path) {
  ScopedGdalErrors errors;
  GDALDriver* jp2 = GetGDALDriverManager()->GetDriverByName("JP2OpenJPEG");
  if (jp2 == nullptr) return absl::UnimplementedError("GDAL has no JP2OpenJPEG driver (libopenjp2)");
  const std::filesystem::path p(path);
  const std::string tmp = (p.parent_path() / absl::StrCat(".", p.filename().string(), ".tmp-", ::getpid())).string();
  CPLStringList o;
  o.SetNameValue("CODEC", "JP2");
  o.SetNameValue("REVERSIBLE", "YES");
  o.SetNameValue("QUALITY", "100");
  o.SetNameValue("NBITS", "15");
  o.SetNameValue("BLOCKXSIZE", "1024");
  o.SetNameValue("BLOCKYSIZE", "1024");
  o.SetNameValue("WRITE_METADATA", "YES");
  o.SetNameValue("MAIN_MD_DOMAIN_ONLY", "YES");
  o.SetNameValue("GMLJP2", "YES");
  std::unique_ptr<GDALDataset> out(jp2->CreateCopy(tmp.c_str(), band.get(), FALSE, o.List(), nullptr, nullptr));
  band.reset();
  const bool ok = out != nullptr && !errors.failed();
  out.reset();
  std::error_code ec;
  std::filesystem::remove(tmp + ".aux.xml", ec);
  if (!ok) {
    std::filesystem::remove(tmp, ec);
    return absl::UnavailableError(absl::StrCat("cannot write '", path, "': ", errors.message()));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return absl::UnavailableError(absl::StrCat("cannot rename into '", path, "': ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

S2L2aDate S2L2aLikeNames(const std::string& dir, int date) {
  S2L2aDate d;
  d.date = DateName(date);
  const std::string stem = (std::filesystem::path(dir) / absl::StrCat("T30TXN_", d.date, "T105619_")).string();
  d.b03 = stem + "B03_10m.jp2";
  d.b08 = stem + "B08_10m.jp2";
  d.b11 = stem + "B11_20m.jp2";
  return d;
}

absl::StatusOr<std::vector<S2L2aDate>> MakeS2L2aLike(const std::string& dir, int size, int dates, uint32_t seed) {
  if (size < 2 || dates < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("MakeS2L2aLike: size must be >= 2 and dates >= 1, got ", size, " and ", dates));
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create directory '", dir, "': ", ec.message()));
  GDALAllRegister();
  std::vector<S2L2aDate> all;
  std::vector<int> todo;
  for (int k = 1; k <= dates; ++k) {
    all.push_back(S2L2aLikeNames(dir, k));
    const S2L2aDate& d = all.back();
    if (!IsComplete(d.b03, Marker(size, k, seed, "B03")) || !IsComplete(d.b08, Marker(size, k, seed, "B08")) ||
        !IsComplete(d.b11, Marker(size, k, seed, "B11"))) {
      todo.push_back(k);
    }
  }
  if (todo.empty()) return all;
  const RemoveOnExit work{(std::filesystem::path(dir) / absl::StrCat(".s2_l2a_like-work-", ::getpid())).string()};
  absl::StatusOr<std::vector<std::string>> scenes = MakeS2Like(work.path, size, todo.back(), seed);
  if (!scenes.ok()) return scenes.status();
  for (int k : todo) {
    const S2L2aDate& d = all[k - 1];
    const std::string base = (std::filesystem::path(work.path) / "B").string();
    auto b03 = CreateBand(base + "03.tif", size, 10.0, "B03", Marker(size, k, seed, "B03"));
    auto b08 = CreateBand(base + "08.tif", size, 10.0, "B08", Marker(size, k, seed, "B08"));
    auto b11 = CreateBand(base + "11.tif", (size + 1) / 2, 20.0, "B11", Marker(size, k, seed, "B11"));
    for (const auto* b : {&b03, &b08, &b11}) {
      if (!b->ok()) return b->status();
    }
    if (absl::Status s = DeriveBands((*scenes)[k - 1], size, b03->get(), b08->get(), b11->get()); !s.ok()) return s;
    if (absl::Status s = ToJp2(*std::move(b03), d.b03); !s.ok()) return s;
    if (absl::Status s = ToJp2(*std::move(b08), d.b08); !s.ok()) return s;
    if (absl::Status s = ToJp2(*std::move(b11), d.b11); !s.ok()) return s;
  }
  return all;
}

}  // namespace eoscale::examples
