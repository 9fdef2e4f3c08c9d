// A VRT mosaic read from the files behind it (vrt_mosaic.h).
#include "eoscale/io/vrt_mosaic.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cpl_minixml.h"
#include "eoscale/core/pixel_type.h"
#include "eoscale/io/gdal_raster.h"
#include "eoscale/io/gdal_util.h"

namespace eoscale::io::internal {
namespace {

std::atomic<int64_t> g_mosaic_reads{0};

// One source of one band: the file, its band, where it is read and where it
// goes; a <ComplexSource>'s NODATA (gdalbuildvrt's, for files with a nodata
// value) when it has one.
struct Placed {
  std::string file;
  int band = 0;
  Window src, dst;
  std::optional<double> nodata;
};

struct XmlDeleter {
  void operator()(CPLXMLNode* n) const { CPLDestroyXMLNode(n); }
};

// A whole number written as a double ("10980", "10980.0"), or nullopt.
std::optional<int> WholeNumber(const char* s) {
  double v = 0;
  if (s == nullptr || !absl::SimpleAtod(s, &v) || !(std::fabs(v) < (1 << 30)) || v != std::floor(v)) {
    return std::nullopt;
  }
  return static_cast<int>(v);
}

std::optional<Window> RectOf(const CPLXMLNode* source, const char* name) {
  const CPLXMLNode* r = CPLGetXMLNode(source, name);
  if (r == nullptr) return std::nullopt;
  const std::optional<int> x = WholeNumber(CPLGetXMLValue(r, "xOff", nullptr));
  const std::optional<int> y = WholeNumber(CPLGetXMLValue(r, "yOff", nullptr));
  const std::optional<int> w = WholeNumber(CPLGetXMLValue(r, "xSize", nullptr));
  const std::optional<int> h = WholeNumber(CPLGetXMLValue(r, "ySize", nullptr));
  if (!x || !y || !w || !h || *w <= 0 || *h <= 0) return std::nullopt;
  return Window{*x, *y, *w, *h};
}

// What a band's element may hold besides its sources and still read as the
// sources' pixels (descriptions, colours, statistics, overviews: none
// changes a full-resolution read).
bool Harmless(const char* name) {
  for (const char* ok : {"NoDataValue", "ColorInterp", "Description", "UnitType", "Offset", "Scale", "Metadata",
                         "CategoryNames", "ColorTable", "Histograms", "Overview"}) {
    if (std::strcmp(name, ok) == 0) return true;
  }
  return false;
}

// The sources of VRT band `band` of `vrt` (its <VRTDataset> element), in
// order, or nullopt when the band is not a plain mosaic of SimpleSources.
std::optional<std::vector<Placed>> SourcesOf(const CPLXMLNode* vrt, int band, const std::string& folder) {
  for (const CPLXMLNode* b = vrt->psChild; b != nullptr; b = b->psNext) {
    if (b->eType != CXT_Element || std::strcmp(b->pszValue, "VRTRasterBand") != 0) continue;
    const std::optional<int> number = WholeNumber(CPLGetXMLValue(b, "band", nullptr));
    if (!number || *number != band) continue;
    if (CPLGetXMLValue(b, "subClass", nullptr) != nullptr) return std::nullopt;  // derived, warped...
    std::vector<Placed> sources;
    for (const CPLXMLNode* c = b->psChild; c != nullptr; c = c->psNext) {
      if (c->eType != CXT_Element) continue;
      const bool simple = std::strcmp(c->pszValue, "SimpleSource") == 0;
      if (!simple && std::strcmp(c->pszValue, "ComplexSource") != 0) {
        if (Harmless(c->pszValue)) continue;
        return std::nullopt;  // KernelFilteredSource, HideNoDataValue, a mask...
      }
      Placed p;
      // A ComplexSource is taken only as gdalbuildvrt writes it for a file
      // with a nodata value: its NODATA and nothing else (no scaling, LUT,
      // mask band, colour component).
      for (const CPLXMLNode* e = c->psChild; e != nullptr; e = e->psNext) {
        if (e->eType == CXT_Attribute && std::strcmp(e->pszValue, "resampling") != 0) return std::nullopt;
        if (e->eType != CXT_Element) continue;
        bool known = false;
        for (const char* ok : {"SourceFilename", "SourceBand", "SourceProperties", "SrcRect", "DstRect"}) {
          known = known || std::strcmp(e->pszValue, ok) == 0;
        }
        if (!simple && std::strcmp(e->pszValue, "NODATA") == 0) {
          double v = 0;
          const char* text = CPLGetXMLValue(e, nullptr, nullptr);
          if (text == nullptr || !absl::SimpleAtod(text, &v)) return std::nullopt;
          p.nodata = v;
          known = true;
        }
        if (!known) return std::nullopt;
      }
      const char* name = CPLGetXMLValue(c, "SourceFilename", nullptr);
      if (name == nullptr || *name == '\0') return std::nullopt;
      const bool relative = std::strcmp(CPLGetXMLValue(c, "SourceFilename.relativeToVRT", "0"), "1") == 0;
      p.file = relative && name[0] != '/' ? absl::StrCat(folder, "/", name) : std::string(name);
      const std::optional<int> sb = WholeNumber(CPLGetXMLValue(c, "SourceBand", "1"));  // "mask,1": nullopt
      std::optional<Window> src = RectOf(c, "SrcRect"), dst = RectOf(c, "DstRect");
      if (!sb || *sb < 1 || !src || !dst || src->width != dst->width || src->height != dst->height) {
        return std::nullopt;  // a mask, or a resampled source
      }
      p.band = *sb;
      p.src = *src;
      p.dst = *dst;
      sources.push_back(std::move(p));
    }
    return sources;
  }
  return std::nullopt;
}

// True when `v` converts to T and back unchanged (NaN for floating types).
bool HeldExactly(PixelType type, double v) {
  return DispatchPixelType(type, [&]<typename T>() {
    if constexpr (std::numeric_limits<T>::is_integer) {
      return v >= static_cast<double>(std::numeric_limits<T>::lowest()) &&
             v <= static_cast<double>(std::numeric_limits<T>::max()) && static_cast<double>(static_cast<T>(v)) == v;
    } else {
      return std::isnan(v) || static_cast<double>(static_cast<T>(v)) == v;
    }
  });
}

Window Intersect(const Window& a, const Window& b) {
  const int x0 = std::max(a.x, b.x), y0 = std::max(a.y, b.y);
  const int x1 = std::min(a.x + a.width, b.x + b.width), y1 = std::min(a.y + a.height, b.y + b.height);
  return Window{x0, y0, std::max(0, x1 - x0), std::max(0, y1 - y0)};
}

// A ComplexSource leaves its file's nodata pixels unwritten, so they keep
// what was below: the band's nodata value where no other source lies
// there. Copying them instead gives the same bytes when the two values are
// one (floating types: not NaN, whose payloads may differ, nor 0, which
// -0.0 equals) and the pixel type survives GDAL's float32 working copy of
// a ComplexSource exactly (16 bits at most, or float32).
bool NodataSourcesReadAsCopies(const std::vector<Placed>& sources, const Profile& profile) {
  bool any = false;
  for (const Placed& s : sources) any = any || s.nodata.has_value();
  if (!any) return true;
  const PixelType t = profile.type;
  if (t == PixelType::kU32 || t == PixelType::kI32 || t == PixelType::kF64 || !profile.nodata) return false;
  const double v = *profile.nodata;
  if ((t == PixelType::kF32) && (std::isnan(v) || v == 0)) return false;
  for (size_t i = 0; i < sources.size(); ++i) {
    if (!sources[i].nodata) continue;
    if (*sources[i].nodata != v) return false;
    for (size_t j = 0; j < sources.size(); ++j) {
      if (j != i && !Intersect(sources[i].dst, sources[j].dst).Empty()) return false;  // it would show what is below
    }
  }
  return true;
}

class VrtMosaic final : public RasterSource {
 public:
  struct Part {
    std::unique_ptr<RasterSource> source;  // the file, on the bands the selected VRT bands read
    Window src, dst;
  };

  VrtMosaic(std::string path, Profile profile, int bw, int bh, FileState state, std::vector<Part> parts)
      : path_(std::move(path)), profile_(std::move(profile)), block_w_(bw), block_h_(bh), state_(state),
        parts_(std::move(parts)) {
    fill_ = profile_.nodata.value_or(0.0);
    // Each file's blocks start where its first whole block column lands;
    // and, for a file whose blocks are decoded whole, its first whole row.
    for (const Part& p : parts_) {
      const int cbw = std::max(p.source->block_width(), 1);
      const int x = p.dst.x + (cbw - p.src.x % cbw) % cbw;
      if (x > 0 && x < profile_.width) seams_.push_back(x);
      if (!p.source->decodes_whole_blocks()) continue;
      decodes_ = true;
      const int cbh = std::max(p.source->block_height(), 1);
      const int y = p.dst.y + (cbh - p.src.y % cbh) % cbh;
      if (y > 0 && y < profile_.height) row_seams_.push_back(y);
    }
    for (std::vector<int>* v : {&seams_, &row_seams_}) {
      std::sort(v->begin(), v->end());
      v->erase(std::unique(v->begin(), v->end()), v->end());
    }
  }

  const Profile& profile() const override { return profile_; }
  int block_width() const override { return block_w_; }
  int block_height() const override { return block_h_; }
  std::vector<int> column_seams() const override { return seams_; }
  std::vector<int> row_seams() const override { return row_seams_; }
  bool decodes_whole_blocks() const override { return decodes_; }
  const std::string& description() const override { return path_; }

  std::vector<std::string> files() const override {
    std::vector<std::string> all = {path_};
    for (const Part& p : parts_) {
      for (std::string& f : p.source->files()) all.push_back(std::move(f));
    }
    return all;
  }

  absl::Status CheckUnchanged() override {
    std::vector<std::string> changed;
    if (std::string what = DescribeChange(state_, StatFile(path_)); !what.empty()) {
      changed.push_back(absl::StrCat("'", path_, "' changed during the run (", what, ")"));
    }
    for (Part& p : parts_) {
      if (absl::Status s = p.source->CheckUnchanged(); !s.ok()) changed.push_back(std::string(s.message()));
    }
    if (changed.empty()) return absl::OkStatus();
    return absl::DataLossError(absl::StrJoin(changed, "; "));
  }

  absl::Status Read(const View& dst) override {
    const Window& w = dst.window();
    bool covered = false;
    for (const Part& p : parts_) covered = covered || p.dst.Contains(w);
    if (!covered) {
      DispatchPixelType(profile_.type, [&]<typename T>() { dst.As<T>().Fill(static_cast<T>(fill_)); });
    }
    for (const Part& p : parts_) {
      const Window in = Intersect(w, p.dst);
      if (in.Empty()) continue;
      const View part = dst.Sub(in);
      const Window at{in.x - p.dst.x + p.src.x, in.y - p.dst.y + p.src.y, in.width, in.height};
      const View there(part.RowPtr(0, 0), profile_.type, part.bands(), at, part.row_stride(), part.band_stride());
      if (absl::Status s = p.source->Read(there); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("'", path_, "' at ", DescribeWindow(in), ": ", s.message()));
      }
    }
    g_mosaic_reads.fetch_add(1, std::memory_order_relaxed);
    return absl::OkStatus();
  }

 private:
  const std::string path_;
  const Profile profile_;
  const int block_w_, block_h_;
  const FileState state_;
  std::vector<Part> parts_;
  std::vector<int> seams_;
  std::vector<int> row_seams_;
  bool decodes_ = false;
  double fill_ = 0;
};

// The files of a mosaic that are VRTs are read through GDAL: a VRT whose
// sources name itself, or each other, cannot make opening recurse.
thread_local int t_depth = 0;

}  // namespace

int64_t VrtMosaicReads() { return g_mosaic_reads.load(std::memory_order_relaxed); }

absl::StatusOr<std::unique_ptr<RasterSource>> OpenVrtMosaic(GDALDatasetH h, const std::string& path, const std::vector<int>& bands,
                                            const Profile& profile, int bw, int bh, const FileState& state) {
  GDALDriverH driver = GDALGetDatasetDriver(h);
  if (driver == nullptr || std::strcmp(GDALGetDriverShortName(driver), "VRT") != 0 || bands.empty()) return nullptr;
  if (state.vsi || !S_ISREG(state.mode) || t_depth > 0) return nullptr;
  if (profile.nodata && !HeldExactly(profile.type, *profile.nodata)) return nullptr;
  for (int b : bands) {  // what fills the gaps: one value for every band
    int has = 0;
    const double v = GDALGetRasterNoDataValue(GDALGetRasterBand(h, b), &has);
    const bool same = profile.nodata ? has && (v == *profile.nodata || (std::isnan(v) && std::isnan(*profile.nodata)))
                                     : !has;
    if (!same) return nullptr;
  }
  char** xml = GDALGetMetadata(h, "xml:VRT");
  if (xml == nullptr || xml[0] == nullptr) return nullptr;
  std::unique_ptr<CPLXMLNode, XmlDeleter> root(CPLParseXMLString(xml[0]));
  const CPLXMLNode* vrt = root ? CPLGetXMLNode(root.get(), "=VRTDataset") : nullptr;
  if (vrt == nullptr || CPLGetXMLValue(vrt, "subClass", nullptr) != nullptr) return nullptr;  // warped VRT
  const std::string folder = Dirname(path);

  // Every selected band must place the same files at the same places.
  std::vector<std::vector<Placed>> per_band;
  for (int b : bands) {
    std::optional<std::vector<Placed>> s = SourcesOf(vrt, b, folder);
    if (!s || s->empty() || s->size() > kMaxMosaicSources || !NodataSourcesReadAsCopies(*s, profile)) return nullptr;
    if (!per_band.empty()) {
      const std::vector<Placed>& first = per_band[0];
      if (s->size() != first.size()) return nullptr;
      for (size_t k = 0; k < s->size(); ++k) {
        if ((*s)[k].file != first[k].file || (*s)[k].src != first[k].src || (*s)[k].dst != first[k].dst) {
          return nullptr;
        }
      }
    }
    per_band.push_back(*std::move(s));
  }
  const Window image{0, 0, profile.width, profile.height};
  std::vector<VrtMosaic::Part> parts;
  ++t_depth;
  for (size_t k = 0; k < per_band[0].size(); ++k) {
    std::vector<int> file_bands;
    for (const std::vector<Placed>& s : per_band) file_bands.push_back(s[k].band);
    const Placed& p = per_band[0][k];
    absl::StatusOr<std::unique_ptr<RasterSource>> src = OpenRaster(p.file, file_bands);
    if (!src.ok()) {
      const absl::StatusCode code = src.status().code();
      if (code == absl::StatusCode::kNotFound || code == absl::StatusCode::kPermissionDenied ||
          code == absl::StatusCode::kResourceExhausted) {
        --t_depth;
        return absl::Status(code, absl::StrCat("'", path, "': ", src.status().message()));
      }
      break;  // GDAL then reads the VRT, and says what is wrong
    }
    const Profile& fp = (*src)->profile();
    if (fp.type != profile.type || !Window{0, 0, fp.width, fp.height}.Contains(p.src) || !image.Contains(p.dst)) {
      break;
    }
    parts.push_back({*std::move(src), p.src, p.dst});
  }
  --t_depth;
  if (parts.size() != per_band[0].size()) return nullptr;
  return std::make_unique<VrtMosaic>(path, profile, bw, bh, state, std::move(parts));
}

}  // namespace eoscale::io::internal
