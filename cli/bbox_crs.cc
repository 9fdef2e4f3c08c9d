#include "bbox_crs.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cpl_error.h"
#include "ogr_srs_api.h"

namespace eoscale::cli {

namespace {

// An OGRSpatialReferenceH from user input, released on scope exit.
// GDAL's messages are dropped: the caller reports the failure.
struct Srs {
  OGRSpatialReferenceH h = OSRNewSpatialReference(nullptr);
  Srs() { CPLPushErrorHandler(CPLQuietErrorHandler); }
  ~Srs() {
    OSRDestroySpatialReference(h);
    CPLPopErrorHandler();
  }
  bool Set(const std::string& s) {
    if (OSRSetFromUserInput(h, s.c_str()) != OGRERR_NONE) return false;
    OSRSetAxisMappingStrategy(h, OAMS_TRADITIONAL_GIS_ORDER);
    return true;
  }
};

}  // namespace

absl::Status CheckCrs(const std::string& crs) {
  Srs s;
  if (!s.Set(crs)) return absl::InvalidArgumentError(absl::StrCat("unknown CRS '", crs, "'"));
  return absl::OkStatus();
}

absl::StatusOr<std::array<double, 4>> TransformBox(const std::array<double, 4>& box, const std::string& from,
                                                   const std::string& to_wkt) {
  Srs src, dst;
  if (!src.Set(from)) return absl::InvalidArgumentError(absl::StrCat("unknown CRS '", from, "'"));
  if (to_wkt.empty() || !dst.Set(to_wkt)) return absl::InvalidArgumentError("the image has no CRS");
  OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(src.h, dst.h);
  if (ct == nullptr) return absl::InvalidArgumentError(absl::StrCat("no transformation from '", from, "'"));
  constexpr int kSteps = 20;
  std::vector<double> xs, ys;
  for (int i = 0; i <= kSteps; ++i) {
    const double fx = box[0] + (box[2] - box[0]) * i / kSteps;
    const double fy = box[1] + (box[3] - box[1]) * i / kSteps;
    xs.insert(xs.end(), {fx, fx, box[0], box[2]});
    ys.insert(ys.end(), {box[1], box[3], fy, fy});
  }
  std::vector<int> ok(xs.size(), 0);
  OCTTransformEx(ct, static_cast<int>(xs.size()), xs.data(), ys.data(), nullptr, ok.data());
  OCTDestroyCoordinateTransformation(ct);
  std::array<double, 4> out = {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};
  int n = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!ok[i]) continue;
    ++n;
    out[0] = std::min(out[0], xs[i]);
    out[1] = std::min(out[1], ys[i]);
    out[2] = std::max(out[2], xs[i]);
    out[3] = std::max(out[3], ys[i]);
  }
  if (n == 0) return absl::InvalidArgumentError(absl::StrCat("the box cannot be transformed from '", from, "'"));
  return out;
}

}  // namespace eoscale::cli
